DROP FUNCTION crm_try_timestamptz(text);
DROP FUNCTION crm_try_date(text);
