//! The typed query: names resolved against the model, literals converted, types checked.

use crate::model::{EdmType, EntityType, NavProperty, Property};
use odata_parser::{Function, SearchExpr};

pub type Entity = &'static EntityType;
pub type Prop = &'static Property;
pub type Nav = &'static NavProperty;

/// What the request addresses.
#[derive(Debug)]
pub enum Target {
    ServiceDocument,
    Metadata,
    Batch,
    /// An entity collection or a single entity, with the options that shape it.
    Entities(Read),
    /// `.../$ref`: the same entities as references (`@odata.id` only).
    References(Read),
    /// `$apply` with `groupby` or `aggregate`: rows of grouped values and aggregates.
    Aggregated(Aggregation),
    /// `/$count` of such a result.
    AggregatedCount(Aggregation),
    /// `$apply` ending in `concat(...)`: the results of its sequences, one after the other.
    Concatenated(Concatenation),
    /// `/$count` of such a result.
    ConcatenatedCount(Concatenation),
    /// `$all`: the entities of every entity set, one set after the other.
    All(AllEntities),
    /// `$crossjoin(...)`: every combination of the sets' entities.
    CrossJoin(CrossJoin),
    /// `/$count` of a collection.
    Count(Read),
    /// A property of a single entity; `raw` for `/$value`.
    Property {
        read: Read,
        prop: Prop,
        raw: bool,
    },
}

/// One step of a navigation path before the addressed entities, e.g. `Contacts(1)` in
/// `Contacts(1)/Leads`.
#[derive(Debug, Clone)]
pub struct PathStep {
    pub entity: Entity,
    pub key: Option<Vec<(Prop, Value)>>,
    /// Navigation from this step to the next one (or to the read's entity).
    pub nav: Nav,
}

#[derive(Debug)]
pub struct Read {
    pub entity: Entity,
    /// The entity set path leading here (`Contacts(1)` for `Contacts(1)/Leads`); empty for a plain set.
    pub path: Vec<PathStep>,
    pub key: Option<Vec<(Prop, Value)>>,
    /// Addresses one entity (a key, or a single-valued navigation).
    pub single: bool,
    pub shape: Shape,
    /// Name the context URL uses for the result, e.g. `Contacts`, `Contacts(1)/Leads`.
    pub context_path: String,
}

impl Read {
    /// The one entity this read navigates from (`Contacts(1)` for `Contacts(1)/Leads`,
    /// `Leads(5)` for `Leads(5)/Status`), as a read of its own. Without it the read's
    /// resource does not exist (404); with it, no related entity is an empty collection,
    /// or for a single-valued navigation no content (204).
    pub fn parent(&self) -> Option<Read> {
        let (last, rest) = self.path.split_last()?;
        Some(Read {
            entity: last.entity,
            path: rest.to_vec(),
            key: last.key.clone(),
            single: true,
            shape: Shape::default(),
            context_path: String::new(),
        })
    }
}

/// The entities of `read` (its path and the filters before the aggregation), or the
/// result of an aggregation before this one, grouped and aggregated. The result's
/// columns are the groups, then the aggregates; `filter` and `orderby` refer to them
/// as [`TExpr::Column`].
#[derive(Debug)]
pub struct Aggregation {
    pub input: AggregationInput,
    pub groups: Vec<GroupCol>,
    pub aggregates: Vec<AggregateCol>,
    /// With `rollup`s, the groupings made, finest first: for each, which groups it has
    /// (the others are absent from its rows). Empty: one grouping by every group.
    pub sets: Vec<Vec<bool>>,
    /// Each input row already has its own groups (the entity key is among them, or the
    /// level passes the rows before through): no grouping needed.
    pub distinct: bool,
    pub filter: Option<TExpr>,
    /// `orderby`, `skip` and `top` transformations over the result, after `filter`.
    pub window: Option<Window>,
    pub orderby: Vec<(TExpr, bool)>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: bool,
    /// `$select`: the result columns returned (all when `None`).
    pub select: Option<Vec<usize>>,
}

/// The sequences of a `concat(...)`, each with the transformations before it, and the
/// `$top`, `$skip` and `$count` over their rows together.
#[derive(Debug)]
pub struct Concatenation {
    pub branches: Vec<Aggregation>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: bool,
}

/// `$all`: one read per entity set (in the container's order, each by key), with
/// `$top`, `$skip` and `$count` over their entities together.
#[derive(Debug)]
pub struct AllEntities {
    pub reads: Vec<Read>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: bool,
}

/// `$crossjoin(A,B,...)`: a row per combination of the sets' entities, each set a
/// single-valued navigation property of the row. Expressions name the sets as scopes:
/// scope `i` is `sets[i]`.
#[derive(Debug)]
pub struct CrossJoin {
    pub sets: Vec<CrossJoinSet>,
    pub filter: Option<TExpr>,
    pub orderby: Vec<(TExpr, bool)>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: bool,
}

#[derive(Debug)]
pub struct CrossJoinSet {
    pub entity: Entity,
    /// Expanded (the entity, so shaped) or not (its navigation link).
    pub expand: Option<Shape>,
}

/// One aggregation's result is a concatenation of one sequence, its own `$top`, `$skip`
/// and `$count` over it: read, counted and written the same way.
impl From<Aggregation> for Concatenation {
    fn from(ag: Aggregation) -> Self {
        Concatenation {
            top: ag.top,
            skip: ag.skip,
            count: ag.count,
            branches: vec![ag],
        }
    }
}

impl Concatenation {
    /// The entity the aggregated entities are navigated from, if any.
    pub fn parent(&self) -> Option<Read> {
        self.branches.first().and_then(|ag| ag.read().parent())
    }
}

/// What an aggregation groups.
// One per request: the size of the larger variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AggregationInput {
    /// The entities of `read`, with the `orderby`, `skip` and `top` transformations
    /// over them (the window's `reorder` and `then` unused).
    Entities { read: Read, window: Option<Window> },
    /// The result of the aggregation before (`groupby(...)/aggregate(...)`): its
    /// columns are this one's [`TExpr::Column`]s; its `$`-options unused.
    Grouped(Box<Aggregation>),
}

/// The rows `orderby(...)/skip(n)/top(n)` keep of an aggregated result, and the filters
/// after them (with `$filter`).
#[derive(Debug, Default)]
pub struct Window {
    /// The order the rows are chosen by.
    pub orderby: Vec<(TExpr, bool)>,
    pub skip: u64,
    pub top: Option<u64>,
    /// An `orderby` after `skip`/`top`: the order the chosen rows are written in.
    pub reorder: Vec<(TExpr, bool)>,
    pub then: Option<TExpr>,
    /// `topsum`, `toppercent` and their bottom forms: the rows in `orderby` (by the
    /// value, nulls last) kept while the values before them add up to less than the
    /// amount; `skip` and `top` then count the rows kept.
    pub cut: Option<Cut>,
    /// Over the entities, per group of the aggregation they feed
    /// (`groupby((G),topcount(n,v)/...)`): the rows each group of its first `n` groups
    /// keeps.
    pub partition: Option<usize>,
}

/// The entities a `topsum`-like ranking keeps of `input` (the read's path and the
/// `filter`/`search` steps before it, in `input.shape`), by the key of each.
#[derive(Debug)]
pub struct Kept {
    pub input: Read,
    pub cut: Cut,
}

/// The amount a `topsum`-like window's values must reach.
#[derive(Debug, Clone)]
pub struct Cut {
    pub value: TExpr,
    /// A non-negative decimal, as validated text.
    pub amount: String,
    /// `amount` is a percentage (at most 100) of all the rows' total.
    pub percent: bool,
    pub bottom: bool,
}

impl Aggregation {
    /// The read whose entities the first aggregation groups.
    pub fn read(&self) -> &Read {
        match &self.input {
            AggregationInput::Entities { read, .. } => read,
            AggregationInput::Grouped(inner) => inner.read(),
        }
    }

    /// Whether result column `index` (groups first, then aggregates) is returned.
    pub fn returns(&self, index: usize) -> bool {
        self.select.as_ref().is_none_or(|s| s.contains(&index))
    }

    /// The type of result column `index`.
    pub fn column_ty(&self, index: usize) -> Ty {
        match self.groups.get(index) {
            Some(g) => g.ty(),
            None => self
                .aggregates
                .get(index - self.groups.len())
                .map_or(Ty::Null, |a| a.ty),
        }
    }

    /// The returned object's members: each group under its navigation path, then the
    /// aggregates. Both the rows and the context URL are written from it.
    pub fn layout(&self) -> Vec<(String, Layout)> {
        self.layout_of(None)
    }

    /// The members of the rows of grouping `set` (its groups only), or of all rows.
    pub fn layout_of(&self, set: Option<&[bool]>) -> Vec<(String, Layout)> {
        let mut root: Vec<(String, Layout)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            if !self.returns(i) || !in_set(set, i) {
                continue;
            }
            place(&mut root, &g.navs, g.name(), i, g.keyed);
        }
        let groups = self.groups.len();
        for (j, a) in self.aggregates.iter().enumerate() {
            if self.returns(groups + j) {
                root.push((a.alias.clone(), Layout::Column(groups + j)));
            }
        }
        root
    }
}

/// Whether `path` begins with the names of `prefix` (names match case-insensitively).
pub fn starts_with_names(path: &[impl AsRef<str>], prefix: &[impl AsRef<str>]) -> bool {
    path.len() >= prefix.len()
        && path
            .iter()
            .zip(prefix)
            .all(|(a, b)| a.as_ref().eq_ignore_ascii_case(b.as_ref()))
}

/// Whether grouping `set` (see [`Aggregation::sets`]; `None`: every group) has group `i`.
pub fn in_set(set: Option<&[bool]>, i: usize) -> bool {
    set.is_none_or(|s| s.get(i).copied().unwrap_or(true))
}

/// Puts column `index` at `name` under the objects `navs` name, making them as needed;
/// a `keyed` column makes the object holding it null where it is null.
fn place(members: &mut Vec<(String, Layout)>, navs: &[Nav], name: &str, index: usize, keyed: bool) {
    let Some((nav, rest)) = navs.split_first() else {
        if !members.iter().any(|(n, _)| n == name) {
            members.push((name.to_owned(), Layout::Column(index)));
        }
        return;
    };
    let at = match members.iter().position(|(n, _)| n == nav.name) {
        Some(at) => at,
        None => {
            members.push((nav.name.to_owned(), Layout::Object(Vec::new(), None)));
            members.len() - 1
        }
    };
    // A name that is both a navigation and a value cannot come from the binder.
    if let Layout::Object(inner, null_with) = &mut members[at].1 {
        if keyed && rest.is_empty() {
            *null_with = Some(index);
        }
        place(inner, rest, name, index, keyed);
    }
}

/// A member of an aggregated row: a result column, or an object of members (a
/// navigation), null where the column given (the related entity's key) is.
#[derive(Debug)]
pub enum Layout {
    Column(usize),
    Object(Vec<(String, Layout)>, Option<usize>),
}

/// A grouping property, through single-valued navigation, or a value `compute(...)` named.
#[derive(Debug)]
pub struct GroupCol {
    pub navs: Vec<Nav>,
    pub value: GroupValue,
    /// The key of a navigation grouped by as a whole (`groupby((Status))`): where it is
    /// null, there is no related entity, and the object is null.
    pub keyed: bool,
}

#[derive(Debug)]
pub enum GroupValue {
    Prop(Prop),
    Computed(String, TExpr),
}

impl GroupCol {
    /// The name the result gives the value (at the end of `navs`).
    pub fn name(&self) -> &str {
        match &self.value {
            GroupValue::Prop(p) => p.name,
            GroupValue::Computed(name, _) => name,
        }
    }

    pub fn ty(&self) -> Ty {
        match &self.value {
            GroupValue::Prop(p) => Ty::of(p),
            GroupValue::Computed(_, e) => e.ty(),
        }
    }
}

/// `value with method as alias`; `$count as alias` has neither value nor method.
#[derive(Debug)]
pub struct AggregateCol {
    pub alias: String,
    pub method: Option<odata_parser::AggregateMethod>,
    pub value: Option<TExpr>,
    pub ty: Ty,
    /// A path's navigations (`Leads` in `Leads/Value with sum`): the value is then the
    /// property of each distinct entity they reach from the input set (Data Aggregation
    /// 3.2.1.1), or none (`Status with countdistinct`: those entities themselves).
    pub through: Vec<Nav>,
}

/// Options that shape the entities at one level ($select, $expand, $filter, ...).
#[derive(Debug, Default)]
pub struct Shape {
    /// Properties to return; `None` means all.
    pub select: Option<Vec<Prop>>,
    pub expand: Vec<Expand>,
    pub filter: Option<TExpr>,
    pub search: Option<SearchExpr>,
    pub orderby: Vec<(TExpr, bool)>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: bool,
    /// `$compute`: properties computed per entity, in the order given.
    pub compute: Vec<ComputedProp>,
    /// `$apply=toppercent(...)` and the like alone: only the entities the ranking keeps.
    pub kept: Option<Box<Kept>>,
    /// Navigation properties named in `$select`: the context URL lists them (their
    /// links are the ones full metadata writes anyway).
    pub select_navs: Vec<&'static str>,
}

impl Shape {
    /// Navigation properties along the longest path of this level's `$expand`.
    pub fn expand_levels(&self) -> usize {
        self.expand
            .iter()
            .map(|e| 1 + e.shape.expand_levels())
            .max()
            .unwrap_or(0)
    }

    /// Whether `$these` occurs in this level's `$filter`, `$orderby` or `$compute`.
    pub fn uses_these(&self) -> bool {
        self.filter.as_ref().is_some_and(TExpr::uses_these)
            || self.orderby.iter().any(|(e, _)| e.uses_these())
            || self.compute.iter().any(|c| c.expr.uses_these())
    }
}

/// `expr as name` of `$compute`. Its name stands for the expression in `$filter` and
/// `$orderby`; the value is returned when there is no `$select` or it names it.
#[derive(Debug)]
pub struct ComputedProp {
    pub name: String,
    pub expr: TExpr,
    pub selected: bool,
}

#[derive(Debug)]
pub struct Expand {
    pub nav: Nav,
    pub target: Entity,
    pub shape: Shape,
    /// `Nav/$ref`: only entity references.
    pub is_ref: bool,
    /// `Nav/$count`: only the count.
    pub is_count: bool,
    /// For a collection: its options as the query of a request for the collection
    /// itself (`Contacts(1)/Leads?...`), which a page of it links to when more rows
    /// follow.
    pub next_query: Option<super::next_query::NextQuery>,
    /// `Nav($apply=...)` with groupby or aggregate: the result over each instance's
    /// related entities replaces them (then `shape` is empty).
    pub apply: Option<Box<Aggregation>>,
}

/// A converted literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Decimal text, validated.
    Decimal(String),
    Double(f64),
    String(String),
    /// Normalised to UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    DateTimeOffset(String),
    /// `YYYY-MM-DD`
    Date(String),
    /// `HH:MM:SS`
    TimeOfDay(String),
    /// A duration in seconds (ISO 8601 `P1DT2H` is 93,600).
    Duration(f64),
}

/// Static type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Null,
    Bool,
    Edm(EdmType),
    Date,
    TimeOfDay,
    /// `Edm.Duration`: no property has it; literals and differences of instants do.
    Duration,
}

impl Ty {
    /// A property's type (`Edm.Boolean` is `Bool`, whatever the column holds).
    pub fn of(p: Prop) -> Ty {
        if p.ty == EdmType::Boolean {
            Ty::Bool
        } else {
            Ty::Edm(p.ty)
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "Edm.Boolean",
            Ty::Edm(t) => t.name(),
            Ty::Date => "Edm.Date",
            Ty::TimeOfDay => "Edm.TimeOfDay",
            Ty::Duration => "Edm.Duration",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Edm(t) if t.is_numeric())
    }

    pub fn is_string(self) -> bool {
        matches!(self, Ty::Edm(EdmType::String))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    DivBy,
    Mod,
}

/// Typed expression. `scope` 0 is the entity being filtered (`$it`); each lambda adds one.
#[derive(Debug, Clone, PartialEq)]
pub enum TExpr {
    Prop {
        scope: usize,
        navs: Vec<Nav>,
        prop: Prop,
    },
    Lit(Value),
    Not(Box<TExpr>),
    And(Box<TExpr>, Box<TExpr>),
    Or(Box<TExpr>, Box<TExpr>),
    Cmp(CmpOp, Box<TExpr>, Box<TExpr>),
    Arith(ArithOp, Box<TExpr>, Box<TExpr>),
    /// An instant or date moved by a duration (`Created add duration'P1D'`); the
    /// result has `base`'s type.
    Shift {
        base: Box<TExpr>,
        by: Box<TExpr>,
        back: bool,
    },
    /// The duration from the second instant (or date) to the first: `a sub b`.
    Elapsed(Box<TExpr>, Box<TExpr>),
    Neg(Box<TExpr>),
    Call(Function, Vec<TExpr>, Ty),
    In(Box<TExpr>, Vec<TExpr>),
    /// `navs` go from `scope` to a collection; the predicate sees it as scope `scope + depth`.
    Lambda {
        scope: usize,
        navs: Vec<Nav>,
        all: bool,
        body: Option<Box<TExpr>>,
    },
    /// `Nav/$count` from `scope`; with `filter`, of the related entities it holds for
    /// (`Nav/$count($filter=...)`, bound over the last navigation's target).
    Count {
        scope: usize,
        navs: Vec<Nav>,
        filter: Option<Box<TExpr>>,
    },
    /// `Nav/aggregate(value with method)` from `scope`: the aggregate of the related
    /// entities (`value` bound over the last navigation's target, with `$it` as its
    /// scope 1, which is `it` outside); `$count` has neither method nor value.
    Aggregate {
        scope: usize,
        it: usize,
        navs: Vec<Nav>,
        method: Option<odata_parser::AggregateMethod>,
        value: Option<Box<TExpr>>,
        ty: Ty,
        from: Vec<AggregateFrom>,
    },
    /// `$these/aggregate(value with method)` or `$these/$count`: the aggregate of the
    /// collection the option applies to, as it stands when that option is evaluated
    /// (`input`); `value` bound over its entities, with `$it` as scope 1, which is `it`
    /// outside.
    These {
        input: TheseInput,
        it: usize,
        method: Option<odata_parser::AggregateMethod>,
        value: Option<Box<TExpr>>,
        ty: Ty,
        from: Vec<AggregateFrom>,
    },
    /// `$root/Set(key)/navs/prop`, or `.../$count` without `prop`: a value of one entity
    /// of the caller's workspace; null when there is no such entity.
    Root {
        entity: Entity,
        key: Vec<(Prop, Value)>,
        navs: Vec<Nav>,
        prop: Option<Prop>,
    },
    /// `case(condition:result, ...)` with the results' common type.
    Case(Vec<(TExpr, TExpr)>, Ty),
    /// Column `index` of an aggregated result.
    Column {
        index: usize,
        ty: Ty,
    },
    /// `cast(expr, type)`: the value as `to`, or null where OData's cast fails. An
    /// integer result must lie in `range` (`Edm.Int16` is an `Edm.Int32` within ±32767).
    Cast {
        expr: Box<TExpr>,
        to: Ty,
        range: Option<(i64, i64)>,
    },
}

/// `from props with method` after an aggregate of a collection (Data Aggregation
/// 3.2.1.4): the aggregate before it, per group of these and the later levels'
/// properties, aggregated with `method` (of result type `ty`).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateFrom {
    pub props: Vec<Prop>,
    pub method: odata_parser::AggregateMethod,
    pub ty: Ty,
}

/// The collection `$these` names in one level's options. The options are evaluated in
/// OData's order ($apply, $compute, $search, $filter, $orderby), each over what the ones
/// before it left: `$compute` sees the level's collection, `$filter` that collection
/// after `$search`, `$orderby` after both. In a `compute` over an aggregated result
/// (`Result`), the rows of the result it computes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TheseInput {
    Compute,
    Filter,
    Order,
    Result,
}

/// The type of `a op b` for operands of types `a` and `b`: `divby` is a decimal,
/// the rest the wider operand's type.
pub fn arith_type(op: ArithOp, a: Ty, b: Ty) -> Ty {
    if op == ArithOp::DivBy {
        return Ty::Edm(EdmType::Decimal(38, 10));
    }
    match (a, b) {
        (Ty::Duration, _) | (_, Ty::Duration) => Ty::Duration,
        (Ty::Edm(EdmType::Double), _) | (_, Ty::Edm(EdmType::Double)) => Ty::Edm(EdmType::Double),
        (Ty::Edm(EdmType::Decimal(..)), _) | (_, Ty::Edm(EdmType::Decimal(..))) => {
            Ty::Edm(EdmType::Decimal(38, 10))
        }
        _ => Ty::Edm(EdmType::Int64),
    }
}

impl TExpr {
    /// The filtered entity's own property this expression names, if it is one.
    pub fn root_prop(&self) -> Option<Prop> {
        match self {
            TExpr::Prop {
                scope: 0,
                navs,
                prop,
            } if navs.is_empty() => Some(prop),
            _ => None,
        }
    }

    /// The operands of this expression's top-level `and`s (itself when it is no `and`).
    pub fn conjuncts(&self) -> Vec<&TExpr> {
        match self {
            TExpr::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    pub fn ty(&self) -> Ty {
        match self {
            TExpr::Prop { prop, .. }
            | TExpr::Root {
                prop: Some(prop), ..
            } => Ty::of(prop),
            TExpr::Lit(v) => match v {
                Value::Null => Ty::Null,
                Value::Bool(_) => Ty::Bool,
                Value::Int(_) => Ty::Edm(EdmType::Int64),
                Value::Decimal(_) => Ty::Edm(EdmType::Decimal(38, 10)),
                Value::Double(_) => Ty::Edm(EdmType::Double),
                Value::String(_) => Ty::Edm(EdmType::String),
                Value::DateTimeOffset(_) => Ty::Edm(EdmType::DateTimeOffset),
                Value::Date(_) => Ty::Date,
                Value::TimeOfDay(_) => Ty::TimeOfDay,
                Value::Duration(_) => Ty::Duration,
            },
            TExpr::Not(_)
            | TExpr::And(..)
            | TExpr::Or(..)
            | TExpr::Cmp(..)
            | TExpr::In(..)
            | TExpr::Lambda { .. } => Ty::Bool,
            TExpr::Arith(op, a, b) => arith_type(*op, a.ty(), b.ty()),
            TExpr::Neg(e) => e.ty(),
            TExpr::Shift { base, .. } => base.ty(),
            TExpr::Elapsed(..) => Ty::Duration,
            TExpr::Call(_, _, ty) => *ty,
            TExpr::Count { .. } => Ty::Edm(EdmType::Int64),
            TExpr::Cast { to, .. } => *to,
            TExpr::Aggregate { ty, from, .. } | TExpr::These { ty, from, .. } => {
                from.last().map_or(*ty, |f| f.ty)
            }
            TExpr::Column { ty, .. } | TExpr::Case(_, ty) => *ty,
            TExpr::Root { prop: None, .. } => Ty::Edm(EdmType::Int64),
        }
    }

    /// The expressions this one is made of that are evaluated in its own scopes: a
    /// lambda's body included, the values of `aggregate(...)` and `$count(...)` (which
    /// have scopes of their own) not.
    pub fn operands(&self) -> Vec<&TExpr> {
        match self {
            TExpr::Prop { .. }
            | TExpr::Lit(_)
            | TExpr::Column { .. }
            | TExpr::Root { .. }
            | TExpr::Count { .. }
            | TExpr::Aggregate { .. }
            | TExpr::These { .. } => Vec::new(),
            TExpr::Not(a) | TExpr::Neg(a) | TExpr::Cast { expr: a, .. } => vec![a],
            TExpr::And(a, b)
            | TExpr::Or(a, b)
            | TExpr::Cmp(_, a, b)
            | TExpr::Arith(_, a, b)
            | TExpr::Elapsed(a, b)
            | TExpr::Shift { base: a, by: b, .. } => vec![a, b],
            TExpr::Call(_, args, _) => args.iter().collect(),
            TExpr::In(a, list) => std::iter::once(&**a).chain(list).collect(),
            TExpr::Lambda { body, .. } => body.iter().map(|b| &**b).collect(),
            TExpr::Case(pairs, _) => pairs.iter().flat_map(|(c, r)| [c, r]).collect(),
        }
    }

    /// Whether `$these` occurs in this expression (the binders of `aggregate(...)` and
    /// `$count(...)` values never admit it).
    pub fn uses_these(&self) -> bool {
        matches!(self, TExpr::These { .. }) || self.operands().into_iter().any(TExpr::uses_these)
    }

    /// Whether this expression reads scope `s`.
    pub fn reads_scope(&self, s: usize) -> bool {
        let own = match self {
            TExpr::Prop { scope, .. }
            | TExpr::Count { scope, .. }
            | TExpr::Lambda { scope, .. } => *scope == s,
            TExpr::Aggregate { scope, it, .. } => *scope == s || *it == s,
            TExpr::These { it, .. } => *it == s,
            // An aggregated result's columns are its rows' own (scope 0).
            TExpr::Column { .. } => s == 0,
            _ => false,
        };
        own || self.operands().into_iter().any(|e| e.reads_scope(s))
    }

    /// Whether SQL evaluation can yield NULL (nullable columns, navigation, functions of those).
    pub fn nullable(&self) -> bool {
        match self {
            TExpr::Prop { navs, prop, .. } => {
                prop.nullable || !navs.is_empty() || prop.computed.is_some()
            }
            TExpr::Lit(v) => *v == Value::Null,
            TExpr::Arith(_, a, b) => {
                a.nullable()
                    || b.nullable()
                    || matches!(
                        self,
                        TExpr::Arith(ArithOp::Div | ArithOp::DivBy | ArithOp::Mod, ..)
                    )
            }
            TExpr::Neg(e) => e.nullable(),
            // SQLite gives null for an instant moved out of its range.
            TExpr::Shift { .. } => true,
            TExpr::Elapsed(a, b) => a.nullable() || b.nullable(),
            TExpr::Call(_, args, _) => args.iter().any(|a| a.nullable()),
            TExpr::Cast { .. } | TExpr::Root { .. } | TExpr::Column { .. } | TExpr::Case(..) => {
                true
            }
            // `not`, `and` and `or` of null are null (unless `and` has a false operand,
            // or `or` a true one); comparisons and lambdas are true or false.
            // Counts are never null; the other aggregates of no values are.
            TExpr::Aggregate { method, from, .. } | TExpr::These { method, from, .. } => {
                let last = from.last().map_or(*method, |f| Some(f.method));
                !matches!(
                    last,
                    None | Some(odata_parser::AggregateMethod::CountDistinct)
                )
            }
            TExpr::Not(a) => a.nullable(),
            TExpr::And(a, b) | TExpr::Or(a, b) => a.nullable() || b.nullable(),
            TExpr::Cmp(..) | TExpr::In(..) | TExpr::Lambda { .. } | TExpr::Count { .. } => false,
        }
    }
}
