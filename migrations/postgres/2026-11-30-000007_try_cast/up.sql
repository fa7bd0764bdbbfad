-- OData's cast of a string to a date or an instant is null when the string holds none
-- (2024-02-30), where PostgreSQL's own cast raises an error. The session's time zone is
-- UTC, so a string without an offset is read as UTC, as OData says.
CREATE FUNCTION crm_try_timestamptz(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

CREATE FUNCTION crm_try_date(t text) RETURNS date LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
