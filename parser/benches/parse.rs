//! Parsing speed over the example queries of the CRM guides (seed documents 000/001).
//! The longest one (`long`) is the figure compared with the JS parser in `compare.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

/// Shared with `js/bench.js` (keep in sync): name, request target.
pub const QUERIES: &[(&str, &str)] = &[
    ("long", "Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;$expand=Status($select=Description))"),
    ("key_select_top", "Contacts(272970)?$select=ContactId,Forename,Surname&$top=50"),
    ("expand_nested", "Contacts?$expand=Division($select=Name;$expand=Company)"),
    ("filter_contains_orderby", "Contacts?$filter=contains(Email, '@prospectsoft.com')&$orderby=created"),
    ("filter_eq", "Contacts?$filter=Forename eq 'Johnson'"),
    ("filter_and_endswith", "Customers?$filter=Country eq 'UK' and endswith(CompanyName,'s')"),
    ("orderby_top", "Products?$orderby=ReleaseDate asc&$top=5"),
    ("top_skip", "Contacts?$top=50&$skip=1"),
    ("entity_set", "Contacts"),
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_target");
    for (name, q) in QUERIES {
        g.bench_function(*name, |b| {
            b.iter(|| odata_parser::parse_target(black_box(q)))
        });
    }
    g.finish();
    // The multi-line form from the guide, and a percent-encoded form as browsers send it.
    let formatted = "Contacts\n?$select=Title,Forename,Surname,Email,StatusFlag\n&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'\n&$expand=Leads(\n$select=Description,Created,StatusFlag;\n$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;\n$expand=Status(\n$select=Description\n)\n)";
    c.bench_function("long_formatted", |b| {
        b.iter(|| odata_parser::parse_target(black_box(formatted)))
    });
    let encoded = QUERIES[0].1.replace(' ', "%20").replace('\'', "%27");
    c.bench_function("long_percent_encoded", |b| {
        b.iter(|| odata_parser::parse_target(black_box(&encoded)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
