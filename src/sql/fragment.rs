//! The one way SQL is built: a list of SQL text, model identifiers and bind parameters,
//! walked by Diesel's `AstPass` so every value is a bind parameter on every backend.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::QueryResult;
use std::marker::PhantomData;

/// A value sent as a bind parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Double(f64),
    Text(String),
    Null,
}

#[derive(Debug, Clone)]
enum Part {
    Sql(String),
    Bind(Bind),
}

/// SQL for one statement. `ST` is the Diesel type of a result row.
#[derive(Debug, Clone)]
pub struct Sql<ST = Text> {
    parts: Vec<Part>,
    /// Whether this statement's shape may stay prepared, decided on the first of the
    /// several walks Diesel makes per execution (see `statement_cache`).
    cacheable: std::cell::OnceCell<bool>,
    /// Planned for its bound values on every execution (see `plan_per_execution`).
    per_execution: bool,
    row: PhantomData<ST>,
}

impl<ST> Default for Sql<ST> {
    fn default() -> Self {
        Self {
            parts: Vec::new(),
            cacheable: std::cell::OnceCell::new(),
            per_execution: false,
            row: PhantomData,
        }
    }
}

impl<ST> Sql<ST> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends SQL text. Callers pass only fixed text and numbers they produced
    /// themselves, never client input.
    pub fn sql(&mut self, text: &str) -> &mut Self {
        self.write(text.len(), |s| s.push_str(text));
        self
    }

    /// Writes into the SQL text being appended to, with room for `more` bytes. A
    /// statement is built from hundreds of small pieces, so they go into one string.
    fn write(&mut self, more: usize, f: impl FnOnce(&mut String)) {
        self.cacheable.take();
        match self.parts.last_mut() {
            Some(Part::Sql(s)) => {
                s.reserve(more);
                f(s);
            }
            _ => {
                // Room for what usually follows: growing by doubling from the first
                // piece's length was a tenth of compiling a read by key.
                let mut s = String::with_capacity(more.max(512));
                f(&mut s);
                self.parts.push(Part::Sql(s));
            }
        }
    }

    /// Appends a double-quoted identifier from the entity model. Model names are plain
    /// lower-case ASCII (checked by the model's tests), so quoting needs no escaping and
    /// reads the same on SQLite and PostgreSQL; keeping it in the text lets adjacent SQL
    /// merge into one part.
    pub fn ident(&mut self, name: &'static str) -> &mut Self {
        self.column("", name)
    }

    /// Appends `alias.column` (or the column alone for an empty alias) with both parts
    /// taken from the planner / model.
    pub fn column(&mut self, alias: &str, column: &'static str) -> &mut Self {
        debug_assert!(column
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        self.write(alias.len() + column.len() + 3, |s| {
            if !alias.is_empty() {
                s.push_str(alias);
                s.push('.');
            }
            s.push('"');
            s.push_str(column);
            s.push('"');
        });
        self
    }

    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.cacheable.take();
        self.parts.push(Part::Bind(value));
        self
    }

    pub fn bind_int(&mut self, v: i64) -> &mut Self {
        self.bind(Bind::Int(v))
    }

    pub fn bind_text(&mut self, v: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(v.into()))
    }

    /// Never kept prepared, so PostgreSQL plans the statement with its bound values each
    /// time. For conditions whose best plan depends on the value (a trigram lookup): a
    /// kept statement turns generic after five executions, and the generic plan for
    /// `LIKE $1` cannot know the index narrows it to a few rows.
    pub fn plan_per_execution(&mut self) -> &mut Self {
        self.per_execution = true;
        self
    }

    /// Appends another fragment.
    pub fn append<T>(&mut self, other: Sql<T>) -> &mut Self {
        self.cacheable.take();
        self.per_execution |= other.per_execution;
        for p in other.parts {
            match p {
                Part::Sql(s) => {
                    self.sql(&s);
                }
                p => self.parts.push(p),
            }
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Re-types the row this statement returns.
    pub fn returning<T>(self) -> Sql<T> {
        Sql {
            parts: self.parts,
            cacheable: std::cell::OnceCell::new(),
            per_execution: self.per_execution,
            row: PhantomData,
        }
    }

    /// SQL text with `?` placeholders, and the bound values: for `explain` and snapshot tests.
    pub fn debug_text(&self) -> (String, Vec<Bind>) {
        let mut text = String::new();
        let mut binds = Vec::new();
        for p in &self.parts {
            match p {
                Part::Sql(s) => text.push_str(s),
                Part::Bind(b) => {
                    text.push('?');
                    binds.push(b.clone());
                }
            }
        }
        (text, binds)
    }
}

impl<ST> QueryId for Sql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> Query for Sql<ST> {
    type SqlType = ST;
}

impl<ST, Conn> diesel::RunQueryDsl<Conn> for Sql<ST> {}

impl<ST, DB> QueryFragment<DB> for Sql<ST>
where
    DB: Backend,
    i64: ToSql<BigInt, DB>,
    f64: ToSql<Double, DB>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.per_execution
            || !*self
                .cacheable
                .get_or_init(|| statement_cache::admits(&self.parts))
        {
            out.unsafe_to_cache_prepared();
        }
        for p in &self.parts {
            match p {
                Part::Sql(s) => out.push_sql(s),
                Part::Bind(Bind::Int(v)) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Bind(Bind::Double(v)) => out.push_bind_param::<Double, f64>(v)?,
                Part::Bind(Bind::Text(v)) => out.push_bind_param::<Text, String>(v)?,
                Part::Bind(Bind::Null) => {
                    out.push_bind_param::<Nullable<Text>, Option<String>>(&None)?
                }
            }
        }
        Ok(())
    }
}

/// Which statement shapes connections keep prepared. Each connection caches every SQL
/// text it has prepared, for its whole life; a client can vary `$filter`, `$select` or
/// an `in` list without end, so without a bound that cache (and, on PostgreSQL, each
/// backend's memory) would grow with every new shape. The first [`SHAPES`] shapes this
/// process sees are cached; later ones are prepared for their one execution.
mod statement_cache {
    use super::Part;
    use foldhash::fast::RandomState;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hash, Hasher};
    use std::sync::{Mutex, OnceLock};

    pub const SHAPES: usize = 2048;

    struct Admitted {
        /// Seeded per process, so a client cannot craft texts that collide (and a
        /// collision would only keep one more statement prepared). SipHash over each
        /// statement's text was 2% of a read by key's instructions.
        keys: RandomState,
        shapes: Mutex<HashSet<u64>>,
    }

    fn admitted() -> &'static Admitted {
        static A: OnceLock<Admitted> = OnceLock::new();
        A.get_or_init(|| Admitted {
            keys: RandomState::default(),
            shapes: Mutex::new(HashSet::new()),
        })
    }

    /// Whether statements of this shape (its SQL text; bound values don't count) may
    /// stay prepared. Admits new shapes until [`SHAPES`] are known.
    pub fn admits(parts: &[Part]) -> bool {
        let a = admitted();
        let mut h = a.keys.build_hasher();
        for p in parts {
            match p {
                Part::Sql(s) => s.hash(&mut h),
                Part::Bind(_) => h.write_u8(0),
            }
        }
        let shape = h.finish();
        let mut shapes = a.shapes.lock().unwrap_or_else(|p| p.into_inner());
        if shapes.contains(&shape) {
            return true;
        }
        if shapes.len() < SHAPES {
            shapes.insert(shape);
            return true;
        }
        false
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn shape(i: usize) -> Vec<Part> {
            vec![
                Part::Sql(format!("SELECT {i} FROM t WHERE x = ")),
                Part::Bind(super::super::Bind::Int(1)),
            ]
        }

        #[test]
        fn the_number_of_cached_shapes_is_bounded() {
            // Other tests in this process may have admitted shapes already; fill up.
            let mut i = 0;
            let mut first = None;
            while admits(&shape(1_000_000 + i)) {
                first.get_or_insert(i);
                i += 1;
                assert!(i <= SHAPES, "more than {SHAPES} shapes admitted");
            }
            // Full: new shapes are refused, known ones still cached, binds don't matter.
            assert!(!admits(&shape(9_999_999)));
            assert!(admits(&shape(1_000_000)) || first.is_none());
            let mut same = shape(1_000_000);
            same[1] = Part::Bind(super::super::Bind::Text("other".into()));
            assert_eq!(admits(&same), admits(&shape(1_000_000)));
        }
    }
}
