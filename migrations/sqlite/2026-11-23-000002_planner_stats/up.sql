-- Planner statistics for a typical multi-tenant database: many rows per workspace, so
-- `workspace_id = ?` alone is not selective and foreign-key indexes win for expands.
-- Without them SQLite assumes every equality is selective and, for a clustered
-- (WITHOUT ROWID) table, prefers scanning the workspace's whole key range. A later
-- ANALYZE replaces these with measured figures.
ANALYZE;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('companies', 'companies', '40000 4000 1'),
    ('companies', 'companies_name_idx', '40000 4000 1'),
    ('divisions', 'divisions', '100000 10000 1'),
    ('divisions', 'divisions_company_id_idx', '100000 10000 3 1'),
    ('divisions', 'divisions_address_id_idx', '100000 10000 1'),
    ('divisions', 'divisions_name_idx', '100000 10000 2'),
    ('contacts', 'contacts', '1000000 100000 1'),
    ('contacts', 'contacts_division_id_idx', '1000000 100000 10 1'),
    ('contacts', 'contacts_surname_idx', '1000000 100000 200 1'),
    ('contacts', 'contacts_created_idx', '1000000 100000 1'),
    ('contacts', 'contacts_email_idx', '1000000 100000 1'),
    ('leads', 'leads', '2000000 200000 1'),
    ('leads', 'leads_contact_id_idx', '2000000 200000 3 1'),
    ('leads', 'leads_division_id_idx', '2000000 200000 20 1'),
    ('leads', 'leads_status_id_idx', '2000000 200000 25000 1'),
    ('leads', 'leads_value_idx', '2000000 200000 1'),
    ('leads', 'leads_created_idx', '2000000 200000 1'),
    ('lead_statuses', 'lead_statuses', '100 10 1'),
    ('lead_sizes', 'lead_sizes', '100 10 1'),
    ('lead_sources', 'lead_sources', '100 10 1'),
    ('lead_types', 'lead_types', '100 10 1'),
    ('lead_pipelines', 'lead_pipelines', '100 10 1'),
    ('crm_users', 'crm_users', '200 20 1'),
    ('addresses', 'addresses', '100000 10000 1');
