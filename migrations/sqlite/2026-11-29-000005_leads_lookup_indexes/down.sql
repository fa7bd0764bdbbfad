DROP INDEX leads_pipeline_id_idx;
DROP INDEX leads_source_id_idx;
DROP INDEX leads_size_id_idx;
DROP INDEX leads_type_id_idx;
DROP INDEX leads_owner_id_idx;
DROP INDEX leads_sales_person_id_idx;
DELETE FROM sqlite_stat1 WHERE idx IN ('leads_pipeline_id_idx', 'leads_source_id_idx',
    'leads_size_id_idx', 'leads_type_id_idx', 'leads_owner_id_idx', 'leads_sales_person_id_idx');
