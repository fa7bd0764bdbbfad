DROP INDEX leads_pipeline_id_idx;
DROP INDEX leads_source_id_idx;
DROP INDEX leads_size_id_idx;
DROP INDEX leads_type_id_idx;
DROP INDEX leads_owner_id_idx;
DROP INDEX leads_sales_person_id_idx;
