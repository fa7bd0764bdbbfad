//! `orderby`, `skip`, `top` and the rankings (`topcount`, `topsum`, ...) of `$apply`,
//! as the windows of a level.

use super::*;

/// The `filter`, `orderby`, `skip` and `top` steps after a groupby or aggregate, bound
/// over its result by `over`: the filter before the window, and the window.
pub(super) fn steps_after<'a>(
    steps: &[&Transformation],
    over: &impl Fn(&'static str) -> ExprBinder<'a>,
) -> Result<(Option<TExpr>, Option<Window>), BindError> {
    let mut filter = None;
    let mut window: Option<Window> = None;
    let once = || {
        BindError::unsupported(
            OPTION,
            None,
            "after groupby or aggregate, orderby, skip and top are taken as one run (an orderby after skip or top only orders what they keep)",
        )
    };
    let keys = |items: &[odata_parser::OrderItem]| order_items(items, |e| over(OPTION).expr(e));
    for &t in steps {
        match (t, &mut window) {
            // `$these` in a filter names the rows it filters: only the first filter of a
            // run sees them unfiltered (the run is one condition).
            (Transformation::Filter(e), None) => {
                let mut b = over(OPTION).with_these(filter.is_none().then_some(TheseInput::Result));
                filter = Some(and(filter, b.predicate(e)?))
            }
            (Transformation::Filter(e), Some(w)) => {
                let mut b = over(OPTION).with_these(w.then.is_none().then_some(TheseInput::Result));
                w.then = Some(and(w.then.take(), b.predicate(e)?))
            }
            (Transformation::OrderBy(_) | Transformation::Skip(_) | Transformation::Top(_), _) => {
                let w = window.get_or_insert_with(Window::default);
                if w.then.is_some() {
                    return Err(once());
                }
                window_step(w, t, keys)?;
            }
            (Transformation::TopSum { .. }, _) => {
                let w = window.get_or_insert_with(Window::default);
                if w.then.is_some() {
                    return Err(once());
                }
                cut_step(w, t, |e| over(OPTION).expr(e))?;
            }
            _ => {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    format!("`{t}` after groupby or aggregate is not supported: filter, orderby, skip, top and their kin, groupby and aggregate are"),
                ))
            }
        }
    }
    Ok((filter, window))
}

/// `topcount(n,e)` and `bottomcount(n,e)` as what they are: `orderby(e desc)/top(n)` and
/// `orderby(e)/top(n)`.
pub(super) fn ranked(apply: &[Transformation]) -> Vec<Transformation> {
    let mut out = Vec::with_capacity(apply.len());
    for t in apply {
        match t {
            Transformation::TopCount { n, expr, bottom } => {
                out.push(Transformation::OrderBy(vec![odata_parser::OrderItem {
                    expr: expr.clone(),
                    desc: !bottom,
                }]));
                out.push(Transformation::Top(*n));
            }
            Transformation::Identity => {}
            other => out.push(other.clone()),
        }
    }
    out
}

/// Makes the fresh window `w` a `topsum`-like one: its rows by the value, highest first
/// (lowest for the bottom forms), kept while the values before them add up to less
/// than the amount.
pub(super) fn cut_step(
    w: &mut Window,
    t: &Transformation,
    bind: impl Fn(&odata_parser::Expr) -> Result<TExpr, BindError>,
) -> Result<(), BindError> {
    let Transformation::TopSum {
        amount,
        expr,
        bottom,
        percent,
    } = t
    else {
        return Ok(());
    };
    let name = t.to_string();
    let name = name.split('(').next().unwrap_or_default();
    if !w.orderby.is_empty() || w.skip > 0 || w.top.is_some() || w.cut.is_some() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            format!("`{name}` after orderby, skip, top or another ranking is not supported: it starts a run of them"),
        ));
    }
    let value = bind(expr)?;
    if !value.ty().is_numeric() {
        return Err(BindError::invalid(
            OPTION,
            None,
            format!("`{name}` adds up numbers: `{expr}` is no number"),
        ));
    }
    let amount = cut_amount(name, amount, *percent)?;
    w.orderby = vec![(value.clone(), !bottom)];
    w.cut = Some(Cut {
        value,
        amount,
        percent: *percent,
        bottom: *bottom,
    });
    Ok(())
}

/// The amount of `topsum(amount,...)`: a number literal, not negative, a percentage at
/// most 100; as decimal text.
pub(super) fn cut_amount(
    name: &str,
    amount: &odata_parser::Expr,
    percent: bool,
) -> Result<String, BindError> {
    use odata_parser::{Expr, Literal};
    use rust_decimal::Decimal;
    let invalid = |why: &str| {
        BindError::invalid(
            OPTION,
            None,
            format!("`{name}` needs {why}, found `{amount}`"),
        )
    };
    let n: Decimal = match amount {
        Expr::Literal(Literal::Int(i), _) => Decimal::from(*i),
        Expr::Literal(Literal::Decimal(t) | Literal::Double(t), _) => t
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| invalid("a finite amount"))?,
        Expr::Literal(..) | Expr::Unary(..) => return Err(invalid("a number as its amount")),
        _ => {
            return Err(BindError::unsupported(
                OPTION,
                None,
                format!("`{name}` takes a number literal as its amount, not `{amount}`"),
            ))
        }
    };
    if n.is_sign_negative() && !n.is_zero() {
        return Err(invalid("an amount that is not negative"));
    }
    if percent && n > Decimal::ONE_HUNDRED {
        return Err(invalid("a percentage between 0 and 100"));
    }
    Ok(n.normalize().to_string())
}

/// Adds an `orderby`, `skip` or `top` step to `w`: an `orderby` before `skip` and `top`
/// orders the rows they choose from, one after them only the rows they kept.
pub(super) fn window_step(
    w: &mut Window,
    t: &Transformation,
    keys: impl Fn(&[odata_parser::OrderItem]) -> Result<Vec<(TExpr, bool)>, BindError>,
) -> Result<(), BindError> {
    if !w.reorder.is_empty() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "orderby, skip and top are taken as one run (an orderby after skip or top only orders what they keep)",
        ));
    }
    match t {
        Transformation::OrderBy(items) if w.skip == 0 && w.top.is_none() && w.cut.is_none() => {
            w.orderby = keys(items)?
        }
        Transformation::OrderBy(items) => w.reorder = keys(items)?,
        Transformation::Skip(n) => {
            w.skip = w.skip.saturating_add(*n);
            w.top = w.top.map(|top| top.saturating_sub(*n));
        }
        Transformation::Top(n) => w.top = Some(w.top.map_or(*n, |top| top.min(*n))),
        _ => {}
    }
    Ok(())
}
