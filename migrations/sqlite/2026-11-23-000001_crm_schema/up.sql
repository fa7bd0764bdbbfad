-- The multi-tenant CRM schema: every CRM table is keyed by (workspace_id, key).

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE companies (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    company_id INTEGER NOT NULL,
    name TEXT,
    type_id TEXT,
    account_manager_id TEXT,
    source TEXT,
    alternate_reference TEXT,
    long_description TEXT,
    first_order TEXT,
    lapsed TEXT,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    status_flag TEXT NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, company_id)
) WITHOUT ROWID;

CREATE TABLE divisions (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    division_id INTEGER NOT NULL,
    company_id INTEGER NOT NULL,
    operating_company_code TEXT,
    name TEXT,
    address_id INTEGER,
    sales_ledger_id TEXT,
    phone_number TEXT,
    website TEXT,
    employees INTEGER,
    account_manager TEXT,
    territory_code TEXT,
    currency_code TEXT,
    is_b2c INTEGER,
    is_distributor INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    status_flag TEXT NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, division_id)
) WITHOUT ROWID;

CREATE TABLE contacts (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    contact_id INTEGER NOT NULL,
    division_id INTEGER NOT NULL,
    address_id INTEGER,
    title TEXT,
    forename TEXT,
    surname TEXT,
    preferred_name TEXT,
    salutation TEXT,
    job_title TEXT,
    department TEXT,
    phone_number TEXT,
    mobile_phone_number TEXT,
    email TEXT,
    email_bounced INTEGER,
    opt_in INTEGER,
    source TEXT,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    status_flag TEXT NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, contact_id)
) WITHOUT ROWID;

CREATE TABLE leads (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    lead_id INTEGER NOT NULL,
    contact_id INTEGER,
    division_id INTEGER NOT NULL,
    status_id TEXT,
    size_id TEXT,
    type_id TEXT,
    pipeline_id TEXT,
    source_id TEXT,
    sales_person_id TEXT,
    owner_id TEXT,
    description TEXT,
    situation_summary TEXT,
    guttometer INTEGER,
    value NUMERIC,
    estimated_close TEXT,
    close_date TEXT,
    status_changed TEXT,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    status_flag TEXT NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, lead_id)
) WITHOUT ROWID;

CREATE TABLE lead_statuses (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    code TEXT NOT NULL,
    description TEXT,
    sequence INTEGER,
    obsolete INTEGER,
    dead_flag INTEGER,
    outcome INTEGER,
    guttometer INTEGER,
    recall_required INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, code)
) WITHOUT ROWID;

CREATE TABLE lead_sizes (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    code TEXT NOT NULL,
    description TEXT,
    sequence INTEGER,
    obsolete INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, code)
) WITHOUT ROWID;

CREATE TABLE lead_sources (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    code TEXT NOT NULL,
    description TEXT,
    sequence INTEGER,
    obsolete INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, code)
) WITHOUT ROWID;

CREATE TABLE lead_types (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    code TEXT NOT NULL,
    description TEXT,
    sequence INTEGER,
    obsolete INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, code)
) WITHOUT ROWID;

CREATE TABLE lead_pipelines (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    code TEXT NOT NULL,
    description TEXT,
    sequence INTEGER,
    obsolete INTEGER,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, code)
) WITHOUT ROWID;

CREATE TABLE crm_users (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    user_code TEXT NOT NULL,
    user_name TEXT,
    email_address TEXT,
    obsolete INTEGER,
    role TEXT NOT NULL DEFAULT 'read' CHECK (role IN ('read','write','admin')),
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, user_code)
) WITHOUT ROWID;

CREATE TABLE addresses (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    address_id INTEGER NOT NULL,
    address_line1 TEXT,
    address_line2 TEXT,
    address_line3 TEXT,
    town TEXT,
    county TEXT,
    postcode TEXT,
    country_code TEXT,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by_user_id TEXT,
    last_updated_by_user_id TEXT,
    PRIMARY KEY (workspace_id, address_id)
) WITHOUT ROWID;

CREATE INDEX divisions_company_id_idx ON divisions (workspace_id, company_id, division_id);

CREATE INDEX divisions_address_id_idx ON divisions (workspace_id, address_id);

CREATE INDEX contacts_division_id_idx ON contacts (workspace_id, division_id, contact_id);

CREATE INDEX contacts_surname_idx ON contacts (workspace_id, surname, created);

CREATE INDEX contacts_created_idx ON contacts (workspace_id, created);

CREATE INDEX contacts_email_idx ON contacts (workspace_id, email);

CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id);

CREATE INDEX leads_division_id_idx ON leads (workspace_id, division_id, lead_id);

CREATE INDEX leads_status_id_idx ON leads (workspace_id, status_id, lead_id);

CREATE INDEX leads_value_idx ON leads (workspace_id, value);

CREATE INDEX leads_created_idx ON leads (workspace_id, created);

CREATE INDEX companies_name_idx ON companies (workspace_id, name);

CREATE INDEX divisions_name_idx ON divisions (workspace_id, name);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    user_code TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    revoked TEXT,
    FOREIGN KEY (workspace_id, user_code) REFERENCES crm_users (workspace_id, user_code)
);
