-- OData's division (URL conventions 5.1.1.2) with the results SQLite's functions give
-- (src/db/double.rs, src/db/decimal.rs). A zero divisor fails the statement ("division
-- by zero", a 400) except where OData gives INF, -INF or NaN.

-- A Double divided by zero is the dividend times infinity: INF, -INF, or NaN for zero.
CREATE FUNCTION crm_double_div(a double precision, b double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN b = 0 THEN a * 'Infinity'::double precision ELSE a / b END
$$;

-- A quotient of decimals to 15 significant digits, the most a double (SQLite's decimal)
-- holds exactly, so both databases write the same number. It is computed to at least 28
-- decimal places first, as SQLite's is. The weight comes from a double's logarithm
-- (numeric's is slow); only a quotient within 1e-15 of a power of ten can get a digit
-- more or less from it, and rounds to that power of ten either way.
CREATE FUNCTION crm_decimal_div(a numeric, b numeric)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    q numeric := (a + 0.0000000000000000000000000000) / b;
BEGIN
    IF q = 0 OR q IN ('NaN', 'Infinity', '-Infinity') THEN
        RETURN q;
    END IF;
    RETURN round(q, 14 - CAST(floor(log(abs(CAST(q AS double precision)))) AS integer));
END $$;

-- divby never fails: a zero divisor gives the dividend times infinity.
CREATE FUNCTION crm_divby(a numeric, b numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN b = 0 THEN a * 'Infinity'::numeric ELSE crm_decimal_div(a, b) END
$$;
