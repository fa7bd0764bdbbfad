DROP FUNCTION crm_divby(numeric, numeric);
DROP FUNCTION crm_decimal_div(numeric, numeric);
DROP FUNCTION crm_double_div(double precision, double precision);
