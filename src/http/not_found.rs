//! The 404 of a read that found nothing, saying what is missing: `no Contact with
//! ContactId 5`, and after a navigation, among what it was looked for.

use super::error::ApiError;
use super::request::Incoming;
use crate::bind::{fmt_value, Entity, PathStep, Prop, Read, Value};

/// The 404 for `read`, an entity addressed by key or the entity a path navigates from.
pub fn missing(req: &Incoming, read: &Read) -> ApiError {
    let message = match (&read.key, read.path.last()) {
        (Some(key), None) => format!("no {}", described(read.entity, key)),
        (Some(key), Some(step)) => format!(
            "no {} among the {} of the {}",
            described(read.entity, key),
            step.nav.name,
            source(step)
        ),
        // A navigation without a key found nothing because its source is missing.
        (None, _) => match read.parent() {
            Some(parent) => return missing(req, &parent),
            None => "no entity found at this address".into(),
        },
    };
    ApiError::NotFound {
        message,
        target: target(req),
    }
}

/// The 404 for a property of `read`, a single-valued navigation whose source exists but
/// relates to no entity: `the Address of the Contact with ContactId 1 is null`.
pub fn unrelated(req: &Incoming, read: &Read) -> ApiError {
    let message = match read.path.last() {
        Some(step) => format!("the {} of the {} is null", step.nav.name, source(step)),
        None => "no entity found at this address".into(),
    };
    ApiError::NotFound {
        message,
        target: target(req),
    }
}

/// The entity a navigation starts from: by its key, or as reached by the path.
fn source(step: &PathStep) -> String {
    match &step.key {
        Some(k) => described(step.entity, k),
        None => format!("{} this path navigates to", step.entity.name),
    }
}

/// `Contact with ContactId 5` (key properties joined with `and`).
fn described(entity: Entity, key: &[(Prop, Value)]) -> String {
    let key: Vec<String> = key
        .iter()
        .map(|(p, v)| format!("{} {}", p.name, fmt_value(v)))
        .collect();
    format!("{} with {}", entity.name, key.join(" and "))
}

/// Where the missing key came from: the path, or `$id` for `$entity`.
fn target(req: &Incoming) -> &'static str {
    if req
        .path
        .split('/')
        .any(|s| s == "$entity" || s.eq_ignore_ascii_case("%24entity"))
    {
        "$id"
    } else {
        "path"
    }
}
