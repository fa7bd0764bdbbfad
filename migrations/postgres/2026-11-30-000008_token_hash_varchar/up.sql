-- A char(64) column compared with a text value is cast to text first, and then its index
-- cannot serve the comparison: every request's token check read the whole table. A
-- varchar compares as text as it is. Hashes are always 64 hex digits, so no value changes.
ALTER TABLE tokens ALTER COLUMN token_hash TYPE varchar(64);
