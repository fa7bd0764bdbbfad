//! Error kinds, positions (raw, percent-encoded offsets) and messages; hostile input.

use odata_parser::*;

fn err(target: &str) -> ParseError {
    match parse_target(target) {
        Ok(t) => panic!("{target:?} parsed: {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn missing_operand_names_the_operator() {
    let e = err("Contacts?$filter=Name eq )");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(
        e.to_string(),
        "`$filter` at position 16: expected a value after `eq`, found `)`"
    );
    let e = err("Contacts?$filter=Name eq ");
    assert_eq!(e.option, "$filter");
    assert_eq!(e.message, "expected a value after `eq`, found end of input");
    let e = err("Contacts?$top=1&$filter=contains(Email,'x') and");
    assert_eq!(
        (e.offset, e.message.as_str()),
        (38, "expected a value after `and`, found end of input")
    );
}

#[test]
fn offsets_are_raw_percent_encoded_positions() {
    // `%27` opens a string that never closes; it starts at raw offset 20.
    let e = err("Contacts?$filter=Name%20eq%20%27x");
    assert_eq!(e.offset, 20, "{e}");
    assert!(e.message.contains("closing"), "{e}");
    let e = err("Contacts?$top=1&$filter=A%20eq%201%20xx");
    assert_eq!(e.offset, 28, "{e}");
    let e = err("Contacts?$filter=Name eq %zz");
    assert_eq!(e.offset, 16, "{e}");
}

#[test]
fn helpful_messages() {
    assert_eq!(
        err("Contacts?$top=abc").message,
        "expected a non-negative integer, found `abc`"
    );
    assert_eq!(
        err("Contacts?$count=yes").message,
        "expected `true` or `false`, found `yes`"
    );
    assert_eq!(
        err("Contacts?$foo=1").message,
        "unknown system query option `$foo`"
    );
    assert_eq!(
        err("Contacts?$top=1&$top=2").message,
        "duplicate `$top` option"
    );
    assert_eq!(
        err("Contacts?$filter=substring(Name)").message,
        "`substring` takes 2 or 3 argument(s), found 1"
    );
    assert!(err("Contacts?$filter=(a eq 1")
        .message
        .starts_with("expected `)`"));
    assert!(err("Contacts?$filter=any(x:true)")
        .message
        .contains("needs a collection"));
    assert!(err("Contacts?$expand=Leads($select=A;$bogus=1)")
        .message
        .contains("unknown query option"));
    let e = err("Contacts('a/b')");
    assert_eq!((e.option.as_str(), e.offset), ("path", 11));
    assert_eq!(
        err("Contacts?$filter=x eq 1&$search=#1").message,
        "unexpected `#` in the query; write it as `%23`"
    );
}

#[test]
fn apply_declines_the_transformations_it_does_not_take() {
    let e = err("Contacts?$apply=nest(groupby((Name)) as N)");
    assert_eq!(e.kind, ErrorKind::NotImplemented);
    assert_eq!(e.message, "the `nest` transformation is not supported");
    assert_eq!(
        err("Contacts?$apply=concat(identity)").kind,
        ErrorKind::Syntax
    );
    assert_eq!(err("Contacts?$apply=concat()").kind, ErrorKind::Syntax);
    assert_eq!(err("Leads?$apply=topsum(2)").kind, ErrorKind::Syntax);
    assert_eq!(
        err("Leads?$apply=toppercent(,Value)").kind,
        ErrorKind::Syntax
    );
    assert_eq!(err("Leads?$apply=topcount(2)").kind, ErrorKind::Syntax);
    assert_eq!(
        err("Leads?$apply=bottomcount(x,Value)").kind,
        ErrorKind::Syntax
    );
    assert_eq!(err("Contacts?$apply=nonsense(1)").kind, ErrorKind::Syntax);
    assert_eq!(
        err("Contacts?$apply=groupby((rolluprecursive($root/Contacts,H,Name)))").kind,
        ErrorKind::NotImplemented
    );
    // One property names a hierarchy annotation, which this model has none of.
    assert_eq!(
        err("Contacts?$apply=groupby((rollup(Name)))").kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        err("Contacts?$apply=groupby((rollup($all Name)))").kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        err("Contacts?$apply=groupby((rollup(Name,Surname))").kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        err("Contacts?$apply=groupby((Name),nonsense(1))").kind,
        ErrorKind::Syntax
    );
    assert_eq!(err("Contacts?$apply=groupby(Name)").kind, ErrorKind::Syntax);
    assert_eq!(err("Leads?$apply=top(-1)").kind, ErrorKind::Syntax);
    assert_eq!(err("Leads?$apply=skip(x)").kind, ErrorKind::Syntax);
    assert_eq!(err("Leads?$apply=orderby()").kind, ErrorKind::Syntax);
    assert_eq!(
        err("Contacts?$apply=aggregate(Value with median as M)").kind,
        ErrorKind::Syntax
    );
    // In an expand, $apply is read as at the top (x is no transformation); $select
    // does not take it.
    assert_eq!(
        err("Contacts?$expand=Leads($apply=x)").kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        err("Contacts?$select=Name($apply=aggregate($count as N))").kind,
        ErrorKind::NotImplemented
    );
}

#[test]
fn depth_limits() {
    let deep = format!("Contacts?$filter={}1{}", "(".repeat(150), ")".repeat(150));
    assert_eq!(err(&deep).kind, ErrorKind::TooDeep);
    let ok = format!(
        "Contacts?$filter={}1{} eq 1",
        "(".repeat(90),
        ")".repeat(90)
    );
    assert!(parse_target(&ok).is_ok());
    let nots = format!("Contacts?$filter={}true", "not ".repeat(500));
    assert_eq!(err(&nots).kind, ErrorKind::TooDeep);
    let negs = format!("Contacts?$filter={}x", "-".repeat(500));
    assert_eq!(err(&negs).kind, ErrorKind::TooDeep);
    let calls = format!(
        "Contacts?$filter={}x{}",
        "tolower(".repeat(200),
        ")".repeat(200)
    );
    assert_eq!(err(&calls).kind, ErrorKind::TooDeep);
    let arrays = format!(
        "Contacts?$filter=x in {}1{}",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(err(&arrays).kind, ErrorKind::TooDeep);
    let expand = format!(
        "Contacts?$expand={}{}",
        "A($expand=".repeat(40),
        ")".repeat(40)
    );
    assert_eq!(err(&expand).kind, ErrorKind::TooDeep);
    let expand_ok = format!(
        "Contacts?$expand={}A{}",
        "A($expand=".repeat(30),
        ")".repeat(30)
    );
    assert!(parse_target(&expand_ok).is_ok());
    let search = format!("Contacts?$search={}a{}", "(".repeat(300), ")".repeat(300));
    assert_eq!(err(&search).kind, ErrorKind::TooDeep);
    let lambdas = format!(
        "Contacts?$filter={}true{}",
        "A/any(a:".repeat(150),
        ")".repeat(150)
    );
    assert_eq!(err(&lambdas).kind, ErrorKind::TooDeep);
}

#[test]
fn hostile_input_never_panics() {
    let huge = "(".repeat(1_000_000);
    assert!(parse_target(&format!("A?$filter={huge}")).is_err());
    assert!(parse_target(&format!("A?$search={huge}")).is_err());
    assert!(parse_target(&format!("A({huge}")).is_err());
    assert!(parse_target(&format!("A?$expand={}", "B(".repeat(100_000))).is_err());
    let long = "a".repeat(200_000);
    assert!(parse_target(&format!("A?$filter={long} eq 1")).is_err()); // name too long
    for s in [
        "%",
        "%F",
        "%FF",
        "A?%C3",
        "A?$filter='\u{0}'",
        "A(",
        "A)",
        "A?$filter=é eq 'ü'",
        "A/",
        "//",
        "A?&&&",
        "A?=",
        "A?@=1",
        "A?$select=",
        "A?$filter=1 eq",
        "A?$orderby=,",
    ] {
        let _ = parse_target(s);
    }
}

/// The worst stack use per nesting level: every precedence level open before each `(`,
/// at the deepest `$expand`. Must end in `TooDeep` (or parse) on a 2 MiB thread even in
/// debug builds, never overflow.
#[test]
fn worst_case_stack_on_small_thread() {
    let run = || {
        let chain = "a or b and c eq d gt e add f mul -(";
        let filter = format!("{}1{}", chain.repeat(99), ")".repeat(99));
        let q = format!(
            "A?$expand={}$filter={filter}{}",
            "A($expand=".repeat(31) + "A(",
            ")".repeat(32)
        );
        let r = parse_target(&q);
        assert!(r.is_ok() || r.unwrap_err().kind == ErrorKind::TooDeep);
        let filter = format!("{}1{}", chain.repeat(101), ")".repeat(101));
        assert_eq!(
            parse_target(&format!("A?$filter={filter}"))
                .unwrap_err()
                .kind,
            ErrorKind::TooDeep
        );
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_request_option_inside_expand_is_refused() {
    for (target, name) in [
        ("Contacts?$expand=Leads($skiptoken=x)", "$skiptoken"),
        ("Contacts?$expand=Leads($top=1;$format=json)", "$format"),
        ("Contacts?$select=Leads($deltatoken=1)", "$deltatoken"),
    ] {
        let e = err(target);
        assert_eq!(e.kind, ErrorKind::Syntax, "{target}");
        assert!(e.message.contains(name), "{target}: {e}");
    }
}

#[test]
fn dollar_segments_match_in_any_case() {
    let path = |t: &str| parse_target(t).ok().map(|t| t.path);
    assert!(path("Contacts/$count").is_some());
    assert_eq!(path("Contacts/$COUNT"), path("Contacts/$count"));
    assert_eq!(
        path("Contacts(1)/Surname/$Value"),
        path("Contacts(1)/Surname/$value")
    );
    assert!(matches!(path("$METADATA"), Some(ResourcePath::Metadata)));
}

#[test]
fn count_with_a_filter_is_the_filter_segment_before_count() {
    let filter = |t: &str| parse_target(t).ok().and_then(|t| t.options.filter);
    let a = filter("Contacts?$filter=Leads/$count($filter=Value gt 5) gt 1");
    assert!(a.is_some());
    assert_eq!(
        a,
        filter("Contacts?$filter=Leads/$filter(Value gt 5)/$count gt 1")
    );
    let e = err("Contacts?$filter=Leads/$count($search=x) gt 1");
    assert_eq!(e.kind, ErrorKind::NotImplemented, "{e}");
    let e = err("Contacts?$filter=Leads/$count($top=1) gt 1");
    assert!(e.message.contains("$filter="), "{e}");
}
