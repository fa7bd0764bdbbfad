-- contains(Email, '...') is the guide's way to find a company's contacts by domain, and no
-- B-tree can answer a substring: every contact of the workspace would be read. A trigram
-- index can: it lists the contacts whose email holds every three-character piece of the
-- value, in order, and the exact comparison then runs on those few rows only.
-- Contentless (it stores no text, only the index), case-sensitive like OData's contains.
-- A row's id packs its key: workspace_id * 2^32 + contact_id + 2^31.
CREATE VIRTUAL TABLE contacts_email_trigram USING fts5(
    email, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
);
INSERT INTO contacts_email_trigram (rowid, email)
    SELECT workspace_id * 4294967296 + contact_id + 2147483648, email
    FROM contacts WHERE email IS NOT NULL;
CREATE TRIGGER contacts_email_trigram_insert AFTER INSERT ON contacts
WHEN new.email IS NOT NULL BEGIN
    INSERT INTO contacts_email_trigram (rowid, email)
        VALUES (new.workspace_id * 4294967296 + new.contact_id + 2147483648, new.email);
END;
CREATE TRIGGER contacts_email_trigram_delete AFTER DELETE ON contacts
WHEN old.email IS NOT NULL BEGIN
    DELETE FROM contacts_email_trigram
        WHERE rowid = old.workspace_id * 4294967296 + old.contact_id + 2147483648;
END;
CREATE TRIGGER contacts_email_trigram_update AFTER UPDATE OF workspace_id, contact_id, email ON contacts
BEGIN
    DELETE FROM contacts_email_trigram
        WHERE rowid = old.workspace_id * 4294967296 + old.contact_id + 2147483648;
    INSERT INTO contacts_email_trigram (rowid, email)
        SELECT new.workspace_id * 4294967296 + new.contact_id + 2147483648, new.email
        WHERE new.email IS NOT NULL;
END;
