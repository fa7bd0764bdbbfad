//! Generated requests, valid and broken, against the real app on SQLite and PostgreSQL:
//! none may answer 5xx (501 for a valid but unsupported feature aside), every error is
//! an OData error body, every success well-formed JSON of the workspace's own rows.
//!
//! The URLs are built from the entity model (names in any case, paths through
//! navigation, every operator and canonical function with arguments of every type),
//! then some are damaged (a character dropped, doubled or replaced). The generator is
//! seeded, so a failure names a URL that fails again on the next run.

mod common;

use common::{backends, spawn_with, Backend, TestApp, TestDb};
use crm_odata::model::{EdmType, EntityType, MODEL};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// Requests per backend and the generator's seed; `CRM_ROBUSTNESS=N,SEED` explores further.
fn plan() -> (usize, u64) {
    std::env::var("CRM_ROBUSTNESS")
        .ok()
        .and_then(|v| {
            let (n, seed) = v.split_once(',')?;
            Some((n.parse().ok()?, seed.parse().ok()?))
        })
        .unwrap_or((1500, 20261129))
}

/// Literals of every kind, well-formed and not.
const LITERALS: &[&str] = &[
    "1",
    "0",
    "-1",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "1.5",
    "1e308",
    "-1.5e-300",
    "1.0M",
    "INF",
    "NaN",
    "true",
    "false",
    "null",
    "'Smith'",
    "'Sm'",
    "''",
    "'O''Brien'",
    "'%25_'",
    "'%5ES.*h$'",
    "'[a-'",
    "'%27'",
    "'unterminated",
    "'a%00b'",
    "'\u{00e9}\u{1F600}'",
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "2024-01-01T10:00:00Z",
    "2024-01-01T10:00:00.123+05:30",
    "2024-01-01T25:00:00Z",
    "10:00:00",
    "duration'P1D'",
    "duration'PT1H'",
    "-P3650000D",
    "duration'PT0.000000000001S'",
    "01234567-89ab-cdef-0123-456789abcdef",
    "binary'AQID'",
    "$it",
    "$this",
    "$this/Surname",
    "$it/Surname",
    "$it/StatusFlag",
    "$it/Leads/$count",
    "$root/Contacts(1)/Surname",
    "[1,2]",
    "{}",
];

const FUNCTIONS: &[(&str, usize)] = &[
    ("contains", 2),
    ("startswith", 2),
    ("endswith", 2),
    ("indexof", 2),
    ("substring", 2),
    ("substring", 3),
    ("length", 1),
    ("tolower", 1),
    ("toupper", 1),
    ("trim", 1),
    ("concat", 2),
    ("matchesPattern", 2),
    ("year", 1),
    ("month", 1),
    ("day", 1),
    ("hour", 1),
    ("minute", 1),
    ("second", 1),
    ("fractionalseconds", 1),
    ("date", 1),
    ("time", 1),
    ("totaloffsetminutes", 1),
    ("totalseconds", 1),
    ("now", 0),
    ("maxdatetime", 0),
    ("mindatetime", 0),
    ("round", 1),
    ("floor", 1),
    ("ceiling", 1),
    ("cast", 2),
    ("isof", 1),
    ("geo.distance", 2),
    ("nosuchfunction", 1),
];

const COMPARE: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "has", "in", "like"];
const ARITH: &[&str] = &["add", "sub", "mul", "div", "divby", "mod"];

/// Random choices, for both generators.
trait Draw {
    fn rng(&mut self) -> &mut StdRng;

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        items.choose(self.rng()).expect("something to choose from")
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng().random_bool(p)
    }
}

struct Gen {
    rng: StdRng,
}

impl Draw for Gen {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl Gen {
    fn entity(&mut self) -> &'static EntityType {
        let types = &MODEL.types;
        &types[self.rng.random_range(0..types.len())]
    }

    /// A name as a client might type it: as declared, in another case, or unknown.
    fn spell(&mut self, name: &str) -> String {
        match self.rng.random_range(0..10) {
            0 => name.to_lowercase(),
            1 => name.to_uppercase(),
            2 => format!("{name}x"),
            _ => name.to_owned(),
        }
    }

    /// A property path of `e`, sometimes through a navigation property.
    fn path(&mut self, e: &'static EntityType, depth: usize) -> (String, Option<EdmType>) {
        if depth < 2 && !e.navigation.is_empty() && self.chance(0.3) {
            let nav = self.pick(&e.navigation);
            if let Some(target) = MODEL.entity_type(nav.target) {
                if nav.many {
                    let f = if self.chance(0.5) { "any" } else { "all" };
                    // Mostly the lambda variable's own properties; otherwise anything.
                    let inner = if self.chance(0.6) {
                        let (p, ty) = self.path(target, depth + 1);
                        let lit = self.literal_for(ty);
                        format!("x/{p} {} {lit}", self.pick(COMPARE))
                    } else {
                        self.predicate(target, depth + 1).0
                    };
                    let nav = self.spell(nav.name);
                    return (format!("{nav}/{f}(x:{inner})"), Some(EdmType::Boolean));
                }
                let (inner, ty) = self.path(target, depth + 1);
                return (format!("{}/{inner}", self.spell(nav.name)), ty);
            }
        }
        let p = self.pick(&e.properties);
        (self.spell(p.name), Some(p.ty))
    }

    fn literal_for(&mut self, ty: Option<EdmType>) -> String {
        if self.chance(0.4) {
            return (*self.pick(LITERALS)).to_owned();
        }
        match ty {
            Some(EdmType::String) => {
                format!("'{}'", self.pick(&["Smith", "A", "Ltd", "x'y", "%_"]))
            }
            Some(EdmType::DateTimeOffset) => {
                (*self.pick(&["2022-01-01T00:00:00Z", "2022-06-30"])).to_owned()
            }
            Some(EdmType::Boolean) => "true".to_owned(),
            Some(EdmType::Decimal(..)) | Some(EdmType::Double) => "1000.5".to_owned(),
            _ => self.rng.random_range(-2..300).to_string(),
        }
    }

    /// An operand: a path, a literal, a function call or arithmetic.
    fn operand(&mut self, e: &'static EntityType, depth: usize) -> (String, Option<EdmType>) {
        match self.rng.random_range(0..10) {
            0..=4 => self.path(e, depth),
            5 | 6 => (self.literal_for(None), None),
            7 | 8 if depth < 3 => {
                let (name, arity) = *self.pick(FUNCTIONS);
                let args: Vec<String> = (0..arity).map(|_| self.operand(e, depth + 1).0).collect();
                (format!("{name}({})", args.join(",")), None)
            }
            _ if depth < 3 => {
                let (l, ty) = self.operand(e, depth + 1);
                let (r, _) = self.operand(e, depth + 1);
                (format!("{l} {} {r}", self.pick(ARITH)), ty)
            }
            _ => self.path(e, depth),
        }
    }

    fn predicate(&mut self, e: &'static EntityType, depth: usize) -> (String, Option<EdmType>) {
        let text = match self.rng.random_range(0..10) {
            0 if depth < 3 => {
                let (l, _) = self.predicate(e, depth + 1);
                let (r, _) = self.predicate(e, depth + 1);
                format!("({l}) {} ({r})", self.pick(&["and", "or"]))
            }
            1 if depth < 3 => format!("not ({})", self.predicate(e, depth + 1).0),
            2 => {
                let (name, arity) = *self.pick(FUNCTIONS);
                let args: Vec<String> = (0..arity).map(|_| self.operand(e, depth + 1).0).collect();
                format!("{name}({})", args.join(","))
            }
            3 => {
                let (l, ty) = self.path(e, depth);
                let items: Vec<String> = (0..self.rng.random_range(0..4))
                    .map(|_| self.literal_for(ty))
                    .collect();
                format!("{l} in ({})", items.join(","))
            }
            _ => {
                let (l, ty) = self.operand(e, depth);
                let r = if self.chance(0.6) {
                    self.literal_for(ty)
                } else {
                    self.operand(e, depth).0
                };
                format!("{l} {} {r}", self.pick(COMPARE))
            }
        };
        (text, Some(EdmType::Boolean))
    }

    fn select(&mut self, e: &'static EntityType) -> String {
        let n = self.rng.random_range(1..4);
        let names: Vec<String> = (0..n)
            .map(|_| {
                if self.chance(0.1) {
                    "*".to_owned()
                } else {
                    let p = self.pick(&e.properties).name;
                    self.spell(p)
                }
            })
            .collect();
        names.join(",")
    }

    fn orderby(&mut self, e: &'static EntityType) -> String {
        let (p, _) = self.path(e, 1);
        let p = if p.contains('(') {
            self.pick(&e.properties).name.to_owned()
        } else {
            p
        };
        format!("{p}{}", self.pick(&["", " asc", " desc", " sideways"]))
    }

    /// Query options for `e`; inside an `$expand` they are separated by `;`.
    fn options(&mut self, e: &'static EntityType, depth: usize, nested: bool) -> Vec<String> {
        let mut opts = Vec::new();
        if self.chance(0.5) {
            opts.push(format!("$filter={}", self.predicate(e, 0).0));
        }
        if self.chance(0.3) {
            opts.push(format!("$select={}", self.select(e)));
        }
        if self.chance(0.3) {
            opts.push(format!("$orderby={}", self.orderby(e)));
        }
        if self.chance(0.3) {
            opts.push(format!(
                "$top={}",
                self.pick(&["0", "1", "5", "100", "-1", "abc", "99999999999999999999"])
            ));
        }
        if self.chance(0.2) {
            opts.push(format!("$skip={}", self.pick(&["0", "3", "-2", "1e3"])));
        }
        if self.chance(0.2) {
            opts.push(format!("$count={}", self.pick(&["true", "false", "maybe"])));
        }
        if self.chance(0.15) {
            opts.push(format!(
                "$search={}",
                self.pick(&[
                    "smith",
                    "\"Ltd\"",
                    "smith OR jones",
                    "NOT smith",
                    "(",
                    "a AND",
                    "\"a%00b\"",
                    "a%00b",
                    "%25_",
                    "\"O'Brien\""
                ])
            ));
        }
        if depth < 3 && !e.navigation.is_empty() && self.chance(0.35) {
            let nav = self.pick(&e.navigation);
            let mut item = self.spell(nav.name);
            if self.chance(0.15) {
                let suffix: &&str = self.pick(&["/$ref", "/$count", "/$levels"]);
                item.push_str(suffix);
            } else if let Some(target) = MODEL.entity_type(nav.target) {
                let inner = self.options(target, depth + 1, true);
                if !inner.is_empty() {
                    item = format!("{item}({})", inner.join(";"));
                }
            }
            if self.chance(0.1) {
                item = (*self.pick(&["*", "*($levels=2)", "*($levels=3)", "*($levels=max)"]))
                    .to_owned();
            }
            opts.push(format!("$expand={item}"));
        }
        if !nested && self.chance(0.1) {
            opts.push(
                (*self.pick(&[
                    "$format=json",
                    "$format=xml",
                    "$format=atom",
                    "$format=csv",
                    "$skiptoken=abc",
                    "$apply=groupby((Surname))",
                    "$compute=1 as x",
                    "$levels=2",
                    "$unknown=1",
                    "foo=bar",
                    "$top=1&$top=2",
                ]))
                .to_owned(),
            );
        }
        opts
    }

    /// A resource path: a set, an entity by key, a navigation, a property, `$count`, `$value`.
    fn resource(&mut self, e: &'static EntityType) -> String {
        let mut path = self.spell(e.set);
        if self.chance(0.5) {
            let key = match e.key_properties().next().map(|k| k.ty) {
                Some(EdmType::String) => format!("'{}'", self.pick(&["WON", "OPEN", "x", "O''K"])),
                _ => self
                    .pick(&[
                        "1",
                        "5",
                        "42",
                        "0",
                        "-1",
                        "99999999999999999999",
                        "'1'",
                        "ContactId=1",
                        "1,2",
                    ])
                    .to_string(),
            };
            if key.parse::<i64>().is_ok() && self.chance(0.2) {
                // The same key as a path segment.
                path.push_str(&format!("/{key}"));
            } else {
                path.push_str(&format!("({key})"));
            }
            match self.rng.random_range(0..6) {
                0 if !e.navigation.is_empty() => {
                    let nav = self.pick(&e.navigation);
                    path.push('/');
                    path.push_str(&self.spell(nav.name));
                    if nav.many && self.chance(0.3) {
                        path.push_str("/$count");
                    }
                }
                1 => {
                    let p = self.pick(&e.properties).name;
                    path.push('/');
                    path.push_str(&self.spell(p));
                    if self.chance(0.4) {
                        path.push_str("/$value");
                    }
                }
                _ => {}
            }
        } else if self.chance(0.1) {
            path.push_str("/$count");
        }
        path
    }

    /// Requests at the edges of size: long `in` lists and `or` chains, many order keys,
    /// long select lists, deep lambdas.
    fn extreme(&mut self) -> String {
        let n = self.rng.random_range(1..3000);
        match self.rng.random_range(0..8) {
            6 => {
                let sep = *self.pick(&[" OR ", " AND ", " "]);
                format!("Contacts?$top=3&$search={}", vec!["a"; n % 1600 + 1].join(sep))
            }
            7 => {
                let terms: Vec<String> = (0..n % 900).map(|i| format!("1 eq {i}")).collect();
                format!("Leads?$top=3&$filter={}", terms.join(" and "))
            }
            0 => {
                let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
                format!("Contacts?$select=ContactId&$filter=ContactId in ({})", items.join(","))
            }
            1 => {
                let keys: Vec<String> = (0..n % 60).map(|i| format!("Guttometer add {i}")).collect();
                format!("Leads?$top=3&$orderby={}", keys.join(","))
            }
            2 => {
                let keys = ["Surname", "Forename", "Created"].repeat(n % 200 + 1).join(",");
                format!("Contacts?$top=3&$orderby={keys}")
            }
            3 => {
                let terms: Vec<String> = (0..n % 400).map(|i| format!("Surname eq 'X{i}'")).collect();
                format!("Contacts?$top=3&$filter={}", terms.join(" or "))
            }
            4 => {
                let names = ["Surname", "Forename", "Email"].repeat(n % 200 + 1).join(",");
                format!("Contacts?$top=3&$select={names}")
            }
            _ => "Contacts?$top=3&$filter=Leads/any(a:a/Contact/Leads/any(b:b/Contact/Leads/any(c:c/LeadId gt 0)))".to_owned(),
        }
    }

    fn url(&mut self) -> String {
        if self.chance(0.03) {
            return self.extreme();
        }
        if self.chance(0.05) {
            // Service-level resources and paths no entity set starts.
            return (*self.pick(&[
                "",
                "$metadata",
                "$metadata?$format=json",
                "$metadata?$format=xml",
                "$metadata#Contacts",
                "$batch",
                "$all",
                "$crossjoin(Contacts,Leads)",
                "$crossjoin(Contacts,Leads)?$filter=Contacts/ContactId eq Leads/ContactId&$expand=*&$count=true",
                "$crossjoin(Leads,LeadStatus)?$filter=Leads/StatusId eq LeadStatus/Code and LeadStatus/Leads/any(l:l/Value gt 0)&$orderby=Leads/Value desc&$top=5",
                "$crossjoin(Contacts,Leads)?$expand=Contacts($select=Surname;$expand=Leads($top=1)),Leads($expand=Status)&$top=2&$skip=3",
                "$crossjoin(Contacts)?$filter=Contacts/Surname eq null&$orderby=Contacts/Created",
                "$crossjoin(Contacts,Leads)?$filter=$it/Surname eq 'x'",
                "$crossjoin(Contacts,Leads)?$orderby=Leads",
                "$crossjoin(Contacts,Leads)?$expand=Leads/Status",
                "$crossjoin()",
                "$crossjoin(Contacts,)",
                "$crossjoin(Contacts,Leads)/Contacts",
                "$all/Prospect.Crm.Contact/$count",
                "$all?$filter=Leads/$count gt 1&$select=*",
                "$entity?$id=Contacts(1)",
                "Contacts/$filter(",
                "Contacts/$filter()",
                "Contacts/$filter(Surname eq 'x')/$filter(true)/$count",
                "Contacts/$filter(@p)?@p=1",
                "Contacts(1)/Leads/$filter(Value gt 0)/$ref",
                "$entity?$id=http://elsewhere.example/Contacts(1)",
                "$entity?$id=Contacts",
                "$entity?$id=%2FContacts(1)%2FLeads",
                "$entity/Prospect.Crm.Lead?$id=Contacts(1)&$select=LeadId",
                "$entity/Nope?$id=Contacts(1)",
                "Contacts/1",
                "Contacts/1/Leads/2/Status",
                "LeadStatus/WON/Leads/$count",
                "LeadStatus/%27WON%27",
                "Contacts/1/2",
                "Contacts/-1",
                "Contacts/99999999999999999999",
                "Contacts(1)/$ref",
                "Contacts/$ref",
                "Contacts(1)/Leads/$ref",
                "Contacts(1)/Leads(2)",
                "Contacts(1)/Division/Company/Divisions",
                "Contacts/$count/$value",
                "Contacts/Leads",
                "//Contacts",
                "Contacts()",
                "Contacts(1)(2)",
                "Contacts?$",
                "Contacts?$=",
                "Contacts?&&",
                "Contacts?$filter",
                "Contacts?%24top=1",
                "Contacts?$TOP=1",
                "Contacts?$select=Leads/LeadId",
                "LeadStatus('WON')/Leads/$count",
                "healthz",
            ]))
            .to_owned();
        }
        let e = self.entity();
        let mut path = self.resource(e);
        // The entities of every type, or of this one, with this type's options.
        if self.chance(0.04) {
            path = if self.chance(0.5) {
                "$all".to_owned()
            } else {
                format!("$all/{}", crm_odata::model::MODEL.qualified(e.name))
            };
        }
        let opts = self.options(e, 0, false);
        let mut url = if opts.is_empty() {
            path
        } else {
            format!("{path}?{}", opts.join("&"))
        };
        if self.chance(0.15) {
            self.damage(&mut url);
        }
        url
    }

    /// Request headers a client might send, well-formed or not.
    fn headers(&mut self) -> Vec<(&'static str, &'static str)> {
        let mut h = Vec::new();
        if self.chance(0.3) {
            h.push((
                "accept",
                *self.pick(&[
                    "application/json",
                    "application/json;odata.metadata=full",
                    "application/json;odata.metadata=none;IEEE754Compatible=true",
                    "application/json;odata.metadata=bogus",
                    "application/json;odata.streaming=true;charset=utf-8",
                    "application/atom+xml",
                    "application/xml",
                    "text/csv",
                    "text/plain",
                    "*/*",
                    "garbage/;;",
                    "",
                ]),
            ));
        }
        if self.chance(0.3) {
            h.push((
                "prefer",
                *self.pick(&[
                    "odata.maxpagesize=2",
                    "odata.maxpagesize=0",
                    "odata.maxpagesize=-1",
                    "odata.maxpagesize=abc",
                    "odata.maxpagesize=99999999999999999999",
                    "maxpagesize=3, return=minimal",
                    "odata.include-annotations=\"*\"",
                ]),
            ));
        }
        if self.chance(0.15) {
            h.push((
                "odata-maxversion",
                *self.pick(&["4.0", "4.01", "3.0", "x", ""]),
            ));
        }
        if self.chance(0.1) {
            h.push(("odata-version", *self.pick(&["4.0", "4.01", "5.0", "x"])));
        }
        h
    }

    /// Drops, doubles or replaces one character.
    fn damage(&mut self, url: &mut String) {
        let chars: Vec<char> = url.chars().collect();
        if chars.is_empty() {
            return;
        }
        let at = self.rng.random_range(0..chars.len());
        let junk = *self.pick(&[
            '(', ')', '\'', ',', '/', '$', ' ', '=', ';', '&', '%', '\\', '"', '0',
        ]);
        let mut out: Vec<char> = chars.clone();
        match self.rng.random_range(0..3) {
            0 => {
                out.remove(at);
            }
            1 => out.insert(at, chars[at]),
            _ => out[at] = junk,
        }
        *url = out.into_iter().collect();
    }
}

/// Well-typed reads only: every filter, order and expand is one the service must answer,
/// so that both databases' answers can be compared.
struct Typed {
    rng: StdRng,
    /// Key literals of existing entities, per entity set.
    keys: std::collections::HashMap<&'static str, Vec<String>>,
}

impl Draw for Typed {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl Typed {
    /// A property of `e` whose type passes `ok`, sometimes through a single-valued
    /// navigation property.
    fn path(
        &mut self,
        e: &'static EntityType,
        ok: fn(EdmType) -> bool,
    ) -> Option<(String, EdmType)> {
        if self.chance(0.25) {
            let singles: Vec<_> = e.navigation.iter().filter(|n| !n.many).collect();
            if let Some(nav) = singles.choose(&mut self.rng) {
                if let Some(t) = MODEL.entity_type(nav.target) {
                    if let Some((p, ty)) = self.path(t, ok) {
                        return Some((format!("{}/{p}", nav.name), ty));
                    }
                }
            }
        }
        let props: Vec<_> = e.properties.iter().filter(|p| ok(p.ty)).collect();
        props
            .choose(&mut self.rng)
            .map(|p| (p.name.to_owned(), p.ty))
    }

    fn literal(&mut self, ty: EdmType) -> String {
        if self.chance(0.05) {
            return "null".into();
        }
        match ty {
            EdmType::String => format!(
                "'{}'",
                self.pick(&[
                    "Smith", "A", "Sm", "Ltd", "O''Brien", "x", "", "CUSTOMER", "WON", "a%25_b"
                ])
            ),
            EdmType::DateTimeOffset => (*self.pick(&[
                "2022-01-01T00:00:00Z",
                "2024-06-30T12:30:00Z",
                "2023-03-01T00:00:00%2B02:00",
            ]))
            .to_owned(),
            EdmType::Boolean => (*self.pick(&["true", "false"])).to_owned(),
            EdmType::Decimal(..) | EdmType::Double => {
                (*self.pick(&["0", "1000.5", "25000", "-1", "99.99"])).to_owned()
            }
            EdmType::Byte => self.rng.random_range(0..3).to_string(),
            _ => self.rng.random_range(-1..300).to_string(),
        }
    }

    fn predicate(&mut self, e: &'static EntityType, var: &str, depth: usize) -> String {
        let numeric =
            |t: EdmType| t.is_integer() || matches!(t, EdmType::Decimal(..) | EdmType::Double);
        let string = |t: EdmType| t == EdmType::String;
        let date = |t: EdmType| t == EdmType::DateTimeOffset;
        let any = |_: EdmType| true;
        let cmp = *self.pick(&["eq", "ne", "gt", "ge", "lt", "le"]);
        let text = match self.rng.random_range(0..14) {
            0 | 1 if depth < 2 => {
                let (a, b) = (
                    self.predicate(e, var, depth + 1),
                    self.predicate(e, var, depth + 1),
                );
                format!("({a}) {} ({b})", self.pick(&["and", "or"]))
            }
            2 if depth < 2 => format!("not ({})", self.predicate(e, var, depth + 1)),
            3 => match self.path(e, string) {
                Some((p, _)) => {
                    let f = *self.pick(&["contains", "startswith", "endswith", "matchesPattern"]);
                    let v = *self.pick(&["Sm", "th", "a", "", "Ltd", "%25", "_", "^[A-M]"]);
                    format!("{f}({var}{p},'{v}')")
                }
                None => "true".into(),
            },
            4 => match self.path(e, string) {
                Some((p, _)) => {
                    let p = format!("{var}{p}");
                    match self.rng.random_range(0..6) {
                        0 => format!("length({p}) {cmp} {}", self.rng.random_range(0..12)),
                        1 => format!("tolower({p}) {cmp} 'smith'"),
                        2 => format!("toupper({p}) eq 'SMITH'"),
                        3 => format!("indexof({p},'a') {cmp} {}", self.rng.random_range(-1..4)),
                        4 => format!("substring({p},1) {cmp} 'mith'"),
                        _ => format!("concat(concat({p},' '),'x') {cmp} 'Smith x'"),
                    }
                }
                None => "false".into(),
            },
            5 => match self.path(e, date) {
                Some((p, _)) if self.chance(0.5) => {
                    // Instants moved by durations and the durations between them.
                    let d =
                        *self.pick(&["duration'P1D'", "-PT1H30M", "duration'P3650000D'", "P0D"]);
                    match self.rng.random_range(0..4) {
                        0 => format!("{var}{p} add {d} {cmp} now()"),
                        1 => format!("{var}{p} sub {d} {cmp} 2024-01-01T00:00:00Z"),
                        2 => format!("now() sub {var}{p} {cmp} {d}"),
                        _ => format!("totalseconds((now() sub {var}{p}) mul 3650) {cmp} 1e12"),
                    }
                }
                Some((p, _)) => {
                    let f = *self.pick(&["year", "month", "day", "hour", "minute", "second"]);
                    format!("{f}({var}{p}) {cmp} {}", self.rng.random_range(0..2030))
                }
                None => "true".into(),
            },
            6 => match self.path(e, numeric) {
                Some((p, ty)) => {
                    let op = *self.pick(&["add", "sub", "mul", "div", "mod"]);
                    let n = *self.pick(&["1", "2", "3", "7", "2.5", "0"]);
                    let f = *self.pick(&["", "round", "floor", "ceiling"]);
                    format!("{f}({var}{p} {op} {n}) {cmp} {}", self.literal(ty))
                }
                None => "true".into(),
            },
            7 if self.chance(0.4) => match self.path(e, any) {
                Some((p, ty)) => {
                    let to = *self.pick(&[
                        "Edm.Int16",
                        "Edm.Byte",
                        "Edm.SByte",
                        "Edm.Int32",
                        "Edm.Int64",
                        "Edm.Decimal",
                        "Edm.Double",
                        "Edm.String",
                        "Edm.Boolean",
                        "Edm.Date",
                        "Edm.DateTimeOffset",
                        "Edm.TimeOfDay",
                        "Edm.Guid",
                        "Edm.Nothing",
                    ]);
                    match self.rng.random_range(0..3) {
                        0 => format!("isof({var}{p},{to})"),
                        1 => format!("cast({var}{p},{to}) eq null"),
                        _ => format!("cast({var}{p},{to}) {cmp} {}", self.literal(ty)),
                    }
                }
                None => "true".into(),
            },
            7 => match self.path(e, any) {
                Some((p, ty)) => {
                    let n = self.rng.random_range(1..4);
                    let items: Vec<String> = (0..n).map(|_| self.literal(ty)).collect();
                    format!("{var}{p} in ({})", items.join(","))
                }
                None => "true".into(),
            },
            8 if self.chance(0.25) => {
                // Whether a related entity exists.
                let one: Vec<_> = e.navigation.iter().filter(|n| !n.many).collect();
                match one.choose(&mut self.rng) {
                    Some(nav) => format!("{var}{} {} null", nav.name, self.pick(&["eq", "ne"])),
                    None => "true".into(),
                }
            }
            8 if depth < 2 && var.is_empty() => {
                let many: Vec<_> = e.navigation.iter().filter(|n| n.many).collect();
                match many
                    .choose(&mut self.rng)
                    .and_then(|n| Some((n, MODEL.entity_type(n.target)?)))
                {
                    Some((nav, target)) => {
                        let f = *self.pick(&["any", "all"]);
                        if self.chance(0.15) && f == "any" {
                            format!("{}/any()", nav.name)
                        } else {
                            format!(
                                "{}/{f}(x:{})",
                                nav.name,
                                self.predicate(target, "x/", depth + 1)
                            )
                        }
                    }
                    None => "true".into(),
                }
            }
            9 if self.chance(0.3) => {
                // An aggregate of a collection's members.
                let many: Vec<_> = e.navigation.iter().filter(|n| n.many).collect();
                match many
                    .choose(&mut self.rng)
                    .and_then(|n| Some((n, MODEL.entity_type(n.target)?)))
                {
                    Some((nav, target)) => {
                        let props: Vec<_> =
                            target.properties.iter().filter(|p| numeric(p.ty)).collect();
                        let what = match props.choose(&mut self.rng) {
                            Some(p) if self.chance(0.8) => {
                                let m = ["sum", "min", "max", "average", "countdistinct"];
                                format!("{} with {}", p.name, self.pick(&m))
                            }
                            _ => "$count".into(),
                        };
                        let n = *self.pick(&["0", "1", "2.5", "1000"]);
                        format!("{var}{}/aggregate({what}) {cmp} {n}", nav.name)
                    }
                    None => "true".into(),
                }
            }
            10 if self.chance(0.2) => {
                // A property against an aggregate of the collection the option applies
                // to (501 where there is none, as inside a single-valued expand).
                let props: Vec<_> = e.properties.iter().filter(|p| numeric(p.ty)).collect();
                match props.choose(&mut self.rng) {
                    Some(p) => {
                        let m = *self.pick(&["sum", "min", "max", "average", "countdistinct"]);
                        let whole = if self.chance(0.3) {
                            "$these/$count".to_owned()
                        } else {
                            format!("$these/aggregate({} with {m})", p.name)
                        };
                        format!("{var}{} {cmp} {whole}", p.name)
                    }
                    None => "true".into(),
                }
            }
            _ => match self.path(e, any) {
                // Booleans compare with eq and ne only.
                Some((p, EdmType::Boolean)) => {
                    format!("{var}{p} eq {}", self.literal(EdmType::Boolean))
                }
                Some((p, ty)) => format!("{var}{p} {cmp} {}", self.literal(ty)),
                None => "true".into(),
            },
        };
        text
    }

    fn orderby(&mut self, e: &'static EntityType) -> String {
        let mut keys = Vec::new();
        for _ in 0..self.rng.random_range(1..3) {
            if let Some((p, _)) = self.path(e, |_| true) {
                let dir = if self.chance(0.5) { " desc" } else { "" };
                keys.push(format!("{p}{dir}"));
            }
        }
        keys.join(",")
    }

    /// `$apply` over `e`: filters, a groupby or aggregate, then options on the result.
    fn apply(&mut self, e: &'static EntityType) -> Vec<String> {
        let mut steps = Vec::new();
        if self.chance(0.4) {
            steps.push(format!("filter({})", self.predicate(e, "", 1)));
        }
        let p = self.pick(&e.properties);
        let computed = self.chance(0.3);
        if computed {
            steps.push(format!("compute({} eq null as Missing)", p.name));
        }
        let numeric = e
            .properties
            .iter()
            .filter(|p| p.ty.is_numeric())
            .collect::<Vec<_>>();
        if self.chance(0.2) {
            steps.push(format!("orderby({} desc)", self.pick(&e.properties).name));
            steps.push(format!("top({})", self.pick(&["1", "7", "40"])));
        }
        let mut aggs = vec!["$count as N".to_owned()];
        if let Some(n) = numeric.choose(&mut self.rng) {
            let m = *self.pick(&["sum", "min", "max", "average", "countdistinct"]);
            aggs.push(format!("{} with {m} as A", n.name));
        }
        // A path through navigation: each entity it reaches counted once.
        if self.chance(0.35) && !e.navigation.is_empty() {
            let nav = self.pick(&e.navigation);
            if let Some(t) = MODEL.entity_type(nav.target) {
                let numeric: Vec<_> = t.properties.iter().filter(|p| p.ty.is_numeric()).collect();
                match numeric.choose(&mut self.rng) {
                    Some(n) if self.chance(0.7) => {
                        let m = *self.pick(&["sum", "min", "max", "average", "countdistinct"]);
                        aggs.push(format!("{}/{} with {m} as P", nav.name, n.name));
                    }
                    _ => aggs.push(format!("{} with countdistinct as P", nav.name)),
                }
            }
        }
        // Alone, a per-group aggregate aggregated again (`from`), named `N` as the count.
        if let Some(n) = numeric.choose(&mut self.rng).filter(|_| self.chance(0.1)) {
            let m = *self.pick(&["sum", "min", "max", "average"]);
            aggs = vec![format!("{} with {m} from {} with max as N", n.name, p.name)];
        }
        let grouped = self.chance(0.7);
        if grouped {
            let mut groups = vec![p.name.to_owned()];
            if computed {
                groups.push("Missing".into());
            }
            if let Some(nav) = e.navigation.iter().find(|n| !n.many) {
                if let Some(t) = MODEL.entity_type(nav.target) {
                    if self.chance(0.4) {
                        groups.push(format!("{}/{}", nav.name, self.pick(&t.properties).name));
                    } else if self.chance(0.2) {
                        // The related entity as a whole.
                        groups.push(nav.name.to_owned());
                    }
                }
            }
            // Subtotals: the first two as a hierarchy, or the first and the grand total.
            let paths = match groups.as_slice() {
                [a, b, rest @ ..] if self.chance(0.2) => {
                    let mut p = vec![format!("rollup({a},{b})")];
                    p.extend(rest.iter().cloned());
                    p.join(",")
                }
                [a, rest @ ..] if self.chance(0.15) => {
                    let mut p = vec![format!("rollup($all,{a})")];
                    p.extend(rest.iter().cloned());
                    p.join(",")
                }
                _ => groups.join(","),
            };
            // Sometimes a ranking per group first.
            let per_group = match numeric.choose(&mut self.rng) {
                Some(n) if self.chance(0.2) => {
                    let n = n.name;
                    let rank = *self.pick(&[
                        "topcount(2,{})",
                        "bottomcount(1,{})",
                        "topsum(100,{})",
                        "toppercent(50,{})",
                        "orderby({} desc)/skip(1)/top(2)",
                    ]);
                    format!("{}/", rank.replace("{}", n))
                }
                _ => String::new(),
            };
            steps.push(format!(
                "groupby(({paths}),{per_group}aggregate({}))",
                aggs.join(",")
            ));
        } else {
            steps.push(format!("aggregate({})", aggs.join(",")));
        }
        if self.chance(0.3) {
            steps.push("filter(N gt 1)".into());
        }
        if self.chance(0.3) {
            let by = if grouped && self.chance(0.5) {
                p.name
            } else {
                "N"
            };
            steps.push(format!("orderby({by} desc)"));
            if self.chance(0.5) {
                steps.push(format!("skip({})", self.pick(&["0", "1", "2"])));
            }
            steps.push(format!("top({})", self.pick(&["1", "2", "5"])));
            if self.chance(0.3) {
                steps.push("filter(N gt 0)".into());
            }
        }
        // A value computed over the result, and a second level over it, whose count is `T`.
        if self.chance(0.2) {
            steps.push("compute(N mul 2 as K)/filter(K gt 1)".into());
        }
        let mut n = "N";
        if self.chance(0.25) {
            steps.push(if grouped {
                format!(
                    "groupby(({}),aggregate(N with sum as T,$count as C))",
                    p.name
                )
            } else {
                "aggregate(N with max as T,$count as C)".to_owned()
            });
            n = "T";
            if self.chance(0.3) {
                steps.push("filter(C ge 1)/orderby(T)/top(3)".into());
            }
        }
        // Sometimes with a grand total after it (`concat`; `$orderby` then 501).
        if self.chance(0.15) {
            let lead = usize::from(steps.first().is_some_and(|s| s.starts_with("filter(")));
            let rest = steps.split_off(lead).join("/");
            steps.push(format!("concat({rest},aggregate($count as N))"));
        }
        let mut opts = vec![format!("$apply={}", steps.join("/"))];
        if self.chance(0.4) {
            let by = if grouped && self.chance(0.5) {
                p.name
            } else {
                n
            };
            opts.push(format!("$orderby={by} desc"));
        }
        if self.chance(0.3) {
            opts.push(format!("$top={}", self.pick(&["1", "3", "25"])));
        }
        if self.chance(0.2) {
            opts.push("$count=true".into());
        }
        if self.chance(0.2) {
            opts.push(format!("$select={n}"));
        }
        opts
    }

    fn options(&mut self, e: &'static EntityType, depth: usize) -> Vec<String> {
        if depth == 0 && self.chance(0.1) {
            return self.apply(e);
        }
        if depth > 0 && self.chance(0.1) {
            // An expanded collection's aggregate ($count beside it is declined).
            let mut apply = self.apply(e);
            apply.retain(|o| !o.starts_with("$count"));
            return apply;
        }
        let mut opts = Vec::new();
        if self.chance(0.6) {
            opts.push(format!("$filter={}", self.predicate(e, "", 0)));
        }
        if self.chance(0.4) {
            let n = self.rng.random_range(1..4);
            let names: Vec<&str> = (0..n).map(|_| self.pick(&e.properties).name).collect();
            opts.push(format!("$select={}", names.join(",")));
        }
        if self.chance(0.4) {
            opts.push(format!("$orderby={}", self.orderby(e)));
        }
        if self.chance(0.4) {
            opts.push(format!("$top={}", self.pick(&["0", "1", "3", "25", "100"])));
        }
        if self.chance(0.2) {
            opts.push(format!("$skip={}", self.pick(&["0", "2", "30"])));
        }
        if self.chance(0.2) {
            opts.push("$count=true".into());
        }
        if self.chance(0.1) && !e.search.is_empty() {
            opts.push(format!(
                "$search={}",
                self.pick(&["smith", "Ltd", "smith OR jones", "NOT smith", "%22Ltd%22"])
            ));
        }
        if self.chance(0.15) {
            let p = self.pick(&e.properties);
            let expr = match p.ty {
                _ if self.chance(0.3) => format!("case({} eq null:0,true:1)", p.name),
                t if t.is_numeric() => format!("{} mul 2", p.name),
                EdmType::String => format!("length({})", p.name),
                _ => format!("{} eq null", p.name),
            };
            opts.push(format!("$compute={expr} as C"));
            if let Some(select) = opts.iter_mut().find(|o| o.starts_with("$select=")) {
                select.push_str(",C");
            }
            if !opts.iter().any(|o| o.starts_with("$orderby")) && self.chance(0.5) {
                opts.push("$orderby=C desc".into());
            }
        }
        if depth < 2 && !e.navigation.is_empty() && self.chance(0.4) {
            let nav = self.pick(&e.navigation);
            let mut item = nav.name.to_owned();
            if let Some(target) = MODEL.entity_type(nav.target) {
                let mut inner = if nav.many {
                    let mut o = self.options(target, depth + 1);
                    // A collection under a collection, unpaged, multiplies the rows (every
                    // lead with every lead of its pipeline): kept short, so runs stay quick.
                    if depth > 0 && !o.iter().any(|o| o.starts_with("$top")) {
                        o.push("$top=3".into());
                    }
                    o
                } else {
                    // Single-valued: only $select and $expand apply.
                    self.options(target, depth + 1)
                        .into_iter()
                        .filter(|o| o.starts_with("$select") || o.starts_with("$expand"))
                        .collect()
                };
                if nav.many && self.chance(0.1) {
                    inner.clear();
                    let suffix: &&str = self.pick(&["/$ref", "/$count"]);
                    item.push_str(suffix);
                }
                if !inner.is_empty() {
                    item = format!("{item}({})", inner.join(";"));
                }
            }
            opts.push(format!("$expand={item}"));
        }
        opts
    }

    fn url(&mut self) -> String {
        let e = &MODEL.types[self.rng.random_range(0..MODEL.types.len())];
        let mut path = e.set.to_owned();
        if self.chance(0.25) {
            let known = self.keys.get(e.set).cloned().unwrap_or_default();
            let key = match known.choose(&mut self.rng) {
                Some(k) if self.chance(0.9) => k.clone(),
                _ => "'x'".to_owned(),
            };
            path.push_str(&format!("({key})"));
            let many: Vec<_> = e.navigation.iter().filter(|n| n.many).collect();
            if let Some(nav) = many.choose(&mut self.rng) {
                if self.chance(0.5) {
                    path.push('/');
                    path.push_str(nav.name);
                    if let Some(target) = MODEL.entity_type(nav.target) {
                        let opts = self.options(target, 0);
                        if !opts.is_empty() {
                            return format!("{path}?{}", opts.join("&"));
                        }
                    }
                    return path;
                }
            }
            let opts: Vec<String> = self
                .options(e, 0)
                .into_iter()
                .filter(|o| o.starts_with("$select") || o.starts_with("$expand"))
                .collect();
            if self.chance(0.2) {
                // The same entity addressed by its id.
                let mut url = format!("$entity/{}.{}?$id={path}", MODEL.namespace, e.name);
                for o in &opts {
                    url.push('&');
                    url.push_str(o);
                }
                return url;
            }
            return if opts.is_empty() {
                path
            } else {
                format!("{path}?{}", opts.join("&"))
            };
        }
        if self.chance(0.1) {
            return format!("{path}/$count?$filter={}", self.predicate(e, "", 0));
        }
        if self.chance(0.1) {
            // The collection narrowed by a path segment first.
            path = format!("{path}/$filter({})", self.predicate(e, "", 1));
        }
        let opts = self.options(e, 0);
        if opts.is_empty() {
            path
        } else {
            format!("{path}?{}", opts.join("&"))
        }
    }
}

/// Percent-encodes what a client library would before sending.
fn encode(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '#' => out.push_str("%23"),
            '\\' => out.push_str("%5C"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// The nextLink with its `$skiptoken` rewritten: the last row's order-key values replaced
/// by values of other types, too few or too many, or the token's bytes damaged. The
/// token is the client's to send, so whatever it holds must be answered with a 4xx or
/// a page of the caller's own rows.
fn forge_skiptoken(gen: &mut Gen, next: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((head, token)) = next.split_once("$skiptoken=") else {
        return next.to_owned();
    };
    let (token, tail) = token.split_once('&').unwrap_or((token, ""));
    let Some(mut doc) = b64
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return next.to_owned();
    };
    let junk = [
        serde_json::json!(null),
        serde_json::json!("x'); DROP TABLE contacts;--"),
        serde_json::json!(1e308),
        serde_json::json!(-9223372036854775808i64),
        serde_json::json!(true),
        serde_json::json!([1, [2]]),
        serde_json::json!({"a": 1}),
        serde_json::json!("9999-12-31T23:59:59Z"),
        serde_json::json!("not a date"),
    ];
    match gen.rng.random_range(0..5) {
        0 => {
            if let Some(a) = doc["a"].as_array_mut() {
                for v in a.iter_mut() {
                    *v = gen.pick(&junk).clone();
                }
            }
        }
        1 => {
            if let Some(a) = doc["a"].as_array_mut() {
                a.pop();
            }
        }
        2 => {
            if let Some(a) = doc["a"].as_array_mut() {
                a.push(serde_json::json!(1));
            }
        }
        3 => doc["n"] = gen.pick(&junk).clone(),
        _ => {
            let mut bytes = token.as_bytes().to_vec();
            let at = gen.rng.random_range(0..bytes.len().max(1));
            if let Some(b) = bytes.get_mut(at) {
                *b = *gen.pick(b"A_-=%!");
            }
            return format!(
                "{head}$skiptoken={}{}{tail}",
                String::from_utf8_lossy(&bytes),
                if tail.is_empty() { "" } else { "&" }
            );
        }
    }
    let forged = b64.encode(doc.to_string());
    format!(
        "{head}$skiptoken={forged}{}{tail}",
        if tail.is_empty() { "" } else { "&" }
    )
}

/// An OData error body with a code and a message: JSON, or Atom/XML when that was asked for.
fn assert_error_body(what: &str, r: &common::Reply) {
    let ty = r.header("content-type").unwrap_or_default();
    if ty.contains("xml") {
        assert!(
            r.text.contains("<m:code>") && r.text.contains("<m:message>"),
            "{what}: {}",
            r.text
        );
        return;
    }
    let body: serde_json::Value = serde_json::from_str(&r.text)
        .unwrap_or_else(|e| panic!("{what}: error body not JSON ({e}): {}", r.text));
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        body["error"]["code"].is_string() && !message.is_empty(),
        "{what}: {}",
        r.text
    );
}

/// The code of an OData error body, JSON or Atom/XML, with a message beside it.
/// Answers on a raw connection: never a 5xx but 501, every error an OData error, and
/// none showing another workspace's emails.
fn answered_in_odata(what: &str, answers: &[common::raw::Answer], foreign: &[String]) {
    for a in answers {
        let text = String::from_utf8_lossy(&a.body);
        assert!(
            a.status < 500 || a.status == 501,
            "{what} gave {} {text}",
            a.status
        );
        if a.status >= 400 {
            assert!(error_code(a).is_some(), "{what}: {text}");
        }
        for email in foreign {
            assert!(
                !text.contains(email.as_str()),
                "{what} shows beta's {email}"
            );
        }
    }
}

fn error_code(a: &common::raw::Answer) -> Option<String> {
    let text = String::from_utf8_lossy(&a.body);
    if a.header("content-type").is_some_and(|t| t.contains("xml")) {
        let code = text.split_once("<m:code>")?.1.split_once("</m:code>")?.0;
        return text.contains("<m:message>").then(|| code.to_owned());
    }
    let body: serde_json::Value = serde_json::from_str(&text).ok()?;
    let message = body["error"]["message"].as_str().filter(|m| !m.is_empty());
    message.and(body["error"]["code"].as_str().map(str::to_owned))
}

/// Two seeded workspaces on a running app whose limiter never refuses.
async fn spawn_unlimited(b: Backend) -> TestApp {
    let db = TestDb::new(b);
    db.seed("alpha", 120, 1);
    db.seed("beta", 40, 2);
    spawn_with(db, |c| {
        c.rate_limit = "1000000/1s".parse().expect("rate limit")
    })
    .await
}

/// The other workspace's emails: none may appear in any answer to alpha.
async fn foreign_emails(app: &TestApp) -> Vec<String> {
    let beta = app
        .get(
            "Contacts?$select=Email&$filter=Email ne null",
            &app.db.token("beta"),
        )
        .await;
    beta.values()
        .iter()
        .filter_map(|v| v["Email"].as_str().map(str::to_owned))
        .collect()
}

#[actix_web::test]
async fn generated_requests_never_fail_the_server_and_errors_say_what_is_wrong() {
    for b in backends() {
        let app = spawn_unlimited(b).await;
        let token = app.db.token("alpha");
        let foreign = foreign_emails(&app).await;
        assert!(!foreign.is_empty());

        let (requests, seed) = plan();
        let mut gen = Gen {
            rng: StdRng::seed_from_u64(seed),
        };
        let (mut ok, mut client_errors, mut next_pages) = (0, 0, 0);
        for _ in 0..requests {
            let mut url = encode(&gen.url());
            let headers = gen.headers();
            // A page's nextLink is followed, with the same headers, like a client would.
            for _page in 0..3 {
                let r = app.get_with(&url, &token, &headers).await;
                let what = format!("{:?}: {url} with {headers:?}", app.backend);
                assert!(
                    r.status < 500 || r.status == 501,
                    "{what} gave {} {}",
                    r.status,
                    r.text
                );
                let ty = r.header("content-type").unwrap_or_default().to_owned();
                if r.status >= 400 {
                    client_errors += 1;
                    assert_error_body(&what, &r);
                    break;
                }
                ok += 1;
                for email in &foreign {
                    assert!(
                        !r.text.contains(email.as_str()),
                        "{what} shows beta's {email}"
                    );
                }
                if !ty.starts_with("application/json") {
                    break;
                }
                let doc: serde_json::Value = serde_json::from_str(&r.text)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.text));
                match doc["@odata.nextLink"].as_str() {
                    Some(next) => {
                        next_pages += 1;
                        url = next.to_owned();
                        if gen.chance(0.3) {
                            url = forge_skiptoken(&mut gen, &url);
                        }
                    }
                    None => break,
                }
            }
        }
        assert!(next_pages > 0, "no request was paged");

        // The other methods, on the same kinds of URL, with and without a body.
        for i in 0..requests / 10 {
            let url = encode(&gen.url());
            let method = *gen.pick(&["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "MERGE"]);
            let mut req = app
                .client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                    format!("{}/{url}", app.base),
                )
                .bearer_auth(&token);
            if i % 2 == 0 {
                req = req
                    .header("content-type", "application/json")
                    .body(*gen.pick(&["{\"Surname\":\"X\"}", "{", "[]", "null", ""]));
            }
            let r = common::Reply::read(req.send().await.expect("request")).await;
            assert!(
                r.status < 500 || r.status == 501,
                "{method} {url} gave {} {}",
                r.status,
                r.text
            );
            if r.status >= 400 && method != "HEAD" {
                assert_error_body(&format!("{method} {url}"), &r);
            }
        }
        // The same kinds of request with their options in the body of a POST to `$query`.
        for _ in 0..requests / 10 {
            let url = encode(&gen.url());
            let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
            let target = format!("{}/{}/$query", app.base, path.trim_end_matches('/'));
            let req = app
                .client
                .post(&target)
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body(query.to_owned());
            let r = common::Reply::read(req.send().await.expect("request")).await;
            let what = format!("POST {target} with {query}");
            assert!(
                r.status < 500 || r.status == 501,
                "{what} gave {} {}",
                r.status,
                r.text
            );
            if r.status >= 400 {
                assert_error_body(&what, &r);
            }
            for email in &foreign {
                assert!(
                    !r.text.contains(email.as_str()),
                    "{what} shows beta's {email}"
                );
            }
        }
        // The same kinds of URL as some clients send them, unencoded (curl passes `"`,
        // `{` and UTF-8 as typed), each beside the same request encoded on one
        // connection: the same answer. Some get stray bytes of any value on top, and
        // then only an OData answer is required, and the next request still read.
        let mut damaged = 0;
        for _ in 0..requests / 10 {
            let url = gen.url();
            let mut raw = b"/".to_vec();
            raw.extend(url.replace(' ', "%20").replace('#', "%23").into_bytes());
            let stray = gen.chance(0.3);
            if stray {
                damaged += 1;
                for _ in 0..gen.rng().random_range(1..4) {
                    let at = gen.rng().random_range(1..=raw.len());
                    let b = loop {
                        let b: u8 = gen.rng().random();
                        if !matches!(b, b' ' | b'\r' | b'\n') {
                            break b;
                        }
                    };
                    raw.insert(at, b);
                }
            }
            let mut requests = common::raw::get_bytes(&raw, &token, false);
            requests.extend(common::raw::get(
                &format!("/{}", encode(&url)),
                &token,
                true,
            ));
            let answers = common::raw::exchange(&app.base, requests).await;
            let what = format!("{:?}: raw {}", app.backend, String::from_utf8_lossy(&raw));
            assert_eq!(answers.len(), 2, "{what}: {answers:?}");
            answered_in_odata(&what, &answers, &foreign);
            if !stray {
                let [raw_answer, encoded] = &answers[..] else {
                    unreachable!()
                };
                assert_eq!(raw_answer.status, encoded.status, "{what}");
                if raw_answer.status >= 400 {
                    assert_eq!(error_code(raw_answer), error_code(encoded), "{what}");
                }
            }
        }
        assert!(damaged > 0);

        // Stray bytes in the head after the request line: a request that HTTP still
        // accepts is answered as usual; one it refuses gets an OData 400 and is the last
        // the connection reads. Either way, no other workspace's data.
        let mut refused = 0;
        for _ in 0..requests / 10 {
            let mut head = common::raw::get(&format!("/{}", encode(&gen.url())), &token, false);
            let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
            for _ in 0..gen.rng().random_range(1..4) {
                let at = gen.rng().random_range(line_end..head.len() - 2);
                let b: u8 = gen.rng().random();
                head.insert(at, b);
            }
            head.extend(common::raw::get("/Contacts/$count", &token, true));
            let answers = common::raw::exchange(&app.base, head.clone()).await;
            let what = format!("{:?}: head {}", app.backend, head.escape_ascii());
            assert!(matches!(answers.len(), 1 | 2), "{what}: {answers:?}");
            answered_in_odata(&what, &answers, &foreign);
            if answers.len() == 1 {
                refused += 1;
                assert_eq!(answers[0].status, 400, "{what}: {answers:?}");
                assert_eq!(answers[0].header("connection"), Some("close"), "{what}");
            }
        }
        assert!(refused > 0, "no damaged head was refused");

        // Both kinds were exercised, not only one.
        assert!(ok > requests / 10, "{ok} succeeded");
        assert!(client_errors > requests / 10, "{client_errors} refused");
    }
}

/// Numbers compared as numbers, to a relative 1e-9: SQLite keeps a whole decimal as an
/// integer (807), PostgreSQL as 807.000000, and computed doubles may differ in the last
/// digit; IEEE754 strings of digits count as numbers too.
/// The same kind of generated requests, ten at a time in JSON `$batch`es: every answer
/// inside is one a request alone may get (no 5xx but 501, errors with OData bodies,
/// nothing of the other workspace).
#[actix_web::test]
async fn generated_requests_in_batches_never_fail_the_server() {
    for b in backends() {
        let app = spawn_unlimited(b).await;
        let token = app.db.token("alpha");
        let foreign = foreign_emails(&app).await;
        let (requests, seed) = plan();
        let mut gen = Gen {
            rng: StdRng::seed_from_u64(seed ^ 0xba7c),
        };
        for _ in 0..requests / 10 {
            let items: Vec<serde_json::Value> = (0..10)
                .map(|i| {
                    let headers: serde_json::Map<String, serde_json::Value> = gen
                        .headers()
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
                        .collect();
                    let method = if gen.chance(0.9) {
                        "GET"
                    } else {
                        *gen.pick(&["POST", "PATCH", "DELETE", "HEAD"])
                    };
                    serde_json::json!({"id": i.to_string(), "method": method, "url": encode(&gen.url()), "headers": headers})
                })
                .collect();
            let body = serde_json::json!({ "requests": &items });
            let r = common::Reply::read(
                app.client
                    .post(format!("{}/$batch", app.base))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("batch"),
            )
            .await;
            let what = format!("{:?}: batch {body}", app.backend);
            assert_eq!(r.status, 200, "{what}: {}", r.text);
            for email in &foreign {
                assert!(
                    !r.text.contains(email.as_str()),
                    "{what} shows beta's {email}"
                );
            }
            let doc = r.json();
            let answers = doc["responses"].as_array().cloned().unwrap_or_default();
            assert_eq!(answers.len(), 10, "{what}");
            for a in answers {
                let status = a["status"].as_u64().unwrap_or(0);
                assert!((200..500).contains(&status) || status == 501, "{what}: {a}");
                // A HEAD request's answer has no body, errors included.
                let head = items
                    .iter()
                    .any(|i| i["id"] == a["id"] && i["method"] == "HEAD");
                if head {
                    assert!(a.get("body").is_none(), "{what}: {a}");
                } else if status >= 400 {
                    // JSON errors, or `<m:error>` where XML was negotiated.
                    let json_error = a["body"]["error"]["message"].is_string();
                    let xml_error = a["body"].as_str().is_some_and(|x| x.contains("error"));
                    assert!(json_error || xml_error, "{what}: {a}");
                }
            }
        }
    }
}

/// A page also ends once its JSON reaches the page budget (16 MiB), and PostgreSQL's
/// JSON text for the same rows is a little longer, so a page of large expanded rows
/// may end a few rows earlier there, with a nextLink. The rows both have must agree:
/// the longer page is cut to the shorter one's rows and its nextLink.
fn budget_cut(a: &mut serde_json::Value, b: &mut serde_json::Value) {
    let len = |v: &serde_json::Value| v["value"].as_array().map(Vec::len);
    let (Some(la), Some(lb)) = (len(a), len(b)) else {
        return;
    };
    let (long, short) = if la > lb { (a, &*b) } else { (b, &*a) };
    if la == lb || short.get("@odata.nextLink").is_none() || short.to_string().len() < 8 << 20 {
        return;
    }
    let n = len(short).unwrap_or(0);
    if let Some(rows) = long["value"].as_array_mut() {
        rows.truncate(n);
    }
    long["@odata.nextLink"] = short["@odata.nextLink"].clone();
}

fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-') =>
        {
            s.parse().ok()
        }
        _ => None,
    };
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        // A nextLink's token is opaque: each database writes a decimal order value as
        // its own exact text (`555.56`, `555.560000`), so tokens compare by content.
        (Value::String(x), Value::String(y)) => match (skiptoken(x), skiptoken(y)) {
            (Some((px, tx)), Some((py, ty))) => px == py && same_json(&tx, &ty),
            _ => a == b,
        },
        _ => a == b,
    }
}

/// A link's text before `$skiptoken=` and its token's JSON.
fn skiptoken(link: &str) -> Option<(&str, serde_json::Value)> {
    use base64::Engine;
    let (before, token) = link.split_once("$skiptoken=")?;
    let token = token.split('&').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    Some((before, serde_json::from_slice(&bytes).ok()?))
}

/// The same generated reads against the same data on SQLite and PostgreSQL: the same
/// status, and for a success the same document (rows, order, values, counts, links).
#[actix_web::test]
async fn sqlite_and_postgresql_answer_generated_reads_alike() {
    let kinds = backends();
    if kinds.len() < 2 {
        return;
    }
    let mut apps = Vec::new();
    for b in kinds {
        let app = spawn_unlimited(b).await;
        let token = app.db.token("alpha");
        // The token's user was created just now, at a different second on each.
        diesel::RunQueryDsl::execute(
            diesel::sql_query(
                "UPDATE crm_users SET created = '2020-01-01T00:00:00Z', \
                 last_updated = '2020-01-01T00:00:00Z' WHERE user_code = 'API'",
            ),
            &mut app.db.conn(),
        )
        .expect("fix the API user's timestamps");
        apps.push((app, token));
    }
    let (requests, seed) = plan();
    // Some keys of each set, as key literals.
    let mut keys = std::collections::HashMap::new();
    for e in &MODEL.types {
        let Some(key) = e.key_properties().next() else {
            continue;
        };
        let (app, token) = &apps[0];
        let r = app
            .get(&format!("{}?$select={}&$top=8", e.set, key.name), token)
            .await;
        let literals: Vec<String> = r
            .values()
            .iter()
            .map(|v| match &v[key.name] {
                serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
                other => other.to_string(),
            })
            .collect();
        keys.insert(e.set, literals);
    }
    let mut gen = Typed {
        rng: StdRng::seed_from_u64(seed),
        keys,
    };
    let mut compared = 0;
    for _ in 0..requests {
        let url = encode(&gen.url());
        let headers: Vec<(&str, &str)> = match gen.rng.random_range(0..6) {
            0 => vec![("accept", "application/json;odata.metadata=full")],
            1 => vec![("accept", "application/json;IEEE754Compatible=true")],
            2 => vec![("accept", "application/json;odata.metadata=none")],
            3 => vec![("prefer", "odata.maxpagesize=7")],
            _ => vec![],
        };
        let mut answers = Vec::new();
        for (app, token) in &apps {
            let r = app.get_with(&url, token, &headers).await;
            let body = r.text.replace(&app.base, "BASE");
            answers.push((
                r.status,
                r.header("content-type").unwrap_or_default().to_owned(),
                body,
            ));
        }
        let ((s1, ty, a), (s2, _, b)) = (&answers[0], &answers[1]);
        assert_eq!(
            s1, s2,
            "{url} {headers:?}: SQLite {s1} {a}\nPostgreSQL {s2} {b}"
        );
        if *s1 != 200 {
            if std::env::var("CRM_ROBUSTNESS_SHOW").is_ok() {
                eprintln!("{s1} {url} {}", &a[..a.len().min(300)]);
            }
            continue;
        }
        if ty.starts_with("application/json") {
            let (mut x, mut y): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(a).expect("JSON"),
                serde_json::from_str(b).expect("JSON"),
            );
            budget_cut(&mut x, &mut y);
            assert!(
                same_json(&x, &y),
                "{url} {headers:?}:\nSQLite     {a}\nPostgreSQL {b}"
            );
            compared += 1;
        }
    }
    assert!(compared > requests / 4, "{compared} compared");
}
