//! Binds `$filter`/`$orderby` expressions: names to model properties, types checked.

use super::error::BindError;
use super::ir::{ArithOp, CmpOp, Entity, Nav, TExpr, TheseInput, Ty, Value};
use super::literal;
use crate::model::{EdmType, MODEL};
use odata_parser::{
    BinaryOp, Expr, KeyPredicate, LambdaKind, Literal, MemberPath, MemberSegment, UnaryOp,
};

/// Deepest lambda nesting we compile.
const MAX_SCOPES: usize = 8;

pub struct ExprBinder<'a> {
    pub option: &'static str,
    pub aliases: &'a [(String, Expr)],
    /// Scope 0 is `$it`; lambdas push `(variable, entity)`.
    scopes: Vec<(Option<String>, Entity)>,
    alias_depth: usize,
    /// `$compute` names and their expressions, for paths from `$it`.
    computed: Vec<(String, TExpr)>,
    /// After an aggregation: the result's columns by path, the only names there are.
    results: Option<Vec<(Vec<String>, Ty)>>,
    /// The scope `$it` names: the instance itself (0), or inside `$expand` the outer
    /// resource's instance (1), while `$this` and plain paths name the expanded entity.
    it_scope: usize,
    /// What `$these` names in this option, where it may be used.
    these: Option<TheseInput>,
    /// The scopes are the entity sets of a `$crossjoin`, named in any letter case.
    over_sets: bool,
}

impl<'a> ExprBinder<'a> {
    pub fn new(option: &'static str, aliases: &'a [(String, Expr)], it: Entity) -> Self {
        Self {
            option,
            aliases,
            scopes: vec![(None, it)],
            alias_depth: 0,
            computed: Vec::new(),
            results: None,
            it_scope: 0,
            these: None,
            over_sets: false,
        }
    }

    /// A binder over the entity sets of a `$crossjoin`: each path starts with one of
    /// `sets`, as a lambda's starts with its variable.
    pub fn over_sets(
        option: &'static str,
        aliases: &'a [(String, Expr)],
        sets: &[(String, Entity)],
    ) -> Self {
        let mut b = Self::new(option, aliases, sets[0].1);
        b.scopes = sets.iter().map(|(n, e)| (Some(n.clone()), *e)).collect();
        b.over_sets = true;
        b
    }

    /// Lets `$these` name the collection this option applies to, as `input` says.
    pub fn with_these(mut self, input: Option<TheseInput>) -> Self {
        self.these = input;
        self
    }

    /// A binder for the options of a navigation expanded from a resource of entity type
    /// `outer` (given only inside `$expand`): `$it` names that resource's instance.
    pub fn in_expand(mut self, outer: Option<Entity>) -> Self {
        if let Some(outer) = outer {
            self.scopes.insert(1, (None, outer));
            self.it_scope = 1;
        }
        self
    }

    /// The entity `$it` is.
    pub(super) fn it(&self) -> Entity {
        self.scopes[0].1
    }

    /// A binder over an aggregated result: its paths name the result's columns.
    pub fn over_results(mut self, columns: Vec<(Vec<String>, Ty)>) -> Self {
        self.results = Some(columns);
        self
    }

    /// A binder in which the names of `$compute` stand for their expressions.
    pub fn with_computed(mut self, computed: &[super::ir::ComputedProp]) -> Self {
        self.computed = computed
            .iter()
            .map(|c| (c.name.clone(), c.expr.clone()))
            .collect();
        self
    }

    /// A binder for a key inside an expression: aliases it resolves count towards the
    /// same depth, so an alias that names itself through `$root/Set(@a)` still ends.
    pub fn within_aliases(mut self, depth: usize) -> Self {
        self.alias_depth = depth;
        self
    }

    pub(super) fn err(&self, pos: usize, msg: impl Into<String>) -> BindError {
        BindError::invalid(self.option, Some(pos), msg)
    }

    /// Binds a boolean expression (a filter).
    pub fn predicate(&mut self, e: &Expr) -> Result<TExpr, BindError> {
        let t = self.expr(e)?;
        match t.ty() {
            Ty::Bool => Ok(t),
            other => Err(self.err(
                pos_of(e),
                format!("expected a Boolean expression, found {}", other.name()),
            )),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> Result<TExpr, BindError> {
        match e {
            Expr::Literal(l, pos) => literal::convert(l)
                .map(TExpr::Lit)
                .map_err(|m| self.err(pos.0, m)),
            Expr::Member(m) => self.member(m),
            Expr::Alias(name, pos) => {
                match self.alias_value(name) {
                    Some(v) if self.alias_depth < 4 => {
                        self.alias_depth += 1;
                        let r = self.expr(&v);
                        self.alias_depth -= 1;
                        r
                    }
                    Some(_) => {
                        Err(self.err(pos.0, format!("parameter alias `{name}` refers to itself")))
                    }
                    // An alias without a value is null (URL conventions §5.1.1.14).
                    None => Ok(TExpr::Lit(Value::Null)),
                }
            }
            Expr::Unary(UnaryOp::Not, inner) => {
                let t = self.predicate(inner)?;
                Ok(TExpr::Not(Box::new(t)))
            }
            Expr::Unary(UnaryOp::Neg, inner) => {
                let t = self.expr(inner)?;
                if !t.ty().is_numeric() && t.ty() != Ty::Duration {
                    return Err(self.err(
                        pos_of(inner),
                        format!("cannot negate a value of type {}", t.ty().name()),
                    ));
                }
                Ok(match t {
                    TExpr::Lit(Value::Int(i)) => TExpr::Lit(Value::Int(i.wrapping_neg())),
                    TExpr::Lit(Value::Duration(d)) => TExpr::Lit(Value::Duration(-d)),
                    t => TExpr::Neg(Box::new(t)),
                })
            }
            Expr::Binary(op, a, b) => self.binary(*op, a, b),
            Expr::In(a, list) => {
                let left = self.expr(a)?;
                // A list may come as an alias's value (`in @ids&@ids=[1,2,3]`).
                let named = match list.as_ref() {
                    Expr::Alias(name, _) => self
                        .alias_value(name)
                        .filter(|v| matches!(v, Expr::List(_))),
                    _ => None,
                };
                let items = match named.as_ref().unwrap_or(list.as_ref()) {
                    Expr::List(items) => items
                        .iter()
                        .map(|i| self.expr(i))
                        .collect::<Result<Vec<_>, _>>()?,
                    other => vec![self.expr(other)?],
                };
                for (i, item) in items.iter().enumerate() {
                    self.check_comparable(&left, item, pos_of(a))
                        .map_err(|mut e| {
                            e.message = format!("item {} of `in`: {}", i + 1, e.message);
                            e
                        })?;
                }
                Ok(TExpr::In(Box::new(left), items))
            }
            Expr::List(_) => Err(self.err(0, "a list is only allowed after `in`")),
            Expr::Call(f, args, pos) => self.call(*f, args, pos.0),
            Expr::Lambda {
                collection,
                kind,
                variable,
                predicate,
            } => self.lambda(collection, *kind, variable.as_deref(), predicate.as_deref()),
            Expr::TypeName(t) => Err(self.err(
                0,
                format!("type name `{t}` is only allowed in cast and isof"),
            )),
            Expr::Object(_) => Err(BindError::unsupported(
                self.option,
                None,
                "JSON object literals are not supported",
            )),
            Expr::Case(pairs) => self.case(pairs),
            Expr::Aggregate { collection, item } => self.collection_aggregate(collection, item),
        }
    }

    /// `Nav/aggregate(value with method)`: its value is bound over the related entities
    /// alone, as the condition of `Nav/$count($filter=...)` is.
    fn collection_aggregate(
        &mut self,
        coll: &MemberPath,
        item: &odata_parser::AggregateItem,
    ) -> Result<TExpr, BindError> {
        let pos = coll.pos.0;
        if coll.segments.first().is_some_and(|s| s.name == "$these") {
            return self.these(coll, Some(item));
        }
        if self.results.is_some() {
            return Err(self.err(
                pos,
                "`aggregate(...)` of a collection does not apply to an aggregated result",
            ));
        }
        let (start, navs, last) = self.walk(coll)?;
        let Start::Scope(scope) = start else {
            return Err(BindError::unsupported(
                self.option,
                Some(pos),
                "`aggregate(...)` over `$root/...` is not supported",
            ));
        };
        if !matches!(last, Walked::Entity(_)) || !navs.last().is_some_and(is_many) {
            return Err(self.err(
                pos,
                "`aggregate(...)` follows a collection-valued navigation property, \
                 e.g. `Leads/aggregate(Value with sum)`",
            ));
        }
        let target = navs
            .last()
            .and_then(|n| MODEL.entity_type(n.target))
            .ok_or_else(|| self.err(pos, "navigation target missing"))?;
        // `$it` inside still names the instance it names outside.
        let (option, aliases, it) = (self.option, self.aliases, self.scopes[self.it_scope].1);
        let (col, from) = super::aggregate::of_collection(option, target, item, |e| {
            ExprBinder::new(option, aliases, target)
                .in_expand(Some(it))
                .expr(e)
        })?;
        Ok(TExpr::Aggregate {
            scope,
            it: self.it_scope,
            navs,
            method: col.method,
            value: col.value.map(Box::new),
            ty: col.ty,
            from,
        })
    }

    /// `$these/aggregate(item)`, or `$these/$count` without `item`: an aggregate of the
    /// collection this option applies to, its value bound over that collection's entity
    /// with `$it` naming the instance it names outside.
    fn these(
        &mut self,
        path: &MemberPath,
        item: Option<&odata_parser::AggregateItem>,
    ) -> Result<TExpr, BindError> {
        let pos = path.pos.0;
        let shape_ok = match (item, path.segments.as_slice()) {
            (Some(_), [s]) => s.key.is_none(),
            (None, [s, c]) => s.key.is_none() && c.name == "$count" && c.key.is_none(),
            _ => false,
        };
        if !shape_ok {
            return Err(self.err(
                pos,
                "`$these` is followed by `/aggregate(...)` or `/$count` alone",
            ));
        }
        let over_result = self.results.is_some();
        let Some(input) = self
            .these
            .filter(|i| over_result == (*i == TheseInput::Result))
        else {
            return Err(BindError::unsupported(
                self.option,
                Some(pos),
                "`$these` is supported in $filter, $orderby and $compute of an entity \
                 collection (the request's or an expanded one's) and in a compute, a first \
                 filter or $orderby over an aggregated result, not here",
            ));
        };
        let entity = self.scopes[0].1;
        let (method, value, ty, from) = match item {
            None => (None, None, Ty::Edm(EdmType::Int64), Vec::new()),
            Some(item) => {
                let (option, aliases, it) =
                    (self.option, self.aliases, self.scopes[self.it_scope].1);
                let results = self.results.clone();
                let (col, from) = super::aggregate::of_collection(option, entity, item, |e| {
                    let b = ExprBinder::new(option, aliases, entity);
                    match &results {
                        // The value names the result's columns, row by row.
                        Some(columns) => b.over_results(columns.clone()).expr(e),
                        None => b.in_expand(Some(it)).expr(e),
                    }
                })?;
                (col.method, col.value.map(Box::new), col.ty, from)
            }
        };
        Ok(TExpr::These {
            input,
            it: self.it_scope,
            method,
            value,
            ty,
            from,
        })
    }

    /// The literal `e` is, directly or as a parameter alias's value.
    pub(super) fn literal_of(&self, e: &Expr) -> Option<Literal> {
        let mut e = e.clone();
        // As many aliases deep as `expr` follows.
        for _ in 0..=4 {
            match e {
                Expr::Literal(l, _) => return Some(l),
                Expr::Alias(name, _) => e = self.alias_value(&name)?,
                _ => return None,
            }
        }
        None
    }

    /// The expression a parameter alias (`@name`) stands for, if the request gives one.
    fn alias_value(&self, name: &str) -> Option<Expr> {
        self.aliases
            .iter()
            .find(|(n, _)| {
                n.eq_ignore_ascii_case(name)
                    || n.trim_start_matches('@')
                        .eq_ignore_ascii_case(name.trim_start_matches('@'))
            })
            .map(|(_, v)| v.clone())
    }

    /// `case(condition:result, ...)`: the first result whose condition is true, else
    /// null. The results share one type, numbers promoted to the widest.
    fn case(&mut self, pairs: &[(Expr, Expr)]) -> Result<TExpr, BindError> {
        let mut out = Vec::new();
        let mut ty = Ty::Null;
        for (cond, result) in pairs {
            let c = self.predicate(cond)?;
            let r = self.expr(result)?;
            let t = r.ty();
            ty = match (ty, t) {
                (Ty::Null, t) | (t, Ty::Null) => t,
                (a, b) if a == b => a,
                (a, b) if a.is_numeric() && b.is_numeric() => {
                    if a == Ty::Edm(EdmType::Double) || b == Ty::Edm(EdmType::Double) {
                        Ty::Edm(EdmType::Double)
                    } else if matches!(
                        (a, b),
                        (Ty::Edm(EdmType::Decimal(..)), _) | (_, Ty::Edm(EdmType::Decimal(..)))
                    ) {
                        Ty::Edm(EdmType::Decimal(38, 10))
                    } else {
                        Ty::Edm(EdmType::Int64)
                    }
                }
                (a, b) => {
                    return Err(self.err(
                        pos_of(result),
                        format!(
                            "the results of case must have one type, found {} and {}",
                            a.name(),
                            b.name()
                        ),
                    ))
                }
            };
            out.push((c, r));
        }
        if out.is_empty() {
            return Err(self.err(0, "case needs at least one condition:result pair"));
        }
        if ty == Ty::Null {
            // Every result is null, so the case is, whatever the conditions.
            return Ok(TExpr::Lit(Value::Null));
        }
        Ok(TExpr::Case(out, ty))
    }

    fn binary(&mut self, op: BinaryOp, a: &Expr, b: &Expr) -> Result<TExpr, BindError> {
        let cmp = |c| Some(c);
        let cmp_op = match op {
            BinaryOp::Eq => cmp(CmpOp::Eq),
            BinaryOp::Ne => cmp(CmpOp::Ne),
            BinaryOp::Gt => cmp(CmpOp::Gt),
            BinaryOp::Ge => cmp(CmpOp::Ge),
            BinaryOp::Lt => cmp(CmpOp::Lt),
            BinaryOp::Le => cmp(CmpOp::Le),
            _ => None,
        };
        if let (Some(c @ (CmpOp::Eq | CmpOp::Ne)), Some(exists)) = (cmp_op, self.related(a, b)) {
            return Ok(if c == CmpOp::Eq {
                TExpr::Not(Box::new(exists))
            } else {
                exists
            });
        }
        if let Some(c) = cmp_op {
            let (l, r) = (self.expr(a)?, self.expr(b)?);
            self.check_comparable(&l, &r, pos_of(a))?;
            if matches!(c, CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le)
                && (l.ty() == Ty::Bool || r.ty() == Ty::Bool)
            {
                return Err(self.err(
                    pos_of(a),
                    "Boolean values can only be compared with eq and ne",
                ));
            }
            return Ok(TExpr::Cmp(c, Box::new(l), Box::new(r)));
        }
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (l, r) = (self.predicate(a)?, self.predicate(b)?);
                Ok(if op == BinaryOp::And {
                    TExpr::And(Box::new(l), Box::new(r))
                } else {
                    TExpr::Or(Box::new(l), Box::new(r))
                })
            }
            BinaryOp::Has => Err(BindError::unsupported(
                self.option,
                Some(pos_of(a)),
                "`has` needs an enumeration property; this model has none",
            )),
            _ => {
                let aop = match op {
                    BinaryOp::Add => ArithOp::Add,
                    BinaryOp::Sub => ArithOp::Sub,
                    BinaryOp::Mul => ArithOp::Mul,
                    BinaryOp::Div => ArithOp::Div,
                    BinaryOp::DivBy => ArithOp::DivBy,
                    _ => ArithOp::Mod,
                };
                let (l, r) = (self.expr(a)?, self.expr(b)?);
                self.check_divisor(aop, &l, &r, pos_of(b))?;
                match temporal(aop, l.ty(), r.ty()) {
                    Some(Temporal::Shift { swap, back }) => {
                        let (base, by) = if swap { (r, l) } else { (l, r) };
                        return Ok(TExpr::Shift {
                            base: Box::new(base),
                            by: Box::new(by),
                            back,
                        });
                    }
                    Some(Temporal::Elapsed) => {
                        return Ok(TExpr::Elapsed(Box::new(l), Box::new(r)));
                    }
                    Some(Temporal::Durations) => {
                        return Ok(TExpr::Arith(aop, Box::new(l), Box::new(r)));
                    }
                    None => {}
                }
                for (side, t) in [(a, &l), (b, &r)] {
                    if !t.ty().is_numeric() && t.ty() != Ty::Null {
                        return Err(self.err(
                            pos_of(side),
                            format!(
                                "arithmetic needs numbers, or for add and sub a \
                                 DateTimeOffset or Date with a Duration, found {} {} {}",
                                l.ty().name(),
                                op_name(op),
                                r.ty().name()
                            ),
                        ));
                    }
                }
                Ok(TExpr::Arith(aop, Box::new(l), Box::new(r)))
            }
        }
    }

    /// A literal zero divisor fails the request where OData says so (URL conventions
    /// 5.1.1.2): `div` unless the quotient is a Double, and `mod`. Refused here, whatever
    /// rows there are; a divisor that is zero only in the data fails the statement.
    fn check_divisor(
        &self,
        op: ArithOp,
        l: &TExpr,
        r: &TExpr,
        pos: usize,
    ) -> Result<(), BindError> {
        let fails = match op {
            ArithOp::Div => super::ir::arith_type(op, l.ty(), r.ty()) != Ty::Edm(EdmType::Double),
            ArithOp::Mod => true,
            _ => false,
        };
        // A null dividend makes the result null, whatever the divisor.
        if !fails || !is_zero(r) || matches!(l, TExpr::Lit(Value::Null)) {
            return Ok(());
        }
        let name = if op == ArithOp::Div { "div" } else { "mod" };
        Err(BindError::out_of_range(
            self.option,
            Some(pos),
            format!(
                "division by zero: the right operand of {name} is 0 (only a Double divided \
                 by zero, or divby, gives INF, -INF or NaN)"
            ),
        ))
    }

    fn check_comparable(&self, l: &TExpr, r: &TExpr, pos: usize) -> Result<(), BindError> {
        let (a, b) = (l.ty(), r.ty());
        let ok = a == Ty::Null
            || b == Ty::Null
            || a == b
            || (a.is_numeric() && b.is_numeric())
            || matches!(
                (a, b),
                (Ty::Edm(EdmType::DateTimeOffset), Ty::Date)
                    | (Ty::Date, Ty::Edm(EdmType::DateTimeOffset))
            );
        if ok {
            Ok(())
        } else {
            Err(self.err(
                pos,
                format!("cannot compare {} with {}", a.name(), b.name()),
            ))
        }
    }

    /// Resolves a member path to a property, a collection count, or (for lambdas) a
    /// navigation chain.
    fn member(&mut self, m: &MemberPath) -> Result<TExpr, BindError> {
        if m.segments.first().is_some_and(|s| s.name == "$these") {
            return self.these(m, None);
        }
        if let Some(columns) = &self.results {
            let names: Vec<&str> = m.segments.iter().map(|s| s.name.as_str()).collect();
            let found = columns.iter().position(|(path, _)| {
                path.len() == names.len() && super::ir::starts_with_names(path, &names)
            });
            return match found {
                Some(index) => Ok(TExpr::Column {
                    index,
                    ty: columns[index].1,
                }),
                None => Err(self.err(
                    m.pos.0,
                    format!(
                        "`{}` is not a property of the aggregated result; it has {}",
                        names.join("/"),
                        columns
                            .iter()
                            .map(|(p, _)| p.join("/"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            };
        }
        if let ([seg], false) = (m.segments.as_slice(), self.computed.is_empty()) {
            let own = self.scopes[0].1;
            if seg.key.is_none() && own.property(&seg.name).is_none() {
                if let Some((_, e)) = self.computed.iter().find(|(n, _)| *n == seg.name) {
                    return Ok(e.clone());
                }
            }
        }
        let (start, navs, last) = self.walk(m)?;
        let scope = match start {
            Start::Scope(scope) => scope,
            Start::Root(entity, key) => {
                return match last {
                    Walked::Entity(_) => {
                        Err(self.err(m.pos.0, "`$root/...` must end in a property or `$count`"))
                    }
                    Walked::Count(Some(_)) => Err(BindError::unsupported(
                        self.option,
                        Some(m.pos.0),
                        "`$root/...` with `$filter(...)` is not supported",
                    )),
                    last => Ok(TExpr::Root {
                        entity,
                        key,
                        navs,
                        prop: match last {
                            Walked::Prop(p) => Some(p),
                            _ => None,
                        },
                    }),
                };
            }
        };
        match last {
            Walked::Prop(prop) => Ok(TExpr::Prop { scope, navs, prop }),
            Walked::Count(filter) => {
                let filter = match filter {
                    Some(cond) => Some(Box::new(self.count_filter(&navs, cond, m.pos.0)?)),
                    None => None,
                };
                Ok(TExpr::Count {
                    scope,
                    navs,
                    filter,
                })
            }
            Walked::Entity(name) if navs.last().is_some_and(is_many) => Err(self.err(
                m.pos.0,
                format!("`{name}` is a collection; use any(), all() or $count"),
            )),
            Walked::Entity(name) => Err(self.err(
                m.pos.0,
                format!(
                    "`{name}` is a navigation property; name one of its properties, \
                     e.g. `{name}/...`, or compare it with null"
                ),
            )),
        }
    }

    /// `Nav eq null` / `Nav ne null` with a single-valued navigation property (either
    /// side): whether a related entity exists, as `Nav/any()` would say it.
    fn related(&self, a: &Expr, b: &Expr) -> Option<TExpr> {
        let m = match (a, b) {
            (Expr::Member(m), Expr::Literal(Literal::Null, _))
            | (Expr::Literal(Literal::Null, _), Expr::Member(m)) => m,
            _ => return None,
        };
        if self.results.is_some() {
            return None;
        }
        match self.walk(m).ok()? {
            (Start::Scope(scope), navs, Walked::Entity(_))
                if navs.last().is_some_and(|n| !is_many(n)) =>
            {
                Some(TExpr::Lambda {
                    scope,
                    navs,
                    all: false,
                    body: None,
                })
            }
            _ => None,
        }
    }

    /// Walks segments from a scope, or from one entity named by `$root`, through
    /// navigation properties.
    fn walk<'m>(&self, m: &'m MemberPath) -> Result<(Start, Vec<Nav>, Walked<'m>), BindError> {
        let pos = m.pos.0;
        let mut segs = m.segments.iter().peekable();
        let mut start = Start::Scope(0);
        if let Some(first) = segs.peek() {
            if first.name == "$it" {
                segs.next();
                start = Start::Scope(self.it_scope);
            } else if first.name == "$this" {
                segs.next();
            } else if first.name == "$root" {
                segs.next();
                start = self.root(segs.next(), pos)?;
            } else if let Some(i) = self.scopes.iter().rposition(|(v, _)| {
                v.as_deref().is_some_and(|v| {
                    v == first.name || (self.over_sets && v.eq_ignore_ascii_case(&first.name))
                })
            }) {
                start = Start::Scope(i);
                segs.next();
            }
        }
        let mut entity = match &start {
            Start::Scope(i) => self.scopes[*i].1,
            Start::Root(entity, _) => entity,
        };
        let mut navs = Vec::new();
        let mut walked = None;
        let mut filter = None;
        while let Some(seg) = segs.next() {
            if walked.is_some() {
                return Err(self.err(pos, format!("`{}` cannot follow a property", seg.name)));
            }
            if let (Some(KeyPredicate::Single(cond)), "$filter") = (&seg.key, seg.name.as_str()) {
                let counted = segs.peek().is_some_and(|s| s.name == "$count");
                if !navs.last().is_some_and(is_many) || filter.is_some() {
                    return Err(self.err(
                        pos,
                        "`$filter(...)` must follow a collection-valued navigation property",
                    ));
                }
                if !counted {
                    return Err(BindError::unsupported(
                        self.option,
                        Some(pos),
                        "`$filter(...)` in an expression is supported before `$count` only",
                    ));
                }
                filter = Some(cond);
                continue;
            }
            if seg.key.is_some() {
                return Err(self.err(
                    pos,
                    format!("`{}` cannot take a key or parameters here", seg.name),
                ));
            }
            if seg.name == "$count" {
                match navs.last() {
                    Some(n) if is_many(n) && segs.peek().is_none() => {
                        walked = Some(Walked::Count(filter.take()))
                    }
                    _ => {
                        return Err(self.err(
                            pos,
                            "`$count` must follow a collection-valued navigation property",
                        ))
                    }
                }
                continue;
            }
            if let Some(last) = navs.last() {
                if is_many(last) {
                    return Err(self.err(
                        pos,
                        format!(
                            "`{}` is a collection; use any(), all() or $count",
                            last.name
                        ),
                    ));
                }
            }
            if let Some(p) = entity.property(&seg.name) {
                walked = Some(Walked::Prop(p));
            } else if let Some(n) = entity.nav(&seg.name) {
                navs.push(n);
                entity = MODEL
                    .entity_type(n.target)
                    .ok_or_else(|| self.err(pos, "navigation target missing from model"))?;
            } else {
                return Err(self.err(
                    pos,
                    format!("`{}` is not a property of {}", seg.name, entity.name),
                ));
            }
        }
        let last = match walked {
            Some(w) => w,
            None => Walked::Entity(navs.last().map(|n| n.name).unwrap_or("$it")),
        };
        Ok((start, navs, last))
    }

    /// The condition of `Nav/$count($filter=cond)`: its paths name the related entity's
    /// properties, as in `$expand`'s own `$filter`.
    fn count_filter(&self, navs: &[Nav], cond: &Expr, pos: usize) -> Result<TExpr, BindError> {
        let target = navs
            .last()
            .and_then(|n| MODEL.entity_type(n.target))
            .ok_or_else(|| self.err(pos, "navigation target missing"))?;
        ExprBinder::new(self.option, self.aliases, target).predicate(cond)
    }

    /// `$root/Set(key)`: the one entity of the caller's workspace the key names.
    fn root(&self, set: Option<&MemberSegment>, pos: usize) -> Result<Start, BindError> {
        let set = set.ok_or_else(|| self.err(pos, "expected an entity set after `$root/`"))?;
        let entity = MODEL
            .entity_set(&set.name)
            .ok_or_else(|| self.err(pos, format!("`{}` is not an entity set", set.name)))?;
        let key = set.key.as_ref().ok_or_else(|| {
            self.err(
                pos,
                format!(
                    "`$root/{}` needs a key, e.g. `$root/{}(1)/...`",
                    entity.set, entity.set
                ),
            )
        })?;
        let key = super::bind_key(
            self.option,
            self.alias_depth,
            entity,
            key,
            self.aliases,
            pos,
        )?;
        Ok(Start::Root(entity, key))
    }

    fn lambda(
        &mut self,
        coll: &MemberPath,
        kind: LambdaKind,
        var: Option<&str>,
        body: Option<&Expr>,
    ) -> Result<TExpr, BindError> {
        if self.results.is_some() {
            return Err(self.err(
                coll.pos.0,
                "any() and all() do not apply to an aggregated result",
            ));
        }
        let (start, navs, last) = self.walk(coll)?;
        let Start::Scope(scope) = start else {
            return Err(BindError::unsupported(
                self.option,
                Some(coll.pos.0),
                "any() and all() over `$root/...` are not supported",
            ));
        };
        let ok = matches!(last, Walked::Entity(_)) && navs.last().is_some_and(is_many);
        if !ok {
            return Err(self.err(
                coll.pos.0,
                "any() and all() need a collection-valued navigation property",
            ));
        }
        if self.scopes.len() >= MAX_SCOPES {
            return Err(self.err(coll.pos.0, "lambda expressions are nested too deeply"));
        }
        let target = navs
            .last()
            .and_then(|n| MODEL.entity_type(n.target))
            .ok_or_else(|| self.err(coll.pos.0, "navigation target missing"))?;
        let body = match (var, body) {
            (Some(v), Some(b)) => {
                self.scopes.push((Some(v.to_owned()), target));
                let r = self.predicate(b);
                self.scopes.pop();
                Some(Box::new(r?))
            }
            _ if kind == LambdaKind::All => {
                return Err(self.err(coll.pos.0, "all() needs a range variable and a predicate"))
            }
            _ => None,
        };
        Ok(TExpr::Lambda {
            scope,
            navs,
            all: kind == LambdaKind::All,
            body,
        })
    }
}

/// Where a member path starts: a scope (`$it` or a lambda variable), or `$root/Set(key)`.
enum Start {
    Scope(usize),
    Root(Entity, Vec<(super::ir::Prop, Value)>),
}

enum Walked<'e> {
    Prop(super::ir::Prop),
    /// With the condition of a `$filter(...)` segment before `$count`, if any.
    Count(Option<&'e Expr>),
    Entity(&'static str),
}

fn is_many(n: &Nav) -> bool {
    n.many
}

/// Best-effort position of an expression for error messages.
pub fn pos_of(e: &Expr) -> usize {
    match e {
        Expr::Member(m) => m.pos.0,
        Expr::Alias(_, p) | Expr::Call(_, _, p) | Expr::Literal(_, p) => p.0,
        Expr::Lambda { collection, .. } | Expr::Aggregate { collection, .. } => collection.pos.0,
        Expr::Unary(_, e) => pos_of(e),
        Expr::Binary(_, a, _) | Expr::In(a, _) => pos_of(a),
        _ => 0,
    }
}

/// Whether `e` is a literal zero (`0`, `-0.0`, `0E0`).
fn is_zero(e: &TExpr) -> bool {
    match e {
        TExpr::Lit(Value::Int(0)) => true,
        TExpr::Lit(Value::Double(d)) => *d == 0.0,
        TExpr::Lit(Value::Decimal(d)) => d.parse::<f64>().is_ok_and(|v| v == 0.0),
        TExpr::Neg(inner) => is_zero(inner),
        _ => false,
    }
}

/// The arithmetic OData defines on instants, dates and durations (URL conventions,
/// 5.1.1.2), by the operands' types.
enum Temporal {
    /// An instant or date moved by a duration (`swap`: the duration is on the left).
    Shift { swap: bool, back: bool },
    /// The duration between two instants, or two dates.
    Elapsed,
    /// Durations added or subtracted, or one multiplied or divided by a number.
    Durations,
}

/// `None` for the rest, which is number arithmetic or an error.
fn temporal(op: ArithOp, tl: Ty, tr: Ty) -> Option<Temporal> {
    let instant = |t: Ty| matches!(t, Ty::Edm(EdmType::DateTimeOffset) | Ty::Date);
    let duration = |t: Ty| matches!(t, Ty::Duration | Ty::Null);
    let number = |t: Ty| t.is_numeric() || t == Ty::Null;
    Some(match op {
        ArithOp::Add | ArithOp::Sub if instant(tl) && duration(tr) => Temporal::Shift {
            swap: false,
            back: op == ArithOp::Sub,
        },
        ArithOp::Add if tl == Ty::Duration && instant(tr) => Temporal::Shift {
            swap: true,
            back: false,
        },
        ArithOp::Sub if instant(tl) && tl == tr => Temporal::Elapsed,
        ArithOp::Add | ArithOp::Sub
            if (tl == Ty::Duration && duration(tr)) || (tr == Ty::Duration && duration(tl)) =>
        {
            Temporal::Durations
        }
        ArithOp::Mul
            if (tl == Ty::Duration && number(tr)) || (tr == Ty::Duration && number(tl)) =>
        {
            Temporal::Durations
        }
        ArithOp::Div if tl == Ty::Duration && number(tr) => Temporal::Durations,
        _ => return None,
    })
}

fn op_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::DivBy => "divby",
        _ => "mod",
    }
}
