-- A lead's lookups (pipeline, source, size, type, owner, sales person) are navigable both
-- ways: `LeadPipelines('DIRECT')/Leads`, `$expand=Leads` on a lookup, or a filter on one of
-- them. Without these indexes each such read scanned the workspace's leads.
CREATE INDEX leads_pipeline_id_idx ON leads (workspace_id, pipeline_id, lead_id);
CREATE INDEX leads_source_id_idx ON leads (workspace_id, source_id, lead_id);
CREATE INDEX leads_size_id_idx ON leads (workspace_id, size_id, lead_id);
CREATE INDEX leads_type_id_idx ON leads (workspace_id, type_id, lead_id);
CREATE INDEX leads_owner_id_idx ON leads (workspace_id, owner_id, lead_id);
CREATE INDEX leads_sales_person_id_idx ON leads (workspace_id, sales_person_id, lead_id);
-- Planner statistics in the form of 2026-11-23-000002: a lookup has few values per
-- workspace, so each of its values holds many leads (as lead_statuses' does).
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('leads', 'leads_pipeline_id_idx', '2000000 200000 25000 1'),
    ('leads', 'leads_source_id_idx', '2000000 200000 25000 1'),
    ('leads', 'leads_size_id_idx', '2000000 200000 25000 1'),
    ('leads', 'leads_type_id_idx', '2000000 200000 25000 1'),
    ('leads', 'leads_owner_id_idx', '2000000 200000 20000 1'),
    ('leads', 'leads_sales_person_id_idx', '2000000 200000 20000 1');
