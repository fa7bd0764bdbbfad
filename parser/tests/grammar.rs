//! One test per grammar rule. Precedence is checked through the canonical printout with
//! explicit parentheses where a tree is bulky to spell out.

use odata_parser::*;

fn q(query: &str) -> QueryOptions {
    parse_query_options(query).unwrap_or_else(|e| panic!("{query:?}: {e}"))
}

fn e(text: &str) -> Expr {
    parse_expr(text).unwrap_or_else(|err| panic!("{text:?}: {err}"))
}

/// Fully parenthesised rendering, to make the tree shape visible.
fn shape(x: &Expr) -> String {
    match x {
        Expr::Binary(op, l, r) => format!("({} {op} {})", shape(l), shape(r)),
        Expr::Unary(op, v) => format!("({op}{})", shape(v)),
        Expr::In(l, r) => format!("({} in {})", shape(l), shape(r)),
        other => other.to_string(),
    }
}

fn p(path: &str) -> Vec<PathSegment> {
    match parse(path, None)
        .unwrap_or_else(|err| panic!("{path:?}: {err}"))
        .path
    {
        ResourcePath::Segments(s) => s,
        other => panic!("{other:?}"),
    }
}

fn lit(l: Literal) -> Expr {
    Expr::Literal(l, Pos(0))
}

#[test]
fn resource_paths() {
    assert_eq!(
        parse("$metadata", None).unwrap().path,
        ResourcePath::Metadata
    );
    assert_eq!(parse("/$batch", None).unwrap().path, ResourcePath::Batch);
    let s = p("Contacts(1)/Leads/$count");
    assert!(
        matches!(&s[..], [PathSegment::Name { name, key: Some(_), .. }, PathSegment::Name { .. }, PathSegment::Count] if name == "Contacts")
    );
    assert_eq!(
        p("Leads(5)/Status/$value").last(),
        Some(&PathSegment::Value)
    );
    assert_eq!(p("Contacts(1)/Leads/$ref").last(), Some(&PathSegment::Ref));
    let s = p("Contacts('O''Neil%2FX')");
    assert!(
        matches!(&s[..], [PathSegment::Name { key: Some(KeyPredicate::Single(Expr::Literal(Literal::String(v), _))), .. }] if v == "O'Neil/X")
    );
    let s = p("OrderItems(OrderID=1,ItemID='a')");
    assert!(
        matches!(&s[..], [PathSegment::Name { key: Some(KeyPredicate::Named(pairs)), .. }] if pairs.len() == 2)
    );
    assert_eq!(p("Customers/1")[1], PathSegment::KeyOrIndex("1".into()));
    assert_eq!(p("Contacts%28272970%29"), p("Contacts(272970)"));
    assert_eq!(p("Contacts/"), p("Contacts"));
    for bad in [
        "Contacts(",
        "Contacts(1",
        "Contacts(x)",
        "Contacts/$count/x",
        "$metadata/x",
        "Contacts//Leads",
        "Contacts(1;2)",
        ".Contacts",
    ] {
        let err = parse(bad, None).unwrap_err();
        assert_eq!(err.option, "path", "{bad}");
    }
}

#[test]
fn option_names_are_case_insensitive_and_dollar_optional() {
    assert_eq!(q("$TOP=1").top, Some(1));
    assert_eq!(q("top=1").top, Some(1));
    assert_eq!(q("Skip=2").skip, Some(2));
    assert_eq!(q("$count=TRUE").count, Some(true));
    assert_eq!(
        q("custom=a+b&x").custom,
        vec![("custom".into(), "a+b".into()), ("x".into(), String::new())]
    );
    assert_eq!(
        q("$format=application/json;odata.metadata=full")
            .format
            .as_deref(),
        Some("application/json;odata.metadata=full")
    );
    assert_eq!(
        q("$skiptoken=abc%3D%3D").skiptoken.as_deref(),
        Some("abc==")
    );
}

#[test]
fn select() {
    let s = q("$select=*,Ns.*,Name,Address/City,Leads($select=Id;$top=1)")
        .select
        .unwrap();
    assert_eq!(s[0], SelectItem::Star);
    assert_eq!(s[1], SelectItem::AllOperations("Ns".into()));
    assert!(
        matches!(&s[3], SelectItem::Path { path, options: None, .. } if path == &["Address", "City"])
    );
    assert!(matches!(&s[4], SelectItem::Path { options: Some(o), .. } if o.top == Some(1)));
}

#[test]
fn expand() {
    let x = q("$expand=*,Leads/$ref,Leads/$count($filter=A eq 1),Division($levels=max;$expand=Company;$orderby=Name desc;$skip=1;$top=2;$count=true;$search=x)").expand.unwrap();
    assert_eq!(x[0].target, ExpandTarget::Star);
    assert!(x[1].is_ref && !x[1].is_count);
    assert!(x[2].is_count && x[2].options.filter.is_some());
    let d = &x[3].options;
    assert_eq!(d.levels, Some(Levels::Max));
    assert_eq!((d.skip, d.top, d.count), (Some(1), Some(2), Some(true)));
    assert_eq!(d.search, Some(SearchExpr::Term("x".into())));
    assert!(parse_query_options("$expand=A/$ref($select=B)").is_err());
    assert!(parse_query_options("$expand=A($levels=04)").is_err());
    assert!(parse_query_options("$expand=A($levels=0)").is_err());
    assert!(parse_query_options("$expand=A($levels=10)").is_ok());
}

#[test]
fn orderby_and_compute() {
    let o = q("$orderby=Surname desc,Status/Name,length(Name) asc")
        .orderby
        .unwrap();
    assert_eq!(o.len(), 3);
    assert!(o[0].desc && !o[1].desc && !o[2].desc);
    assert_eq!(o[1].expr.to_string(), "Status/Name");
    let c = q("$compute=Price mul Qty as Total").compute.unwrap();
    assert_eq!(
        (c[0].alias.as_str(), shape(&c[0].expr).as_str()),
        ("Total", "(Price mul Qty)")
    );
}

#[test]
fn search() {
    let s = |t: &str| q(&format!("$search={t}")).search.unwrap().to_string();
    assert_eq!(s("blue green"), "blue AND green");
    assert_eq!(s("a OR b c"), "a OR b AND c");
    assert_eq!(s("(a OR b) c"), "(a OR b) AND c");
    assert_eq!(s("NOT a"), "NOT a");
    assert_eq!(s("\"light blue\" OR x"), "\"light blue\" OR x");
    assert_eq!(
        q("$search=AND").search,
        Some(SearchExpr::Term("AND".into()))
    );
    assert_eq!(
        q("$search=NOT%20NOT").search,
        Some(SearchExpr::Not(Box::new(SearchExpr::Term("NOT".into()))))
    );
    assert!(parse_query_options("$search=\"open").is_err());
    assert!(parse_query_options("$search=(a").is_err());
}

#[test]
fn precedence() {
    assert_eq!(shape(&e("a or b and c")), "(a or (b and c))");
    assert_eq!(shape(&e("a and b or c")), "((a and b) or c)");
    assert_eq!(shape(&e("a eq 1 and b ne 2")), "((a eq 1) and (b ne 2))");
    assert_eq!(shape(&e("a add b mul c gt d")), "((a add (b mul c)) gt d)");
    assert_eq!(shape(&e("a sub b sub c")), "((a sub b) sub c)");
    assert_eq!(shape(&e("not a eq b")), "((not a) eq b)");
    assert_eq!(shape(&e("-a mul b")), "((-a) mul b)");
    assert_eq!(
        shape(&e("a div b divby c mod d")),
        "(((a div b) divby c) mod d)"
    );
    assert_eq!(
        shape(&e("a has Ns.E'x' eq true")),
        "((a has Ns.E'x') eq true)"
    );
    assert_eq!(shape(&e("x in (1,2) or y")), "((x in [1,2]) or y)");
    assert_eq!(e("x in (1,2) or y").to_string(), "x in (1,2) or y");
    assert_eq!(shape(&e("(a or b) and c")), "((a or b) and c)");
    assert_eq!(shape(&e("a EQ 1 AND b Ne 2")), "((a eq 1) and (b ne 2))");
}

#[test]
fn literals_in_expressions() {
    assert_eq!(e("null"), lit(Literal::Null));
    assert_eq!(e("-5"), lit(Literal::Int(-5)));
    assert_eq!(
        e("- 5"),
        Expr::Unary(UnaryOp::Neg, Box::new(lit(Literal::Int(5))))
    );
    assert_eq!(e("1.5"), lit(Literal::Decimal("1.5".into())));
    assert_eq!(e("-INF"), lit(Literal::Double("-INF".into())));
    assert_eq!(e("'it''s'"), lit(Literal::String("it's".into())));
    assert_eq!(e("2024-01-31"), lit(Literal::Date("2024-01-31".into())));
    assert_eq!(e("10:00:00"), lit(Literal::TimeOfDay("10:00:00".into())));
    assert_eq!(e("P1D"), lit(Literal::Duration("P1D".into())));
    assert_eq!(e("duration'PT1H'"), lit(Literal::Duration("PT1H".into())));
    assert_eq!(e("binary'AQI'"), lit(Literal::Binary(vec![1, 2])));
    assert_eq!(
        e("Ns.Color'Red'"),
        lit(Literal::Enum {
            type_name: "Ns.Color".into(),
            value: "Red".into()
        })
    );
    assert_eq!(
        e("2024-01-31T10:00:00%2B01:00"),
        lit(Literal::DateTimeOffset("2024-01-31T10:00:00+01:00".into()))
    );
}

#[test]
fn members_functions_lambdas() {
    let m = e("Status/DeadFlag");
    assert!(matches!(&m, Expr::Member(p) if p.segments.len() == 2));
    assert!(
        matches!(e("CONTAINS(Name,'x')"), Expr::Call(Function::Contains, a, _) if a.len() == 2)
    );
    assert!(matches!(
        e("matchesPattern(Name,'^A')"),
        Expr::Call(Function::MatchesPattern, ..)
    ));
    assert!(
        matches!(e("cast(Edm.String)"), Expr::Call(Function::Cast, a, _) if a == vec![Expr::TypeName("Edm.String".into())])
    );
    assert!(parse_expr("length()").is_err());
    assert!(parse_expr("now(1)").is_err());
    match e("Leads/any(l: l/StatusFlag eq 'A')") {
        Expr::Lambda {
            collection,
            kind,
            variable,
            predicate,
        } => {
            assert_eq!(collection.segments[0].name, "Leads");
            assert_eq!(kind, LambdaKind::Any);
            assert_eq!(variable.as_deref(), Some("l"));
            assert_eq!(predicate.unwrap().to_string(), "l/StatusFlag eq 'A'");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e("Leads/any()"),
        Expr::Lambda {
            variable: None,
            predicate: None,
            ..
        }
    ));
    assert!(parse_expr("Leads/all()").is_err());
    assert!(matches!(e("$it/Name"), Expr::Member(p) if p.segments[0].name == "$it"));
    assert!(matches!(e("$root/Contacts(1)/Name"), Expr::Member(p) if p.segments[1].key.is_some()));
    assert!(matches!(e("@p"), Expr::Alias(n, _) if n == "p"));
}

#[test]
fn aliases() {
    let o = q("$filter=Name eq @n&@n='x'");
    assert_eq!(
        o.aliases,
        vec![("n".into(), lit(Literal::String("x".into())))]
    );
    assert!(parse_query_options("@n=1&@n=2").is_err());
}

#[test]
fn whitespace_between_tokens() {
    assert_eq!(e("( a  eq\t1 )"), e("a eq 1"));
    assert_eq!(q("\n$top=1\n&\n$skip=2\n").skip, Some(2));
    assert_eq!(
        q("$expand=A(\n$select=B;\n$filter=C eq 1\n)"),
        q("$expand=A($select=B;$filter=C eq 1)")
    );
}

/// How deep a tree is, walked without recursion.
fn depth(x: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(x, 1)];
    while let Some((x, d)) = stack.pop() {
        deepest = deepest.max(d);
        match x {
            Expr::Binary(_, l, r) => {
                stack.push((l, d + 1));
                stack.push((r, d + 1));
            }
            Expr::Unary(_, a) => stack.push((a, d + 1)),
            _ => {}
        }
    }
    deepest
}

/// Clients send long `or` chains (Power Query folds a list filter into one): they parse
/// as balanced trees, whatever the grouping, so later stages recurse only log2(n) deep;
/// other operator chains count toward the depth limit.
#[test]
fn long_and_or_chains_are_balanced_and_other_chains_are_limited() {
    let terms: Vec<String> = (0..2000).map(|i| format!("Id eq {i}")).collect();
    let chain = e(&terms.join(" or "));
    assert!(depth(&chain) <= 14, "{}", depth(&chain));
    // The same chain grouped differently is the same tree.
    let grouped = format!(
        "({}) or ({})",
        terms[..700].join(" or "),
        terms[700..].join(" or ")
    );
    assert_eq!(e(&grouped), chain);
    // The order of the operands is kept.
    assert_eq!(shape(&e("a or b or c")), shape(&e("a or (b or c)")));
    assert_eq!(
        shape(&e("a and b or c and d")),
        shape(&e("(a and b) or (c and d)"))
    );
    let adds = vec!["1"; 150].join(" add ");
    let err = parse_expr(&adds).expect_err("too deep");
    assert!(err.to_string().contains("nested too deeply"), "{err}");
    let adds = vec!["1"; 50].join(" add ");
    assert!(parse_expr(&adds).is_ok());
}

#[test]
fn long_search_chains_are_balanced() {
    fn depth(s: &SearchExpr) -> usize {
        match s {
            SearchExpr::And(l, r) | SearchExpr::Or(l, r) => 1 + depth(l).max(depth(r)),
            SearchExpr::Not(a) => 1 + depth(a),
            _ => 1,
        }
    }
    for sep in [" OR ", " AND ", " "] {
        let text = vec!["smith"; 1500].join(sep);
        let parsed = q(&format!("$search={text}")).search.expect("search");
        assert!(depth(&parsed) <= 12, "{sep:?}: {}", depth(&parsed));
    }
    // Grouping does not change the tree; the order of the terms is kept.
    let a = q("$search=a OR b OR c OR d").search;
    let b = q("$search=(a OR b) OR (c OR d)").search;
    assert_eq!(a, b);
    assert_eq!(
        q("$search=a b OR c").search.map(|s| s.to_string()),
        q("$search=(a AND b) OR c").search.map(|s| s.to_string())
    );
}
