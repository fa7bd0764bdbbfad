//! `crm-odata explain URL`: the syntax tree, the bound request and the SQL, without a database.

use crate::bind::{self, Target};
use crate::db::Dialect;
use crate::plan::plan_read;
use crate::sql::{Compiler, Output};

pub fn explain(target: &str, dialect: Dialect) -> Result<String, String> {
    let url = odata_parser::parse_target(target).map_err(|e| e.to_string())?;
    let mut out = format!("Parsed:\n  {url}\n\nTree:\n{url:#?}\n");
    let bound = bind::bind(&url).map_err(|e| e.to_string())?;
    let mut c = Compiler::new(dialect, 1, Output::default());
    let (sql, binds) = match &bound {
        Target::Entities(read) => {
            let plan = plan_read(read, 1000, None).map_err(|e| e.to_string())?;
            let s = c.select(&plan).debug_text();
            if read.shape.count {
                let (count, cb) = c.count(read).debug_text();
                out.push_str(&format!("\nCount SQL:\n  {count}\n  binds: {cb:?}\n"));
            }
            s
        }
        Target::Count(read) => c.count(read).debug_text(),
        Target::Property { read, .. } => {
            let plan = plan_read(read, 1, None).map_err(|e| e.to_string())?;
            c.select(&plan).debug_text()
        }
        other => return Ok(format!("{out}\n{other:?} (no SQL)")),
    };
    out.push_str(&format!(
        "\nSQL ({dialect:?}, workspace bound as 1):\n  {sql}\n  binds: {binds:?}\n"
    ));
    Ok(out)
}
