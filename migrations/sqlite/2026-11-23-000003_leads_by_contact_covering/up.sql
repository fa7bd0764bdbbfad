-- A contact's leads are the most common expansion (the guide's long query lists them with
-- their flag, status, date and description). The index that finds them carries those
-- columns, so such an expand reads each lead from the index without a lookup in the table.
DROP INDEX leads_contact_id_idx;
CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id, status_flag, status_id, created, description);
DELETE FROM sqlite_stat1 WHERE idx = 'leads_contact_id_idx';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('leads', 'leads_contact_id_idx', '2000000 200000 3 1 1 1 1 1');
