//! OData v4.01 URL parser. No model, database or HTTP knowledge: a request target in,
//! a syntax tree (`ast`) or a positioned `ParseError` out.
//!
//! Parsing works on percent-decoded text (borrowed when nothing is encoded); error
//! offsets are mapped back to the raw, encoded input.

mod apply;
pub mod ast;
mod context;
mod decode;
mod display;
mod error;
mod expr;
mod geo;
pub mod headers;
mod lex;
mod literal;
mod options;
mod path;
mod search;

pub use ast::*;
pub use context::check_context_url;
pub use error::{ErrorKind, ParseError};

/// Parses the resource path (the part after the service root, with or without a leading
/// `/`, percent-encoded) and the raw query string (without `?`).
pub fn parse(path: &str, query: Option<&str>) -> Result<ODataUrl, ParseError> {
    let path = path::parse_path(path)?;
    let options = match query {
        Some(q) => options::parse_query(q)?,
        None => QueryOptions::default(),
    };
    check_entity(&path, &options, query.unwrap_or(""))?;
    Ok(ODataUrl { path, options })
}

/// `$entity` needs `$id`, and `$select`/`$expand` only after a type cast (`$entity/Ns.Type`).
fn check_entity(path: &ResourcePath, o: &QueryOptions, query: &str) -> Result<(), ParseError> {
    let ResourcePath::Segments(segs) = path else {
        return Ok(());
    };
    if segs.first() != Some(&PathSegment::Entity) {
        return Ok(());
    }
    let at = |name: &str| {
        query
            .split('&')
            .scan(0, |off, p| {
                let here = *off;
                *off += p.len() + 1;
                Some((here, p))
            })
            .find(|(_, p)| {
                p.trim_start()
                    .to_ascii_lowercase()
                    .trim_start_matches('$')
                    .starts_with(name)
            })
            .map_or(query.len(), |(o, _)| o)
    };
    let fail = |option: &str, offset: usize, message: &str| ParseError {
        kind: ErrorKind::Syntax,
        option: option.into(),
        offset,
        message: message.into(),
    };
    if o.id.is_none() {
        return Err(fail(
            "query",
            query.len(),
            "`$entity` needs an `$id` option",
        ));
    }
    if segs.len() == 1 && (o.select.is_some() || o.expand.is_some()) {
        let off = if o.select.is_some() {
            at("select")
        } else {
            at("expand")
        };
        return Err(fail(
            "query",
            off,
            "`$select`/`$expand` with `$entity` need a type cast, e.g. `$entity/Ns.Type`",
        ));
    }
    Ok(())
}

/// Parses a request target such as `Contacts(1)/Leads?$top=5`.
pub fn parse_target(target: &str) -> Result<ODataUrl, ParseError> {
    match target.split_once('?') {
        Some((p, q)) => parse(p, Some(q)),
        None => parse(target, None),
    }
}

/// Parses only a query string (without `?`) into options.
pub fn parse_query_options(query: &str) -> Result<QueryOptions, ParseError> {
    options::parse_query(query)
}

/// Parses a single, percent-encoded common expression (as in `$filter`). Errors name the
/// option `"expr"`.
pub fn parse_expr(text: &str) -> Result<Expr, ParseError> {
    options::whole("expr", text, 0, |c, i| expr::expr(c, i, 0))
}
