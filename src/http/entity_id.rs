//! `$entity?$id=...`: an entity addressed by its id (OData URL conventions, "Resolving
//! an Entity-Id"), served as the request for the entity's own URL with the same options.

use super::error::ApiError;
use crate::model::MODEL;
use odata_parser::{ODataUrl, PathSegment, ResourcePath};

/// The request `url` stands for, when its path is `$entity` (or `$entity/Type`): the
/// `$id` resolved against `root` (the service root, ending with `/`). Other URLs as they are.
pub fn resolve(url: ODataUrl, root: &str) -> Result<ODataUrl, ApiError> {
    let cast = match &url.path {
        ResourcePath::Segments(s) => match s.as_slice() {
            [PathSegment::Entity] => None,
            [PathSegment::Entity, PathSegment::Name {
                name, key: None, ..
            }] => Some(name.clone()),
            _ => return Ok(url),
        },
        _ => return Ok(url),
    };
    // The parser requires `$id` with `$entity`.
    let id = url.options.id.clone().unwrap_or_default();
    let relative = relative_to(&id, root).ok_or_else(|| ApiError::NotFound {
        message: format!("`{id}` is not the id of an entity of this service"),
        target: "$id",
    })?;
    let one_entity = || {
        ApiError::BadRequest(format!(
            "`$id` must be the id of one entity, such as `{root}Contacts(1)`; found `{id}`"
        ))
    };
    if relative.contains('?') {
        return Err(one_entity());
    }
    let addressed = odata_parser::parse(relative, None).map_err(|_| one_entity())?;
    let ResourcePath::Segments(segments) = &addressed.path else {
        return Err(one_entity());
    };
    let [PathSegment::Name {
        name, key: Some(_), ..
    }] = segments.as_slice()
    else {
        return Err(one_entity());
    };
    if let (Some(cast), Some(entity)) = (&cast, MODEL.entity_set(name)) {
        let qualified = format!("{}.{}", MODEL.namespace, entity.name);
        if !cast.eq_ignore_ascii_case(&qualified) && !cast.eq_ignore_ascii_case(entity.name) {
            return Err(ApiError::NotFound {
                message: format!("the entity `{id}` is a {qualified}, not a `{cast}`"),
                target: "path",
            });
        }
    }
    let mut options = url.options;
    options.id = None;
    Ok(ODataUrl {
        path: addressed.path,
        options,
    })
}

/// `id` relative to the service root: as it is when relative, without the root when it
/// starts with it (scheme and host compared without regard to case); `None` for an
/// absolute URL of another service.
fn relative_to<'a>(id: &'a str, root: &str) -> Option<&'a str> {
    let absolute = id.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !absolute {
        return Some(id.strip_prefix('/').unwrap_or(id));
    }
    let head = id.get(..root.len())?;
    head.eq_ignore_ascii_case(root).then(|| &id[root.len()..])
}

#[cfg(test)]
mod tests {
    use super::relative_to;

    #[test]
    fn ids_are_read_relative_to_the_service_root() {
        let root = "http://crm.example/";
        assert_eq!(relative_to("Contacts(1)", root), Some("Contacts(1)"));
        assert_eq!(relative_to("/Contacts(1)", root), Some("Contacts(1)"));
        assert_eq!(
            relative_to("http://crm.example/Contacts(1)", root),
            Some("Contacts(1)")
        );
        assert_eq!(
            relative_to("HTTP://CRM.example/Contacts(1)", root),
            Some("Contacts(1)")
        );
        assert_eq!(relative_to("http://other.example/Contacts(1)", root), None);
        assert_eq!(relative_to("http://crm.example", root), None);
    }
}
