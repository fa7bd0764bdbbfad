DROP INDEX contacts_surname_idx;
CREATE INDEX contacts_surname_idx ON contacts (workspace_id, surname, created);
