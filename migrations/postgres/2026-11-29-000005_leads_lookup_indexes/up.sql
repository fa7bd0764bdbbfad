-- A lead's lookups (pipeline, source, size, type, owner, sales person) are navigable both
-- ways: `LeadPipelines('DIRECT')/Leads`, `$expand=Leads` on a lookup, or a filter on one of
-- them. Without these indexes each such read scanned the workspace's leads.
CREATE INDEX leads_pipeline_id_idx ON leads (workspace_id, pipeline_id, lead_id);
CREATE INDEX leads_source_id_idx ON leads (workspace_id, source_id, lead_id);
CREATE INDEX leads_size_id_idx ON leads (workspace_id, size_id, lead_id);
CREATE INDEX leads_type_id_idx ON leads (workspace_id, type_id, lead_id);
CREATE INDEX leads_owner_id_idx ON leads (workspace_id, owner_id, lead_id);
CREATE INDEX leads_sales_person_id_idx ON leads (workspace_id, sales_person_id, lead_id);
