DROP INDEX contacts_email_trigram;
