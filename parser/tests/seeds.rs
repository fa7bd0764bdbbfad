//! Every example query from the CRM guides (seed documents 000 and 001), host stripped.

use odata_parser::*;

const LONG: &str = "Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;$expand=Status($select=Description))";

/// The same query as the guide prints it over several lines.
const LONG_FORMATTED: &str = "Contacts
?$select=Title,Forename,Surname,Email,StatusFlag
&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'
&$expand=Leads(
$select=Description,Created,StatusFlag;
$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;
$expand=Status(
$select=Description
)
)";

pub const SEEDS: &[&str] = &[
    "",
    "/",
    "Contacts",
    "Contacts(272970)",
    "Contacts?$select=ContactId,Forename,Surname&$top=50",
    "Contacts(272970)?$select=ContactId,Forename,Surname&$top=50",
    "Contacts?$select=Surname",
    "Contacts?$select=Surname&$expand=Division",
    "Contacts?$select=Surname&$expand=Division($select=Name)",
    "Contacts?$expand=Division($select=Name;$expand=Company)",
    "Contacts?$filter=Forename eq 'Johnson'",
    "Contacts?$filter=contains(Email, '@prospectsoft.com')&$orderby=created",
    "Contacts?$top=50&$skip=1",
    LONG,
    LONG_FORMATTED,
    // services.odata.org examples
    "Products(1)/?$select=Name,Description,Rating",
    "Customers/?$select=CompanyName,Country&$filter=Country eq 'UK'",
    "Products/?$select=Name,Description,Rating",
    "Customers/?$select=CompanyName,Country",
    "Products/?$expand=Categories",
    "Customers/?$expand=Orders",
    "Products/?$filter=Name ne 'Milk'",
    "Customers/?$filter=Country eq 'UK' and endswith(CompanyName,'s')",
    "Products/?$orderby=ReleaseDate asc",
    "Summary_of_Sales_by_Years/?$orderby=Subtotal desc",
    "Products/?$orderby=ReleaseDate asc&$top=5",
    // The guide's function list, as `$filter`s.
    "Contacts?$filter=not contains(Email,'@x.com')",
    "Contacts?$filter=not startswith(Surname,'J') and not endswith(Surname,'n')",
    "Contacts?$filter=Created lt 2024-01-31T10:00:00Z or Created ge 2023-01-01",
    // Capitalised option names as the guide writes them.
    "Contacts?$Select=Surname&$Filter=Surname eq 'X'&$OrderBy=Surname&$Top=5&$Skip=1&$Expand=Division",
];

fn name(n: &str) -> PathSegment {
    PathSegment::Name {
        name: n.into(),
        key: None,
        pos: Pos(0),
    }
}

fn member(path: &str) -> Expr {
    Expr::Member(MemberPath {
        segments: path
            .split('/')
            .map(|s| MemberSegment {
                name: s.into(),
                key: None,
            })
            .collect(),
        pos: Pos(0),
    })
}

fn s(v: &str) -> Expr {
    Expr::Literal(Literal::String(v.into()), Pos(0))
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary(op, Box::new(l), Box::new(r))
}

fn sel(items: &[&str]) -> Option<Vec<SelectItem>> {
    Some(
        items
            .iter()
            .map(|i| SelectItem::Path {
                path: i.split('/').map(String::from).collect(),
                options: None,
                pos: Pos(0),
            })
            .collect(),
    )
}

fn expand(nav: &str, options: QueryOptions) -> ExpandItem {
    ExpandItem {
        target: ExpandTarget::Path(vec![nav.into()]),
        is_ref: false,
        is_count: false,
        options,
        pos: Pos(0),
    }
}

fn long_tree() -> ODataUrl {
    ODataUrl {
        path: ResourcePath::Segments(vec![name("Contacts")]),
        options: QueryOptions {
            select: sel(&["Title", "Forename", "Surname", "Email", "StatusFlag"]),
            filter: Some(bin(
                BinaryOp::And,
                Expr::Call(
                    Function::Contains,
                    vec![member("email"), s("@prospectsoft.com")],
                    Pos(0),
                ),
                bin(BinaryOp::Eq, member("StatusFlag"), s("A")),
            )),
            expand: Some(vec![expand(
                "Leads",
                QueryOptions {
                    select: sel(&["Description", "Created", "StatusFlag"]),
                    filter: Some(bin(
                        BinaryOp::And,
                        bin(BinaryOp::Eq, member("StatusFlag"), s("A")),
                        bin(
                            BinaryOp::Eq,
                            member("Status/DeadFlag"),
                            Expr::Literal(Literal::Int(0), Pos(0)),
                        ),
                    )),
                    expand: Some(vec![expand(
                        "Status",
                        QueryOptions {
                            select: sel(&["Description"]),
                            ..Default::default()
                        },
                    )]),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        },
    }
}

#[test]
fn all_seed_queries_parse() {
    for q in SEEDS {
        if let Err(e) = parse_target(q) {
            panic!("{q:?}: {e}");
        }
    }
}

#[test]
fn long_query() {
    assert_eq!(parse_target(LONG).unwrap(), long_tree());
}

#[test]
fn long_query_formatted_over_lines() {
    assert_eq!(parse_target(LONG_FORMATTED).unwrap(), long_tree());
}

#[test]
fn service_root() {
    assert_eq!(parse_target("").unwrap().path, ResourcePath::ServiceRoot);
    assert_eq!(parse_target("/").unwrap().path, ResourcePath::ServiceRoot);
}

#[test]
fn key_lookup() {
    let u = parse_target("Contacts(272970)").unwrap();
    assert_eq!(
        u.path,
        ResourcePath::Segments(vec![PathSegment::Name {
            name: "Contacts".into(),
            key: Some(KeyPredicate::Single(Expr::Literal(
                Literal::Int(272970),
                Pos(0)
            ))),
            pos: Pos(0),
        }])
    );
    let named = parse_target("Contacts(ContactId=272970)").unwrap();
    assert_eq!(
        named.path,
        ResourcePath::Segments(vec![PathSegment::Name {
            name: "Contacts".into(),
            key: Some(KeyPredicate::Named(vec![(
                "ContactId".into(),
                Expr::Literal(Literal::Int(272970), Pos(0))
            )])),
            pos: Pos(0),
        }])
    );
}

#[test]
fn select_top_on_key() {
    let u = parse_target("Contacts(272970)?$select=ContactId,Forename,Surname&$top=50").unwrap();
    assert_eq!(u.options.select, sel(&["ContactId", "Forename", "Surname"]));
    assert_eq!(u.options.top, Some(50));
}

#[test]
fn nested_expand() {
    let u = parse_target("Contacts?$expand=Division($select=Name;$expand=Company)").unwrap();
    assert_eq!(
        u.options.expand,
        Some(vec![expand(
            "Division",
            QueryOptions {
                select: sel(&["Name"]),
                expand: Some(vec![expand("Company", QueryOptions::default())]),
                ..Default::default()
            }
        )])
    );
}

#[test]
fn filter_with_space_after_comma_and_orderby() {
    let u = parse_target("Contacts?$filter=contains(Email, '@prospectsoft.com')&$orderby=created")
        .unwrap();
    assert_eq!(
        u.options.filter,
        Some(Expr::Call(
            Function::Contains,
            vec![member("Email"), s("@prospectsoft.com")],
            Pos(0)
        ))
    );
    assert_eq!(
        u.options.orderby,
        Some(vec![OrderItem {
            expr: member("created"),
            desc: false
        }])
    );
}

#[test]
fn northwind_examples() {
    let u =
        parse_target("Customers/?$filter=Country eq 'UK' and endswith(CompanyName,'s')").unwrap();
    assert_eq!(u.path, ResourcePath::Segments(vec![name("Customers")]));
    assert_eq!(
        u.options.filter,
        Some(bin(
            BinaryOp::And,
            bin(BinaryOp::Eq, member("Country"), s("UK")),
            Expr::Call(
                Function::EndsWith,
                vec![member("CompanyName"), s("s")],
                Pos(0)
            ),
        ))
    );
    let u = parse_target("Summary_of_Sales_by_Years/?$orderby=Subtotal desc").unwrap();
    assert_eq!(
        u.options.orderby,
        Some(vec![OrderItem {
            expr: member("Subtotal"),
            desc: true
        }])
    );
    let u = parse_target("Products/?$orderby=ReleaseDate asc&$top=5").unwrap();
    assert_eq!(u.options.top, Some(5));
    let u = parse_target("Contacts?$top=50&$skip=1").unwrap();
    assert_eq!((u.options.top, u.options.skip), (Some(50), Some(1)));
}

#[test]
fn not_contains_as_the_guide_writes_it() {
    let u = parse_target("Contacts?$filter=not contains(Email,'@x.com')").unwrap();
    assert_eq!(
        u.options.filter,
        Some(Expr::Unary(
            UnaryOp::Not,
            Box::new(Expr::Call(
                Function::Contains,
                vec![member("Email"), s("@x.com")],
                Pos(0)
            ))
        ))
    );
}

#[test]
fn seeds_round_trip() {
    for q in SEEDS {
        let tree = parse_target(q).unwrap();
        let printed = tree.to_string();
        let again = parse_target(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(again, tree, "{printed}");
    }
}
