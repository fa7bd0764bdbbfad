//! Pages of expanded collections. An expanded collection longer than a page ends, in its
//! row's JSON, with a marker object in place of the row after the page (see
//! `sql::expand`): `{"@crm.page":[n,"Contacts(1)",[order values]]}`, where `n` numbers
//! the expand and the URL names the entity the collection belongs to. Each marker
//! becomes the collection's `Nav@odata.nextLink`, written after the array.

use crate::sql::PAGE_MARKER;
use memchr::memmem;

/// Where one page of an expanded collection ended.
#[derive(Debug, serde::Deserialize)]
pub struct PageEnd {
    /// The expand's number (`Compiler::expand_pages`).
    pub page: usize,
    /// The canonical URL of the entity whose collection it is, relative to the root.
    pub parent: String,
    /// The order values of the page's last row.
    pub after: Vec<serde_json::Value>,
    /// The URL of the request's resource row, where the expand's options name `$it`.
    #[serde(default)]
    pub it: Option<String>,
}

#[derive(serde::Deserialize)]
struct Marker {
    #[serde(rename = "@crm.page")]
    end: PageEnd,
}

/// A marker that is not where the statement puts one: a fault of this service's own.
#[derive(Debug, thiserror::Error)]
#[error("an expanded collection's page ended in an unreadable marker: {0}")]
pub struct MarkerError(pub String);

/// Replaces each marker in `row` by `"<Nav>@odata.nextLink":"<url>"` after its array;
/// `link` gives the navigation property's name and the URL for a page end. Rows without
/// markers (nearly all) are only searched; the others are written anew in one pass.
pub fn link_pages<E: From<MarkerError>>(
    row: &mut String,
    mut link: impl FnMut(PageEnd) -> Result<(&'static str, String), E>,
) -> Result<(), E> {
    let opening = format!("{{\"{PAGE_MARKER}\":");
    let finder = memmem::Finder::new(opening.as_bytes());
    let text = row.as_str();
    let mut out: Option<String> = None;
    // What of `text` has been copied to `out`.
    let mut copied = 0;
    for start in finder.find_iter(text.as_bytes()) {
        if start < copied {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(text.get(start..).unwrap_or_default())
            .into_iter::<Marker>();
        let marker = match stream.next() {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(MarkerError(e.to_string()).into()),
            None => return Err(MarkerError("nothing after its opening".into()).into()),
        };
        let end = start + stream.byte_offset();
        // The marker follows a page's rows (at least one) and closes the array.
        let before = start.checked_sub(1).and_then(|i| text.as_bytes().get(i));
        if before != Some(&b',') || text.as_bytes().get(end) != Some(&b']') {
            return Err(MarkerError("not the last item of an array of rows".into()).into());
        }
        let (nav, url) = link(marker.end)?;
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
        out.push_str(text.get(copied..start - 1).unwrap_or_default());
        out.push_str("],\"");
        out.push_str(nav);
        out.push_str("@odata.nextLink\":");
        out.push_str(&serde_json::Value::String(url).to_string());
        copied = end + 1;
    }
    if let Some(mut out) = out {
        out.push_str(text.get(copied..).unwrap_or_default());
        *row = out;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linked(row: &str) -> Result<String, MarkerError> {
        let mut row = row.to_owned();
        link_pages(&mut row, |end: PageEnd| {
            Ok::<_, MarkerError>((
                "Leads",
                format!("{}/Leads?n={}&a={}", end.parent, end.page, end.after.len()),
            ))
        })?;
        Ok(row)
    }

    #[test]
    fn a_marker_becomes_the_next_link_after_its_array() {
        let row = r#"{"A":1,"Leads":[{"B":2},{"@crm.page":[0,"Contacts(7)",[5,"x"]]}],"C":3}"#;
        assert_eq!(
            linked(row).unwrap(),
            r#"{"A":1,"Leads":[{"B":2}],"Leads@odata.nextLink":"Contacts(7)/Leads?n=0&a=2","C":3}"#
        );
    }

    #[test]
    fn markers_nested_in_rows_are_each_replaced() {
        let row = concat!(
            r#"{"Leads":[{"X":[{"i":1},{"@crm.page":[1,"Leads(1)",[1]]}]},"#,
            r#"{"@crm.page":[0,"Contacts(1)",[2]]}]}"#
        );
        assert_eq!(
            linked(row).unwrap(),
            concat!(
                r#"{"Leads":[{"X":[{"i":1}],"Leads@odata.nextLink":"Leads(1)/Leads?n=1&a=1"}],"#,
                r#""Leads@odata.nextLink":"Contacts(1)/Leads?n=0&a=1"}"#
            )
        );
    }

    #[test]
    fn text_that_only_looks_like_a_marker_stays() {
        // Inside a string the quotes are escaped, so the opening never matches there.
        let row = r#"{"Note":"{\"@crm.page\":[0,\"x\",[]]}","Leads":[]}"#;
        assert_eq!(linked(row).unwrap(), row);
    }

    #[test]
    fn a_misplaced_marker_is_an_error() {
        assert!(linked(r#"{"Leads":[{"@crm.page":[0,"Contacts(1)",[]]}]}"#).is_err());
        assert!(linked(r#"{"Leads":[{"a":1},{"@crm.page":[0,"Contacts(1)"]}]}"#).is_err());
    }
}
