//! Plan stage: ordering that makes paging deterministic, page limits, and the opaque
//! keyset `$skiptoken` that continues a read where the previous page ended.

mod cost;
pub mod skiptoken;

pub use cost::is_quick;
pub use skiptoken::{fingerprint, value_from_json, SkipToken, SkipTokenError, UnionStart};

use crate::bind::{Entity, Read, TExpr};

/// One ORDER BY key; the entity key always comes last so the order is total.
#[derive(Debug, Clone)]
pub struct OrderKey {
    pub expr: TExpr,
    pub desc: bool,
}

/// How many rows one response carries and where it starts.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows to return on this page (the SQL fetches one more to see if there is a next).
    pub size: u64,
    /// Whether a further page may exist after `size` rows (the request's `$top` allows it).
    pub more_allowed: bool,
    pub offset: u64,
    /// Continue after these order-key values.
    pub after: Option<Vec<crate::bind::Value>>,
    /// Rows already served on earlier pages of this read.
    pub served: u64,
}

#[derive(Debug)]
pub struct ReadPlan<'a> {
    pub read: &'a Read,
    pub order: Vec<OrderKey>,
    pub page: Page,
}

/// `$orderby` followed by the entity key (unless already there), so the order is total
/// and keyset paging neither repeats nor skips rows.
pub fn order_keys(orderby: &[(TExpr, bool)], entity: Entity) -> Vec<OrderKey> {
    let mut order: Vec<OrderKey> = orderby
        .iter()
        .map(|(e, d)| OrderKey {
            expr: e.clone(),
            desc: *d,
        })
        .collect();
    for p in entity.key_properties() {
        let already = order
            .iter()
            .any(|k| matches!(&k.expr, TExpr::Prop { scope: 0, navs, prop } if navs.is_empty() && std::ptr::eq(*prop, p)));
        if !already {
            order.push(OrderKey {
                expr: TExpr::Prop {
                    scope: 0,
                    navs: vec![],
                    prop: p,
                },
                desc: false,
            });
        }
    }
    order
}

/// Where a `$skiptoken` must come from to be accepted.
pub struct TokenCheck<'t> {
    pub text: &'t str,
    pub workspace: i64,
    pub fingerprint: &'t str,
}

/// Plans a collection read. `max_page` is the server or client (`odata.maxpagesize`) page size.
pub fn plan_read<'a>(
    read: &'a Read,
    max_page: u64,
    token: Option<TokenCheck>,
) -> Result<ReadPlan<'a>, SkipTokenError> {
    let order = order_keys(&read.shape.orderby, read.entity);
    let keys: Vec<TExpr> = order.iter().map(|k| k.expr.clone()).collect();
    let token = token
        .map(|t| SkipToken::decode(t.text, t.workspace, t.fingerprint, &keys))
        .transpose()?;
    let token = token.as_ref();
    let served = token.map(|t| t.served).unwrap_or(0);
    let remaining = read.shape.top.map(|t| t.saturating_sub(served));
    let size = match remaining {
        Some(r) => r.min(max_page),
        None => max_page,
    };
    let more_allowed = remaining.is_none_or(|r| r > size);
    let page = Page {
        size,
        more_allowed,
        // After the first page the keyset, not $skip, says where to continue.
        offset: if token.is_some() {
            0
        } else {
            read.shape.skip.unwrap_or(0)
        },
        after: token.map(|t| t.after.clone()),
        served,
    };
    Ok(ReadPlan { read, order, page })
}
