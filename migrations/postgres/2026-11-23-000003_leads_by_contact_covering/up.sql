-- A contact's leads are the most common expansion (the guide's long query lists them with
-- their flag, status, date and description). The index that finds them carries those
-- columns, so such an expand can read each lead from the index alone.
DROP INDEX leads_contact_id_idx;
CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id) INCLUDE (status_flag, status_id, created, description);
