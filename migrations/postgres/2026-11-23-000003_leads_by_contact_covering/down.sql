DROP INDEX leads_contact_id_idx;
CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id);
