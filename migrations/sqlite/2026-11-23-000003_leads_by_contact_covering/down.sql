DROP INDEX leads_contact_id_idx;
CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id);
DELETE FROM sqlite_stat1 WHERE idx = 'leads_contact_id_idx';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('leads', 'leads_contact_id_idx', '2000000 200000 3 1');
