//! `concat(...)` in `$apply` (Data Aggregation §3.3.2): each sequence applied to the
//! same input, and their results one after the other. Each sequence binds as a request
//! of its own (the transformations before `concat`, then the sequence's), so everything
//! one aggregating `$apply` takes, a sequence takes too; one that neither groups nor
//! aggregates (`topcount(2,Value)`, `identity`) gives the entities it keeps as rows. `$top`, `$skip` and `$count`
//! apply to the rows together; the options that would need the rows in one statement
//! (`$filter`, `$orderby`, `$select`, ...) and transformations after `concat` are 501.

use super::{BindError, Concatenation, Target};
use odata_parser::{ODataUrl, QueryOptions, Transformation};

const OPTION: &str = "$apply";

/// Whether `concat` occurs in `apply`, or in a groupby's transformations per group.
pub(super) fn has_concat(apply: &[Transformation]) -> bool {
    apply.iter().any(|t| match t {
        Transformation::Concat(_) => true,
        Transformation::GroupBy { per_group, .. } => has_concat(per_group),
        _ => false,
    })
}

/// The request `url`, whose `$apply` has a `concat`, bound sequence by sequence.
pub(super) fn bind_concat(
    url: &ODataUrl,
    apply: &[Transformation],
    bind: impl Fn(&ODataUrl) -> Result<Target, BindError>,
) -> Result<Target, BindError> {
    let Some(at) = apply
        .iter()
        .position(|t| matches!(t, Transformation::Concat(_)))
    else {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "`concat` is supported as a step of `$apply` itself, not inside groupby",
        ));
    };
    let Transformation::Concat(sequences) = &apply[at] else {
        unreachable!("position found a concat");
    };
    if at + 1 < apply.len() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "transformations after `concat` are not supported; `$top`, `$skip` and `$count` apply to its rows",
        ));
    }
    let o = &url.options;
    for (option, given) in [
        ("$filter", o.filter.is_some()),
        ("$orderby", o.orderby.is_some()),
        ("$select", o.select.is_some()),
        ("$expand", o.expand.is_some()),
        ("$compute", o.compute.is_some()),
        ("$search", o.search.is_some()),
    ] {
        if given {
            return Err(BindError::unsupported(
                option,
                None,
                format!("{option} over the result of `concat` is not supported"),
            ));
        }
    }
    let mut branches = Vec::with_capacity(sequences.len());
    let mut counted = false;
    for (n, sequence) in sequences.iter().enumerate() {
        let mut steps = apply[..at].to_vec();
        steps.extend(sequence.iter().cloned());
        let branch = ODataUrl {
            path: url.path.clone(),
            options: QueryOptions {
                apply: Some(steps),
                top: None,
                skip: None,
                count: None,
                skiptoken: None,
                ..o.clone()
            },
        };
        match bind(&branch)? {
            Target::Aggregated(ag) => branches.push(ag),
            Target::AggregatedCount(ag) => {
                counted = true;
                branches.push(ag);
            }
            Target::Concatenated(_) | Target::ConcatenatedCount(_) => {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    "`concat` inside a sequence of `concat` is not supported",
                ))
            }
            _ => {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    format!("sequence {} of `concat` is not supported", n + 1),
                ))
            }
        }
    }
    let cc = Concatenation {
        branches,
        top: o.top,
        skip: o.skip,
        count: o.count.unwrap_or(false),
    };
    Ok(if counted {
        Target::ConcatenatedCount(cc)
    } else {
        Target::Concatenated(cc)
    })
}
