ALTER TABLE tokens ALTER COLUMN token_hash TYPE char(64);
