//! The CRM entity model as its users know it from the hosted service's `$metadata`.

use super::{Computed, EdmType, EntityType, Model, NavProperty, Property};
use std::sync::LazyLock;
use EdmType::*;

pub static MODEL: LazyLock<Model> = LazyLock::new(build);

const fn p(
    name: &'static str,
    column: &'static str,
    ty: EdmType,
    nullable: bool,
    max_length: Option<u32>,
) -> Property {
    Property {
        name,
        column,
        ty,
        nullable,
        max_length,
        server_set: false,
        computed: None,
    }
}
/// Required key or foreign key.
const fn key(name: &'static str, column: &'static str, ty: EdmType, len: Option<u32>) -> Property {
    p(name, column, ty, false, len)
}
const fn int(name: &'static str, column: &'static str) -> Property {
    p(name, column, Int32, true, None)
}
const fn byte(name: &'static str, column: &'static str) -> Property {
    p(name, column, Byte, true, None)
}
const fn text(name: &'static str, column: &'static str, len: u32) -> Property {
    p(name, column, String, true, Some(len))
}
const fn dto(name: &'static str, column: &'static str) -> Property {
    p(name, column, DateTimeOffset, true, None)
}
const fn server(mut prop: Property) -> Property {
    prop.server_set = true;
    prop
}

/// Audit columns every entity carries, plus the soft-delete flag where the entity has one.
fn audit(mut props: Vec<Property>, status_flag: bool) -> Vec<Property> {
    props.push(server(p("Created", "created", DateTimeOffset, false, None)));
    props.push(server(p(
        "LastUpdated",
        "last_updated",
        DateTimeOffset,
        false,
        None,
    )));
    props.push(server(text("CreatedByUserId", "created_by_user_id", 128)));
    props.push(server(text(
        "LastUpdatedByUserId",
        "last_updated_by_user_id",
        128,
    )));
    if status_flag {
        props.push(server(p(
            "StatusFlag",
            "status_flag",
            String,
            false,
            Some(1),
        )));
    }
    props
}

const fn one(
    name: &'static str,
    target: &'static str,
    nullable: bool,
    partner: Option<&'static str>,
    join: &'static [(&'static str, &'static str)],
) -> NavProperty {
    NavProperty {
        name,
        target,
        many: false,
        nullable,
        partner,
        join,
    }
}
const fn many(
    name: &'static str,
    target: &'static str,
    partner: &'static str,
    join: &'static [(&'static str, &'static str)],
) -> NavProperty {
    NavProperty {
        name,
        target,
        many: true,
        nullable: false,
        partner: Some(partner),
        join,
    }
}

fn lookup(
    name: &'static str,
    set: &'static str,
    table: &'static str,
    fk: &'static str,
    partner: &'static str,
    extra: Vec<Property>,
) -> EntityType {
    let mut props = vec![
        key("Code", "code", String, Some(6)),
        text("Description", "description", 100),
        int("Sequence", "sequence"),
        byte("Obsolete", "obsolete"),
    ];
    props.extend(extra);
    let join: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("Code", fk)]));
    EntityType {
        name,
        set,
        table,
        key: &["Code"],
        properties: audit(props, false),
        navigation: vec![many("Leads", "Lead", partner, join)],
        search: &["Code", "Description"],
        indexes: &[],
        trigram: &[],
    }
}

fn build() -> Model {
    let company = EntityType {
        name: "Company",
        set: "Companies",
        table: "companies",
        key: &["CompanyId"],
        properties: audit(
            vec![
                key("CompanyId", "company_id", Int32, None),
                text("Name", "name", 250),
                text("TypeId", "type_id", 20),
                text("AccountManagerId", "account_manager_id", 3),
                text("Source", "source", 50),
                text("AlternateReference", "alternate_reference", 100),
                text("LongDescription", "long_description", 5000),
                dto("FirstOrder", "first_order"),
                dto("Lapsed", "lapsed"),
            ],
            true,
        ),
        navigation: vec![
            many(
                "Divisions",
                "Division",
                "Company",
                &[("CompanyId", "CompanyId")],
            ),
            one(
                "AccountManager",
                "User",
                true,
                None,
                &[("AccountManagerId", "UserCode")],
            ),
        ],
        search: &["Name", "AlternateReference"],
        indexes: &[&["Name"]],
        trigram: &[],
    };
    let division = EntityType {
        name: "Division",
        set: "Divisions",
        table: "divisions",
        key: &["DivisionId"],
        properties: audit(
            vec![
                key("DivisionId", "division_id", Int32, None),
                key("CompanyId", "company_id", Int32, None),
                text("OperatingCompanyCode", "operating_company_code", 1),
                text("Name", "name", 250),
                int("AddressId", "address_id"),
                text("SalesLedgerId", "sales_ledger_id", 100),
                text("PhoneNumber", "phone_number", 50),
                text("Website", "website", 250),
                int("Employees", "employees"),
                text("AccountManager", "account_manager", 3),
                text("TerritoryCode", "territory_code", 50),
                text("CurrencyCode", "currency_code", 10),
                byte("IsB2C", "is_b2c"),
                p("IsDistributor", "is_distributor", Boolean, true, None),
            ],
            true,
        ),
        navigation: vec![
            one(
                "Company",
                "Company",
                false,
                Some("Divisions"),
                &[("CompanyId", "CompanyId")],
            ),
            one(
                "Address",
                "Address",
                true,
                None,
                &[("AddressId", "AddressId")],
            ),
            one(
                "AccountManagerUser",
                "User",
                true,
                None,
                &[("AccountManager", "UserCode")],
            ),
            many(
                "Contacts",
                "Contact",
                "Division",
                &[("DivisionId", "DivisionId")],
            ),
            many("Leads", "Lead", "Division", &[("DivisionId", "DivisionId")]),
        ],
        search: &["Name", "Website", "PhoneNumber"],
        indexes: &[&["CompanyId", "DivisionId"], &["AddressId"], &["Name"]],
        trigram: &[],
    };
    let contact = EntityType {
        name: "Contact",
        set: "Contacts",
        table: "contacts",
        key: &["ContactId"],
        properties: audit(
            vec![
                key("ContactId", "contact_id", Int32, None),
                key("DivisionId", "division_id", Int32, None),
                int("AddressId", "address_id"),
                text("Title", "title", 20),
                text("Forename", "forename", 100),
                text("Surname", "surname", 100),
                text("PreferredName", "preferred_name", 100),
                text("Salutation", "salutation", 250),
                text("JobTitle", "job_title", 250),
                text("Department", "department", 250),
                text("PhoneNumber", "phone_number", 50),
                text("MobilePhoneNumber", "mobile_phone_number", 50),
                text("Email", "email", 254),
                byte("EmailBounced", "email_bounced"),
                byte("OptIn", "opt_in"),
                text("Source", "source", 50),
            ],
            true,
        ),
        navigation: vec![
            one(
                "Division",
                "Division",
                false,
                Some("Contacts"),
                &[("DivisionId", "DivisionId")],
            ),
            one(
                "Address",
                "Address",
                true,
                None,
                &[("AddressId", "AddressId")],
            ),
            many("Leads", "Lead", "Contact", &[("ContactId", "ContactId")]),
        ],
        search: &["Forename", "Surname", "Email", "JobTitle"],
        indexes: &[
            &["DivisionId", "ContactId"],
            &["Surname", "Created"],
            &["Created"],
            &["Email"],
        ],
        trigram: &[("Email", "contacts_email_trigram")],
    };
    let mut lead_props = vec![
        key("LeadId", "lead_id", Int32, None),
        int("ContactId", "contact_id"),
        key("DivisionId", "division_id", Int32, None),
        text("StatusId", "status_id", 6),
        text("SizeId", "size_id", 6),
        text("TypeId", "type_id", 6),
        text("PipelineId", "pipeline_id", 6),
        text("SourceId", "source_id", 6),
        text("SalesPersonId", "sales_person_id", 3),
        text("OwnerId", "owner_id", 3),
        text("Description", "description", 250),
        p("SituationSummary", "situation_summary", String, true, None),
        int("Guttometer", "guttometer"),
        p("Value", "value", Decimal(30, 6), true, None),
    ];
    let mut weighted = server(p(
        "WeightedValue",
        "weighted_value",
        Decimal(30, 6),
        true,
        None,
    ));
    weighted.computed = Some(Computed::WeightedValue);
    lead_props.push(weighted);
    lead_props.extend([
        dto("EstimatedClose", "estimated_close"),
        dto("CloseDate", "close_date"),
        server(dto("StatusChanged", "status_changed")),
    ]);
    let lead = EntityType {
        name: "Lead",
        set: "Leads",
        table: "leads",
        key: &["LeadId"],
        properties: audit(lead_props, true),
        navigation: vec![
            one(
                "Contact",
                "Contact",
                true,
                Some("Leads"),
                &[("ContactId", "ContactId")],
            ),
            one(
                "Division",
                "Division",
                false,
                Some("Leads"),
                &[("DivisionId", "DivisionId")],
            ),
            one(
                "Status",
                "LeadStatus",
                true,
                Some("Leads"),
                &[("StatusId", "Code")],
            ),
            one(
                "Size",
                "LeadSize",
                true,
                Some("Leads"),
                &[("SizeId", "Code")],
            ),
            one(
                "Type",
                "LeadType",
                true,
                Some("Leads"),
                &[("TypeId", "Code")],
            ),
            one(
                "Pipeline",
                "LeadPipeline",
                true,
                Some("Leads"),
                &[("PipelineId", "Code")],
            ),
            one(
                "Source",
                "LeadSource",
                true,
                Some("Leads"),
                &[("SourceId", "Code")],
            ),
            one(
                "SalesPerson",
                "User",
                true,
                None,
                &[("SalesPersonId", "UserCode")],
            ),
            one("Owner", "User", true, None, &[("OwnerId", "UserCode")]),
        ],
        search: &["Description", "SituationSummary"],
        indexes: &[
            &[
                "ContactId",
                "LeadId",
                "StatusFlag",
                "StatusId",
                "Created",
                "Description",
            ],
            &["DivisionId", "LeadId"],
            &["StatusId", "LeadId"],
            &["PipelineId", "LeadId"],
            &["SourceId", "LeadId"],
            &["SizeId", "LeadId"],
            &["TypeId", "LeadId"],
            &["OwnerId", "LeadId"],
            &["SalesPersonId", "LeadId"],
            &["Value"],
            &["Created"],
        ],
        trigram: &[],
    };
    let status = lookup(
        "LeadStatus",
        "LeadStatus",
        "lead_statuses",
        "StatusId",
        "Status",
        vec![
            byte("DeadFlag", "dead_flag"),
            int("Outcome", "outcome"),
            int("Guttometer", "guttometer"),
            byte("RecallRequired", "recall_required"),
        ],
    );
    let user = EntityType {
        name: "User",
        set: "Users",
        table: "crm_users",
        key: &["UserCode"],
        properties: audit(
            vec![
                key("UserCode", "user_code", String, Some(3)),
                text("UserName", "user_name", 100),
                text("EmailAddress", "email_address", 254),
                byte("Obsolete", "obsolete"),
            ],
            false,
        ),
        navigation: vec![],
        search: &["UserCode", "UserName", "EmailAddress"],
        indexes: &[],
        trigram: &[],
    };
    let address = EntityType {
        name: "Address",
        set: "Addresses",
        table: "addresses",
        key: &["AddressId"],
        properties: audit(
            vec![
                key("AddressId", "address_id", Int32, None),
                text("AddressLine1", "address_line1", 100),
                text("AddressLine2", "address_line2", 100),
                text("AddressLine3", "address_line3", 100),
                text("Town", "town", 100),
                text("County", "county", 100),
                text("Postcode", "postcode", 30),
                text("CountryCode", "country_code", 6),
            ],
            false,
        ),
        navigation: vec![],
        search: &["AddressLine1", "Town", "County", "Postcode"],
        indexes: &[],
        trigram: &[],
    };
    Model {
        namespace: "Prospect.Crm",
        container: "CrmContainer",
        types: vec![
            company,
            division,
            contact,
            lead,
            status,
            lookup(
                "LeadSize",
                "LeadSizes",
                "lead_sizes",
                "SizeId",
                "Size",
                vec![],
            ),
            lookup(
                "LeadSource",
                "LeadSources",
                "lead_sources",
                "SourceId",
                "Source",
                vec![],
            ),
            lookup(
                "LeadType",
                "LeadTypes",
                "lead_types",
                "TypeId",
                "Type",
                vec![],
            ),
            lookup(
                "LeadPipeline",
                "LeadPipelines",
                "lead_pipelines",
                "PipelineId",
                "Pipeline",
                vec![],
            ),
            user,
            address,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_navigation_resolves_and_partners_match() {
        for t in &MODEL.types {
            for n in &t.navigation {
                let target = MODEL
                    .entity_type(n.target)
                    .unwrap_or_else(|| panic!("{}.{} target", t.name, n.name));
                for (l, r) in n.join {
                    assert!(t.property(l).is_some(), "{}.{} join {l}", t.name, n.name);
                    assert!(
                        target.property(r).is_some(),
                        "{}.{} join {r}",
                        t.name,
                        n.name
                    );
                }
                if let Some(p) = n.partner {
                    let back = target
                        .nav(p)
                        .unwrap_or_else(|| panic!("{}.{} partner {p}", t.name, n.name));
                    assert_eq!(back.partner, Some(n.name));
                }
            }
        }
    }

    #[test]
    fn sql_names_are_plain_identifiers() {
        // The SQL stage quotes these without escaping (sql/fragment.rs).
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        for t in &MODEL.types {
            assert!(plain(t.table), "{}", t.table);
            for p in &t.properties {
                assert!(plain(p.column), "{}.{}", t.name, p.column);
                assert!(
                    p.name.bytes().all(|b| b.is_ascii_alphanumeric()),
                    "{}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(
            MODEL.entity_set("contacts").map(|t| t.name),
            Some("Contact")
        );
        assert_eq!(
            MODEL.entity_set("LEADSTATUS").map(|t| t.name),
            Some("LeadStatus")
        );
        let c = MODEL.entity_set("Contacts").unwrap();
        assert_eq!(c.property("email").map(|p| p.name), Some("Email"));
        assert_eq!(c.nav("leads").map(|n| n.target), Some("Lead"));
    }
}
