//! `$metadata` as CSDL XML 4.0 and CSDL JSON 4.01, derived from [`crate::model::MODEL`].
//!
//! The model never changes at runtime, so each document is rendered once into
//! [`METADATA_XML`] / [`METADATA_JSON`] and the HTTP layer serves those bytes as they are.
//! Both renderers share the annotation description below, so the two formats cannot drift.

mod json;
mod xml;

use crate::model::{EntityType, Model, Property, MODEL};
use std::sync::LazyLock;

pub use json::{metadata_json, metadata_json_text};
pub use xml::metadata_xml;

/// CSDL XML document for `MODEL`, rendered on first use.
pub static METADATA_XML: LazyLock<String> = LazyLock::new(|| metadata_xml(&MODEL));

/// CSDL JSON document for `MODEL` (compact, in document order), serialized on first use.
pub static METADATA_JSON: LazyLock<String> = LazyLock::new(|| metadata_json_text(&MODEL));

/// Strong ETags of the two documents (they differ, as the representations do), so the
/// HTTP layer can answer `If-None-Match` with 304 without comparing bodies.
pub static METADATA_XML_ETAG: LazyLock<String> = LazyLock::new(|| etag(&METADATA_XML));
pub static METADATA_JSON_ETAG: LazyLock<String> = LazyLock::new(|| etag(&METADATA_JSON));

fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    // 64 bits tell one build's document from another's; the full hash adds only length.
    format!("\"{}\"", hex::encode(&digest[..8]))
}

/// Media types to send with the two documents.
pub const XML_CONTENT_TYPE: &str = "application/xml";
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Canonical `$filter` functions advertised in `Capabilities.FilterFunctions`: every
/// one the binder takes (the metadata tests hold the two together).
pub const FILTER_FUNCTIONS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "length",
    "indexof",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "concat",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "date",
    "time",
    "now",
    "round",
    "floor",
    "ceiling",
    "matchesPattern",
    "fractionalseconds",
    "totaloffsetminutes",
    "totalseconds",
    "maxdatetime",
    "mindatetime",
    "cast",
    "isof",
    "case",
];

/// `$expand` depth advertised in `Capabilities.ExpandRestrictions/MaxLevels`: the one
/// the binder enforces.
pub const EXPAND_MAX_LEVELS: i64 = crate::bind::EXPAND_MAX_LEVELS as i64;

/// A referenced vocabulary: included under its alias, so terms are written `Alias.Term`.
pub(crate) struct Vocabulary {
    pub namespace: &'static str,
    pub alias: &'static str,
    pub xml_uri: &'static str,
    pub json_uri: &'static str,
}

pub(crate) const VOCABULARIES: &[Vocabulary] = &[
    Vocabulary {
        namespace: "Org.OData.Core.V1",
        alias: "Core",
        xml_uri: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml",
        json_uri:
            "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.json",
    },
    Vocabulary {
        namespace: "Org.OData.Capabilities.V1",
        alias: "Capabilities",
        xml_uri: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml",
        json_uri: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.json",
    },
    Vocabulary {
        namespace: "Org.OData.Aggregation.V1",
        alias: "Aggregation",
        xml_uri: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Aggregation.V1.xml",
        json_uri: "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Aggregation.V1.json",
    },
];

/// The subset of CSDL annotation expressions this document needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i64),
    /// Enumeration member: qualified enum type (alias form) and member name.
    Enum(&'static str, &'static str),
    Strings(&'static [&'static str]),
    /// Record of the term's own complex type, so no `Type` is written.
    Record(Vec<(&'static str, Value)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotation {
    /// Alias-qualified term, e.g. `Core.Computed`.
    pub term: &'static str,
    pub value: Value,
}

const fn ann(term: &'static str, value: Value) -> Annotation {
    Annotation { term, value }
}

fn record(term: &'static str, props: Vec<(&'static str, Value)>) -> Annotation {
    ann(term, Value::Record(props))
}

/// Service-wide capabilities, on the entity container. Term and record shapes follow
/// Org.OData.Capabilities.V1 (strict readers validate them).
pub(crate) fn container_annotations() -> Vec<Annotation> {
    vec![
        // Intermediate: $filter/$orderby/$expand/$search etc. are served, but no writes.
        ann(
            "Capabilities.ConformanceLevel",
            Value::Enum("Capabilities.ConformanceLevelType", "Intermediate"),
        ),
        ann(
            "Capabilities.FilterFunctions",
            Value::Strings(FILTER_FUNCTIONS),
        ),
        // `Contacts/42` as well as `Contacts(42)` (URL conventions 4.3.6).
        ann("Capabilities.KeyAsSegmentSupported", Value::Bool(true)),
        // Reads in either batch format, every request answered whatever the others got;
        // no change sets, as nothing is written.
        record(
            "Capabilities.BatchSupport",
            vec![
                ("Supported", Value::Bool(true)),
                ("ContinueOnErrorSupported", Value::Bool(true)),
                (
                    "SupportedFormats",
                    Value::Strings(&["application/json", "multipart/mixed"]),
                ),
            ],
        ),
        // `$apply` with the transformations the binder takes (bind/aggregate.rs).
        record(
            "Aggregation.ApplySupported",
            vec![
                (
                    "Transformations",
                    Value::Strings(&[
                        "filter",
                        "search",
                        "compute",
                        "groupby",
                        "aggregate",
                        "orderby",
                        "skip",
                        "top",
                        "topcount",
                        "bottomcount",
                        "topsum",
                        "bottomsum",
                        "toppercent",
                        "bottompercent",
                        "identity",
                    ]),
                ),
                (
                    "Rollup",
                    Value::Enum("Aggregation.RollupType", "MultipleHierarchies"),
                ),
            ],
        ),
    ]
}

/// Per entity set capabilities. Every set is read-only until the write path exists.
pub(crate) fn entity_set_annotations(t: &EntityType) -> Vec<Annotation> {
    use Value::{Bool, Int};
    vec![
        record(
            "Capabilities.SearchRestrictions",
            vec![("Searchable", Bool(!t.search.is_empty()))],
        ),
        ann("Capabilities.TopSupported", Bool(true)),
        ann("Capabilities.SkipSupported", Bool(true)),
        record(
            "Capabilities.SortRestrictions",
            vec![("Sortable", Bool(true))],
        ),
        record(
            "Capabilities.ExpandRestrictions",
            vec![
                // Uniform across sets: one without navigation properties has nothing to expand.
                ("Expandable", Bool(true)),
                ("MaxLevels", Int(EXPAND_MAX_LEVELS)),
            ],
        ),
        record(
            "Capabilities.CountRestrictions",
            vec![("Countable", Bool(true))],
        ),
        record(
            "Capabilities.InsertRestrictions",
            vec![("Insertable", Bool(false))],
        ),
        record(
            "Capabilities.UpdateRestrictions",
            vec![("Updatable", Bool(false))],
        ),
        record(
            "Capabilities.DeleteRestrictions",
            vec![("Deletable", Bool(false))],
        ),
    ]
}

/// Clients must not send server-maintained or derived values.
pub(crate) fn property_annotations(p: &Property) -> Vec<Annotation> {
    if p.server_set || p.computed.is_some() {
        vec![ann("Core.Computed", Value::Bool(true))]
    } else {
        Vec::new()
    }
}

/// Entity set a navigation target is bound to; `None` only for a broken model
/// (the model's own tests reject that), in which case the binding is left out.
pub(crate) fn target_set<'m>(model: &'m Model, target_type: &str) -> Option<&'m str> {
    model.entity_type(target_type).map(|t| t.set)
}
