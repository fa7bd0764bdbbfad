//! The seeded tables: their columns in the order rows are generated, their keys, and
//! whether rows already present are kept (lookups and users) or an error.

use super::insert::Table;

pub const USERS: Table = Table {
    name: "crm_users",
    columns: &[
        "user_code",
        "user_name",
        "email_address",
        "obsolete",
        "role",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
    ],
    key: &["user_code"],
    skip_existing: true,
};

const LOOKUP_COLUMNS: &[&str] = &[
    "code",
    "description",
    "sequence",
    "obsolete",
    "created",
    "last_updated",
    "created_by_user_id",
    "last_updated_by_user_id",
];

pub const LEAD_STATUSES: Table = Table {
    name: "lead_statuses",
    columns: &[
        "code",
        "description",
        "sequence",
        "obsolete",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
        "dead_flag",
        "outcome",
        "guttometer",
        "recall_required",
    ],
    key: &["code"],
    skip_existing: true,
};
pub const LEAD_SIZES: Table = Table {
    name: "lead_sizes",
    columns: LOOKUP_COLUMNS,
    key: &["code"],
    skip_existing: true,
};
pub const LEAD_SOURCES: Table = Table {
    name: "lead_sources",
    columns: LOOKUP_COLUMNS,
    key: &["code"],
    skip_existing: true,
};
pub const LEAD_TYPES: Table = Table {
    name: "lead_types",
    columns: LOOKUP_COLUMNS,
    key: &["code"],
    skip_existing: true,
};
pub const LEAD_PIPELINES: Table = Table {
    name: "lead_pipelines",
    columns: LOOKUP_COLUMNS,
    key: &["code"],
    skip_existing: true,
};

pub const COMPANIES: Table = Table {
    name: "companies",
    columns: &[
        "company_id",
        "name",
        "type_id",
        "account_manager_id",
        "source",
        "alternate_reference",
        "long_description",
        "first_order",
        "lapsed",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
        "status_flag",
    ],
    key: &["company_id"],
    skip_existing: false,
};

pub const ADDRESSES: Table = Table {
    name: "addresses",
    columns: &[
        "address_id",
        "address_line1",
        "address_line2",
        "address_line3",
        "town",
        "county",
        "postcode",
        "country_code",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
    ],
    key: &["address_id"],
    skip_existing: false,
};

pub const DIVISIONS: Table = Table {
    name: "divisions",
    columns: &[
        "division_id",
        "company_id",
        "operating_company_code",
        "name",
        "address_id",
        "sales_ledger_id",
        "phone_number",
        "website",
        "employees",
        "account_manager",
        "territory_code",
        "currency_code",
        "is_b2c",
        "is_distributor",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
        "status_flag",
    ],
    key: &["division_id"],
    skip_existing: false,
};

pub const CONTACTS: Table = Table {
    name: "contacts",
    columns: &[
        "contact_id",
        "division_id",
        "address_id",
        "title",
        "forename",
        "surname",
        "preferred_name",
        "salutation",
        "job_title",
        "department",
        "phone_number",
        "mobile_phone_number",
        "email",
        "email_bounced",
        "opt_in",
        "source",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
        "status_flag",
    ],
    key: &["contact_id"],
    skip_existing: false,
};

pub const LEADS: Table = Table {
    name: "leads",
    columns: &[
        "lead_id",
        "contact_id",
        "division_id",
        "status_id",
        "size_id",
        "type_id",
        "pipeline_id",
        "source_id",
        "sales_person_id",
        "owner_id",
        "description",
        "situation_summary",
        "guttometer",
        "value",
        "estimated_close",
        "close_date",
        "status_changed",
        "created",
        "last_updated",
        "created_by_user_id",
        "last_updated_by_user_id",
        "status_flag",
    ],
    key: &["lead_id"],
    skip_existing: false,
};

/// Every table the seeder writes, in insertion order (the tests dump them all).
#[cfg(test)]
pub const ALL_TABLES: &[Table] = &[
    USERS,
    LEAD_STATUSES,
    LEAD_SIZES,
    LEAD_SOURCES,
    LEAD_TYPES,
    LEAD_PIPELINES,
    COMPANIES,
    ADDRESSES,
    DIVISIONS,
    CONTACTS,
    LEADS,
];
