-- The multi-tenant CRM schema: every CRM table is keyed by (workspace_id, key).

CREATE TABLE workspaces (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    created timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE companies (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    company_id integer NOT NULL,
    name varchar(250) COLLATE "C",
    type_id varchar(20) COLLATE "C",
    account_manager_id varchar(3) COLLATE "C",
    source varchar(50) COLLATE "C",
    alternate_reference varchar(100) COLLATE "C",
    long_description varchar(5000) COLLATE "C",
    first_order timestamptz,
    lapsed timestamptz,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    status_flag varchar(1) COLLATE "C" NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, company_id)
);

CREATE TABLE divisions (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    division_id integer NOT NULL,
    company_id integer NOT NULL,
    operating_company_code varchar(1) COLLATE "C",
    name varchar(250) COLLATE "C",
    address_id integer,
    sales_ledger_id varchar(100) COLLATE "C",
    phone_number varchar(50) COLLATE "C",
    website varchar(250) COLLATE "C",
    employees integer,
    account_manager varchar(3) COLLATE "C",
    territory_code varchar(50) COLLATE "C",
    currency_code varchar(10) COLLATE "C",
    is_b2c smallint,
    is_distributor boolean,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    status_flag varchar(1) COLLATE "C" NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, division_id)
);

CREATE TABLE contacts (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    contact_id integer NOT NULL,
    division_id integer NOT NULL,
    address_id integer,
    title varchar(20) COLLATE "C",
    forename varchar(100) COLLATE "C",
    surname varchar(100) COLLATE "C",
    preferred_name varchar(100) COLLATE "C",
    salutation varchar(250) COLLATE "C",
    job_title varchar(250) COLLATE "C",
    department varchar(250) COLLATE "C",
    phone_number varchar(50) COLLATE "C",
    mobile_phone_number varchar(50) COLLATE "C",
    email varchar(254) COLLATE "C",
    email_bounced smallint,
    opt_in smallint,
    source varchar(50) COLLATE "C",
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    status_flag varchar(1) COLLATE "C" NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, contact_id)
);

CREATE TABLE leads (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    lead_id integer NOT NULL,
    contact_id integer,
    division_id integer NOT NULL,
    status_id varchar(6) COLLATE "C",
    size_id varchar(6) COLLATE "C",
    type_id varchar(6) COLLATE "C",
    pipeline_id varchar(6) COLLATE "C",
    source_id varchar(6) COLLATE "C",
    sales_person_id varchar(3) COLLATE "C",
    owner_id varchar(3) COLLATE "C",
    description varchar(250) COLLATE "C",
    situation_summary text COLLATE "C",
    guttometer integer,
    value numeric(30,6),
    estimated_close timestamptz,
    close_date timestamptz,
    status_changed timestamptz,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    status_flag varchar(1) COLLATE "C" NOT NULL DEFAULT 'A' CHECK (status_flag IN ('A','D')),
    PRIMARY KEY (workspace_id, lead_id)
);

CREATE TABLE lead_statuses (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    code varchar(6) COLLATE "C" NOT NULL,
    description varchar(100) COLLATE "C",
    sequence integer,
    obsolete smallint,
    dead_flag smallint,
    outcome integer,
    guttometer integer,
    recall_required smallint,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE lead_sizes (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    code varchar(6) COLLATE "C" NOT NULL,
    description varchar(100) COLLATE "C",
    sequence integer,
    obsolete smallint,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE lead_sources (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    code varchar(6) COLLATE "C" NOT NULL,
    description varchar(100) COLLATE "C",
    sequence integer,
    obsolete smallint,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE lead_types (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    code varchar(6) COLLATE "C" NOT NULL,
    description varchar(100) COLLATE "C",
    sequence integer,
    obsolete smallint,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE lead_pipelines (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    code varchar(6) COLLATE "C" NOT NULL,
    description varchar(100) COLLATE "C",
    sequence integer,
    obsolete smallint,
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE crm_users (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    user_code varchar(3) COLLATE "C" NOT NULL,
    user_name varchar(100) COLLATE "C",
    email_address varchar(254) COLLATE "C",
    obsolete smallint,
    role varchar(5) NOT NULL DEFAULT 'read' CHECK (role IN ('read','write','admin')),
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, user_code)
);

CREATE TABLE addresses (
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    address_id integer NOT NULL,
    address_line1 varchar(100) COLLATE "C",
    address_line2 varchar(100) COLLATE "C",
    address_line3 varchar(100) COLLATE "C",
    town varchar(100) COLLATE "C",
    county varchar(100) COLLATE "C",
    postcode varchar(30) COLLATE "C",
    country_code varchar(6) COLLATE "C",
    created timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    created_by_user_id varchar(128) COLLATE "C",
    last_updated_by_user_id varchar(128) COLLATE "C",
    PRIMARY KEY (workspace_id, address_id)
);

CREATE INDEX divisions_company_id_idx ON divisions (workspace_id, company_id, division_id);

CREATE INDEX divisions_address_id_idx ON divisions (workspace_id, address_id);

CREATE INDEX contacts_division_id_idx ON contacts (workspace_id, division_id, contact_id);

CREATE INDEX contacts_surname_idx ON contacts (workspace_id, surname, created);

CREATE INDEX contacts_created_idx ON contacts (workspace_id, created);

CREATE INDEX contacts_email_idx ON contacts (workspace_id, email);

CREATE INDEX leads_contact_id_idx ON leads (workspace_id, contact_id, lead_id);

CREATE INDEX leads_division_id_idx ON leads (workspace_id, division_id, lead_id);

CREATE INDEX leads_status_id_idx ON leads (workspace_id, status_id, lead_id);

-- Nulls sort lowest in every ORDER BY the service writes; match that here.

CREATE INDEX leads_value_idx ON leads (workspace_id, value NULLS FIRST);

CREATE INDEX leads_created_idx ON leads (workspace_id, created);

CREATE INDEX companies_name_idx ON companies (workspace_id, name);

CREATE INDEX divisions_name_idx ON divisions (workspace_id, name);

CREATE TABLE tokens (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id),
    user_code varchar(3) COLLATE "C" NOT NULL,
    name varchar(100) NOT NULL,
    token_hash char(64) NOT NULL UNIQUE,
    created timestamptz NOT NULL DEFAULT now(),
    revoked timestamptz,
    FOREIGN KEY (workspace_id, user_code) REFERENCES crm_users (workspace_id, user_code)
);
