//! Syntax tree of an OData request URL. Knows nothing about the entity model:
//! names are kept as written, and the binder resolves them case-insensitively.
//!
//! Every node prints back to canonical OData with `Display` (see `display.rs`);
//! parsing that text yields an equal tree. `Pos` values never take part in
//! equality, so a re-printed tree compares equal to the original.

use std::fmt;

/// Byte offset into the original (percent-encoded) query string, or into the
/// path for path-level nodes. Equality ignores it on purpose.
#[derive(Clone, Copy, Default)]
pub struct Pos(pub usize);

impl PartialEq for Pos {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Pos {}
impl fmt::Debug for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// A whole request: resource path plus query options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataUrl {
    pub path: ResourcePath,
    pub options: QueryOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourcePath {
    /// `/` — the service document.
    ServiceRoot,
    /// `$metadata`
    Metadata,
    /// `$batch`
    Batch,
    /// Entity set, key, navigation, property and `$count`/`$value`/`$ref` segments, in order.
    Segments(Vec<PathSegment>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// An entity set, navigation property or property name, with an optional key predicate.
    Name {
        name: String,
        key: Option<KeyPredicate>,
        pos: Pos,
    },
    /// `/$count`
    Count,
    /// `/$value`
    Value,
    /// `/$ref`
    Ref,
    /// `/$filter(expr)` path segment (4.01).
    Filter(Expr),
    /// `/$each` (4.01).
    Each,
    /// `/$query` (4.01, options in the body).
    Query,
    /// `$entity` (first segment; `$id` names the entity).
    Entity,
    /// `$all`
    All,
    /// `$crossjoin(A,B)`
    CrossJoin(Vec<String>),
    /// A segment that is not an identifier: a key-as-segment value (`Customers/1`,
    /// `People/O'Neil`) or an ordinal index (`Addresses/0`), decoded. The binder decides.
    KeyOrIndex(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPredicate {
    /// `(272970)`, `('WON')`; the value is a `Literal` or `Alias` expression.
    Single(Expr),
    /// `(ContactId=272970)` or composite `(A=1,B='x')`.
    Named(Vec<(String, Expr)>),
}

/// System query options at one level (the request, or inside `$expand(...)` / `$select(...)`).
/// Names of options are matched case-insensitively and with or without `$`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    pub select: Option<Vec<SelectItem>>,
    pub expand: Option<Vec<ExpandItem>>,
    pub filter: Option<Expr>,
    pub orderby: Option<Vec<OrderItem>>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: Option<bool>,
    pub search: Option<SearchExpr>,
    pub compute: Option<Vec<ComputeItem>>,
    /// `$apply` (OData Data Aggregation): transformations in order.
    pub apply: Option<Vec<Transformation>>,
    /// Only meaningful inside `$expand(...)`.
    pub levels: Option<Levels>,
    /// Opaque server paging token, as sent (decoded).
    pub skiptoken: Option<String>,
    /// `$format` value as sent, e.g. `json`, `atom`, `application/json;odata.metadata=full`.
    pub format: Option<String>,
    /// Parameter aliases `@p=<expr>`, in request order (top level only).
    pub aliases: Vec<(String, Expr)>,
    /// Options not starting with `$` or `@` (custom query options), decoded, in order.
    pub custom: Vec<(String, String)>,
    /// `$id` (with `$entity` or `$ref`), decoded.
    pub id: Option<String>,
    /// `$index` (4.01, POST to ordered collections).
    pub index: Option<i64>,
    /// `$schemaversion`, as sent.
    pub schemaversion: Option<String>,
    /// `$deltatoken`, opaque, decoded.
    pub deltatoken: Option<String>,
    /// Temporal options `$at`, `$from`, `$to`, `$toInclusive` (OData Temporal), name in
    /// canonical case without `$`.
    pub temporal: Vec<(String, Expr)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`
    Star,
    /// `Namespace.*`
    AllOperations(String),
    /// `Name`, `Nav/Name`, with optional nested options `Name($select=...)` (4.01).
    Path {
        path: Vec<String>,
        options: Option<Box<QueryOptions>>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandItem {
    pub target: ExpandTarget,
    /// `Nav/$ref`
    pub is_ref: bool,
    /// `Nav/$count`
    pub is_count: bool,
    /// Nested options inside `(...)`, separated by `;`.
    pub options: QueryOptions,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandTarget {
    /// `*`
    Star,
    /// `Nav` or `Complex/Nav` (navigation path, last segment is the navigation property).
    Path(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Levels {
    N(u32),
    Max,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub expr: Expr,
    pub desc: bool,
}

/// One transformation of `$apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformation {
    /// `filter(condition)`
    Filter(Expr),
    /// `compute(expr as Name, ...)`
    Compute(Vec<ComputeItem>),
    /// `aggregate(item, ...)`
    Aggregate(Vec<AggregateItem>),
    /// `groupby((path, ...))` or `groupby((path, ...), aggregate(item, ...))`; the
    /// levels of a `rollup(...)` among the paths stand in `paths` in their place. Any
    /// other transformations applied to each group are `per_group` (then `aggregate`
    /// is empty).
    GroupBy {
        paths: Vec<GroupPath>,
        rollups: Vec<Rollup>,
        aggregate: Vec<AggregateItem>,
        per_group: Vec<Transformation>,
    },
    /// `orderby(expr [asc|desc], ...)`
    OrderBy(Vec<OrderItem>),
    /// `skip(n)`
    Skip(u64),
    /// `top(n)`
    Top(u64),
    /// `search(terms)`, as `$search` reads them.
    Search(SearchExpr),
    /// `topcount(n,expr)` (or `bottomcount` with `bottom`): the `n` rows with the
    /// highest (lowest) values of `expr`.
    TopCount { n: u64, expr: Expr, bottom: bool },
    /// `topsum(amount,expr)`, `toppercent(amount,expr)` (with `percent`) and their
    /// `bottom` forms: the fewest rows, highest (lowest) values of `expr` first, whose
    /// values add up to `amount` (or `amount` percent of all the rows' total).
    TopSum {
        amount: Expr,
        expr: Expr,
        bottom: bool,
        percent: bool,
    },
    /// `identity`: the input set unchanged.
    Identity,
    /// `concat(seq,seq,...)`: the results of two or more sequences over the same
    /// input, one after the other.
    Concat(Vec<Vec<Transformation>>),
}

/// `rollup(p1,...,pn)` among a groupby's paths: `paths[start..end]` are its levels,
/// coarsest first. `all`, from `rollup($all,...)` (Data Aggregation 4.0 CS02), adds the
/// grouping without any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    pub start: usize,
    pub end: usize,
    pub all: bool,
}

/// A grouping property: `StatusId`, `Status/Description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPath {
    pub segments: Vec<String>,
    pub pos: Pos,
}

/// `expr with method as Alias`, or `$count as Alias` (`value` and `method` `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateItem {
    pub value: Option<Expr>,
    pub method: Option<AggregateMethod>,
    /// `from p1,...,pn with method`, in order: the aggregate per group of those paths,
    /// then aggregated over the groups with the method (Data Aggregation 3.2.1.4).
    pub from: Vec<(Vec<GroupPath>, AggregateMethod)>,
    pub alias: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateMethod {
    Sum,
    Min,
    Max,
    Average,
    CountDistinct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeItem {
    pub expr: Expr,
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchExpr {
    Term(String),
    Phrase(String),
    Not(Box<SearchExpr>),
    And(Box<SearchExpr>, Box<SearchExpr>),
    Or(Box<SearchExpr>, Box<SearchExpr>),
}

/// An expression in `$filter`, `$orderby`, `$compute`, keys and aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal and where it starts.
    Literal(Literal, Pos),
    /// `Name`, `Status/DeadFlag`, `$it/Name`, `l/StatusFlag` (range variable first), `$root/Contacts(1)/Name`.
    Member(MemberPath),
    /// `@p`
    Alias(String, Pos),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x in (a, b, c)` or `x in @list`.
    In(Box<Expr>, Box<Expr>),
    /// A parenthesised list `(a, b, c)` — the right side of `in`; also JSON arrays `[1,2]`.
    List(Vec<Expr>),
    /// Canonical function call, e.g. `contains(Email,'@x.com')`.
    Call(Function, Vec<Expr>, Pos),
    /// A qualified type name as an argument of `cast`/`isof`, e.g. `Edm.String`.
    TypeName(String),
    /// A JSON object `{"Name":"x","Size":[1,2]}` (4.01 literal and alias values).
    Object(Vec<(String, Expr)>),
    /// `case(cond:value, ...)` (4.01), e.g. `case(X gt 0:1,true:0)`.
    Case(Vec<(Expr, Expr)>),
    /// `Leads/any(l: l/StatusFlag eq 'A')`, `Leads/any()`, `Leads/all(l: ...)`.
    Lambda {
        collection: MemberPath,
        kind: LambdaKind,
        /// `None` only for `any()` without arguments.
        variable: Option<String>,
        predicate: Option<Box<Expr>>,
    },
    /// `Leads/aggregate(Value with sum)`: one aggregate over a collection's members
    /// (Data Aggregation's `collectionPathExpr`); the item's alias is empty.
    Aggregate {
        collection: MemberPath,
        item: Box<AggregateItem>,
    },
}

impl Expr {
    /// Whether `$these` occurs in this expression (parameter aliases not followed).
    pub fn names_these(&self) -> bool {
        let these = |m: &MemberPath| m.segments.first().is_some_and(|s| s.name == "$these");
        match self {
            Expr::Member(m) => these(m),
            Expr::Aggregate { collection, item } => {
                these(collection) || item.value.as_ref().is_some_and(Expr::names_these)
            }
            Expr::Unary(_, a) => a.names_these(),
            Expr::Binary(_, a, b) | Expr::In(a, b) => a.names_these() || b.names_these(),
            Expr::List(items) | Expr::Call(_, items, _) => items.iter().any(Expr::names_these),
            Expr::Object(members) => members.iter().any(|(_, v)| v.names_these()),
            Expr::Case(pairs) => pairs
                .iter()
                .any(|(c, r)| c.names_these() || r.names_these()),
            Expr::Lambda { predicate, .. } => predicate.as_ref().is_some_and(|p| p.names_these()),
            Expr::Literal(..) | Expr::Alias(..) | Expr::TypeName(_) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPath {
    /// Segments as written. May start with `$it`, `$root` or a lambda range variable.
    pub segments: Vec<MemberSegment>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSegment {
    pub name: String,
    /// A key after a collection (`$root/Contacts(1)`, `Items(1)`), or the parameters of a
    /// bound/unbound function (`Model.Fn(a=1)`; `Model.Fn()` is an empty `Named`), or the
    /// condition of a `$filter(...)` segment (`Single`).
    pub key: Option<KeyPredicate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Has,
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    DivBy,
    Mod,
}

/// Canonical functions, matched case-insensitively; printed in canonical (lower camel) case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Contains,
    StartsWith,
    EndsWith,
    Length,
    IndexOf,
    Substring,
    ToLower,
    ToUpper,
    Trim,
    Concat,
    MatchesPattern,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    FractionalSeconds,
    TotalSeconds,
    Date,
    Time,
    TotalOffsetMinutes,
    Now,
    MaxDateTime,
    MinDateTime,
    Round,
    Floor,
    Ceiling,
    Cast,
    IsOf,
    HasSubset,
    HasSubsequence,
    GeoDistance,
    GeoIntersects,
    GeoLength,
}

/// Primitive literals. Numeric and temporal literals keep their validated source text so
/// that trees stay `Eq` and print back exactly; the binder converts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// Fits in i64.
    Int(i64),
    /// `1.5`, `-0.25`, or an integer too large for i64 (text as written, sign included).
    Decimal(String),
    /// `1.5e3`, `INF`, `-INF`, `NaN` (text as written).
    Double(String),
    /// The unescaped string value (`''` already turned into `'`).
    String(String),
    /// `2024-01-31`
    Date(String),
    /// `2024-01-31T10:00:00Z`, `2024-01-31T10:00:00.5+01:00`
    DateTimeOffset(String),
    /// `10:00:00`, `10:00`
    TimeOfDay(String),
    /// The ISO 8601 duration text inside `duration'...'` (e.g. `P1DT2H`), or a bare one (4.01).
    Duration(String),
    /// `01234567-89ab-cdef-0123-456789abcdef`
    Guid(String),
    /// Decoded bytes of `binary'...'` (base64url).
    Binary(Vec<u8>),
    /// `Namespace.Type'Member'` or, without a type prefix (4.01), `'Member'` is a String;
    /// this variant is only produced when a type prefix is present.
    Enum {
        type_name: String,
        value: String,
    },
    /// `geography'SRID=0;Point(1 2)'`: the validated text between the quotes.
    Geography(String),
    /// `geometry'SRID=0;Point(1 2)'`: the validated text between the quotes.
    Geometry(String),
}
