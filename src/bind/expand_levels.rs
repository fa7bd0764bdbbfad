//! `$levels` inside `$expand` (URL Conventions §5.1.3). A named navigation property
//! repeats its expansion through a property of the same name on the related type; no
//! type of this model has one (a test below keeps it so), so any number of levels, or
//! `max`, ends after the first. `*($levels=n)` expands every navigation property, and
//! every one of the related entities' up to `n` levels: each level's items become
//! `*($levels=n-1)` one level down.

use super::{BindError, Entity, Shape};
use crate::model::MODEL;
use odata_parser::{ExpandItem, ExpandTarget, Levels, QueryOptions};

/// Most navigation properties along one path of `$expand` (each a statement per page):
/// as deep as the parser nests options.
pub const EXPAND_MAX_LEVELS: usize = 32;

/// Most expansions `*($levels=n)` may add to one request: each is a statement per page.
pub(super) const MAX_STAR_EXPANSIONS: usize = 64;

/// For `item`, the options every expanded navigation property takes: its own, or for
/// `*($levels=n)` with `n > 1`, a nested `*` one level shallower. `None`: the item's own.
pub(super) fn star_options(
    entity: Entity,
    item: &ExpandItem,
) -> Result<Option<QueryOptions>, BindError> {
    let n = match (&item.target, item.options.levels) {
        (ExpandTarget::Star, Some(Levels::Max)) => {
            return Err(BindError::unsupported(
                "$expand",
                Some(item.pos.0),
                "`*($levels=max)` has no end here: every navigation property of this model \
                 leads back to where it started; give a number of levels",
            ))
        }
        (ExpandTarget::Star, Some(Levels::N(n))) if n > 1 => n,
        _ => return Ok(None),
    };
    let added = star_expansions(entity, n, MAX_STAR_EXPANSIONS);
    if added > MAX_STAR_EXPANSIONS {
        return Err(BindError::invalid(
            "$expand",
            Some(item.pos.0),
            format!(
                "`*($levels={n})` expands more than {MAX_STAR_EXPANSIONS} navigation \
                 properties of {}; give fewer levels or name the properties",
                entity.name
            ),
        ));
    }
    let inner = QueryOptions {
        levels: (n > 2).then_some(Levels::N(n - 1)),
        ..QueryOptions::default()
    };
    Ok(Some(QueryOptions {
        expand: Some(vec![ExpandItem {
            target: ExpandTarget::Star,
            is_ref: false,
            is_count: false,
            options: inner,
            pos: item.pos,
        }]),
        ..QueryOptions::default()
    }))
}

/// `sub`, the shape of an expansion at `item_pos` from `entity`, within [`EXPAND_MAX_LEVELS`].
pub(super) fn within_max_levels(
    entity: Entity,
    item_pos: usize,
    sub: &Shape,
) -> Result<(), BindError> {
    let levels = 1 + sub.expand_levels();
    if levels > EXPAND_MAX_LEVELS {
        return Err(BindError::invalid(
            "$expand",
            Some(item_pos),
            format!(
                "`$expand` goes {levels} navigation properties deep from {}; at most \
                 {EXPAND_MAX_LEVELS}",
                entity.name
            ),
        ));
    }
    Ok(())
}

/// The expansions `*($levels=levels)` makes from `entity`, counted up to just past `budget`.
fn star_expansions(entity: Entity, levels: u32, budget: usize) -> usize {
    let mut count = 0;
    if levels == 0 {
        return count;
    }
    for nav in &entity.navigation {
        count += 1;
        if count > budget {
            return count;
        }
        if let Some(target) = MODEL.entity_type(nav.target) {
            count += star_expansions(target, levels - 1, budget - count);
            if count > budget {
                return count;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_navigation_property_recurses_through_one_of_its_own_name() {
        // Were one to, `Nav($levels=n)` would have to expand it again, level by level.
        for e in &MODEL.types {
            for nav in &e.navigation {
                let target = MODEL.entity_type(nav.target).expect("target");
                assert!(
                    target.nav(nav.name).is_none(),
                    "{}.{} leads to {} with a `{}` of its own",
                    e.name,
                    nav.name,
                    target.name,
                    nav.name
                );
            }
        }
    }

    #[test]
    fn star_expansions_count_every_level_and_stop_past_the_budget() {
        let contact = MODEL.entity_type("Contact").expect("Contact");
        let one = contact.navigation.len();
        assert_eq!(star_expansions(contact, 1, 1000), one);
        let two: usize = one
            + contact
                .navigation
                .iter()
                .map(|n| {
                    MODEL
                        .entity_type(n.target)
                        .expect("target")
                        .navigation
                        .len()
                })
                .sum::<usize>();
        assert_eq!(star_expansions(contact, 2, 1000), two);
        assert_eq!(star_expansions(contact, 30, 10), 11);
    }
}
