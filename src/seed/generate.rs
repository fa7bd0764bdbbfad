//! Row generation: every value comes from seeded `Rng` streams and a fixed reference
//! date, so the same seed, contact count and starting ids always give the same rows.

use super::insert::{Table, Val};
use super::lookups::*;
use super::names::*;
use super::rng::Rng;
use std::collections::HashSet;

/// 2026-01-01T00:00:00Z: "now" for the generated history (never the real clock).
pub const REFERENCE: i64 = 1_767_225_600;
pub const DAY: i64 = 86_400;
/// Five years back from `REFERENCE`.
pub const SPAN: i64 = 1826 * DAY;
/// Lookups and users exist before any of the generated history.
const SETUP: i64 = REFERENCE - SPAN - 30 * DAY;

/// The share of soft-deleted rows (StatusFlag 'D') in tables that have one.
const DELETED: f64 = 0.03;

/// Lower-case letters and digits only: `O'Brien` → `obrien`.
fn email_part(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn flag(rng: &mut Rng) -> Val {
    Val::Str(if rng.chance(DELETED) { "D" } else { "A" })
}

/// A time uniformly between `from` and `REFERENCE`.
/// A time between `from` and `REFERENCE`, nearer `from` for `power > 1`. Companies
/// (power 2), their contacts (3) and the contacts' leads (4) nest this way so that
/// every child is newer than its parent and each table still spreads over the five
/// years, with somewhat more recent leads.
fn after_skewed(rng: &mut Rng, from: i64, power: i32) -> i64 {
    let span = (REFERENCE - from).max(0) as f64;
    from + (span * rng.unit().powi(power)) as i64
}

fn after(rng: &mut Rng, from: i64) -> i64 {
    rng.range(from, REFERENCE.max(from))
}

/// LastUpdated: often the same as Created, otherwise some time after it.
fn updated(rng: &mut Rng, created: i64) -> i64 {
    if rng.chance(0.4) {
        created
    } else {
        after(rng, created)
    }
}

fn midnight(t: i64) -> i64 {
    t - t.rem_euclid(DAY)
}

#[derive(Debug, Clone)]
pub struct User {
    pub code: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub obsolete: bool,
}

/// Where a batch's ids start: each is the workspace's current maximum (0 when empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bases {
    pub company: i64,
    pub address: i64,
    pub division: i64,
    pub contact: i64,
    pub lead: i64,
}

/// How many rows of each generated table a seed with `contacts` contacts makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub companies: usize,
    pub divisions: usize,
    pub contacts: usize,
    pub leads: usize,
}

impl Counts {
    pub fn for_contacts(contacts: usize) -> Self {
        if contacts == 0 {
            return Self {
                companies: 0,
                divisions: 0,
                contacts: 0,
                leads: 0,
            };
        }
        let companies = (contacts.div_ceil(25)).max(1);
        let divisions = (contacts.div_ceil(10)).max(companies);
        Self {
            companies,
            divisions,
            contacts,
            leads: contacts * 2,
        }
    }
}

struct CompanyInfo {
    name: String,
    domain: String,
    customer: bool,
    account_manager: String,
    created: i64,
    divisions: u32,
}

struct DivisionInfo {
    created: i64,
    company: usize,
    address_id: i64,
}

struct ContactInfo {
    division: u32,
    created: i64,
}

pub struct Generator {
    seed: u64,
    salt: u64,
    pub bases: Bases,
    pub counts: Counts,
    pub users: Vec<User>,
    active: Vec<String>,
    admin: String,
    companies: Vec<CompanyInfo>,
    divisions: Vec<DivisionInfo>,
    contacts: Vec<ContactInfo>,
}

impl Generator {
    pub fn new(seed: u64, bases: Bases, counts: Counts) -> Self {
        let users = make_users(seed);
        let active: Vec<String> = users
            .iter()
            .filter(|u| !u.obsolete)
            .map(|u| u.code.clone())
            .collect();
        let admin = users[0].code.clone();
        Self {
            seed,
            // Seeding an existing workspace again continues its ids and draws new data.
            salt: bases.contact as u64,
            bases,
            counts,
            users,
            active,
            admin,
            companies: Vec::new(),
            divisions: Vec::new(),
            contacts: Vec::with_capacity(counts.contacts),
        }
    }

    pub fn rng(&self, table: &str) -> Rng {
        Rng::stream(self.seed, table, self.salt)
    }

    fn user(&self, rng: &mut Rng) -> String {
        self.active[rng.index(self.active.len())].clone()
    }

    pub fn user_rows(&self) -> Vec<Vec<Val>> {
        self.users
            .iter()
            .map(|u| {
                vec![
                    Val::Text(u.code.clone()),
                    Val::Text(u.name.clone()),
                    Val::Text(u.email.clone()),
                    Val::Int(i64::from(u.obsolete)),
                    Val::Str(u.role),
                    Val::Ts(SETUP),
                    Val::Ts(if u.obsolete {
                        REFERENCE - SPAN / 2
                    } else {
                        SETUP
                    }),
                    Val::Text(self.admin.clone()),
                    Val::Text(self.admin.clone()),
                ]
            })
            .collect()
    }

    fn lookup_row(
        &self,
        code: &'static str,
        desc: &'static str,
        seq: usize,
        obsolete: i64,
    ) -> Vec<Val> {
        vec![
            Val::Str(code),
            Val::Str(desc),
            Val::Int(10 * (seq as i64 + 1)),
            Val::Int(obsolete),
            Val::Ts(SETUP),
            Val::Ts(SETUP),
            Val::Text(self.admin.clone()),
            Val::Text(self.admin.clone()),
        ]
    }

    pub fn status_rows(&self) -> Vec<Vec<Val>> {
        STATUSES
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut row = self.lookup_row(s.code, s.description, i, 0);
                row.extend([
                    Val::Int(s.dead),
                    Val::Int(s.outcome),
                    Val::Int(s.guttometer),
                    Val::Int(s.recall),
                ]);
                row
            })
            .collect()
    }

    /// Rows for the four plain lookups, by table name.
    pub fn lookup_rows(&self, table: &Table) -> Vec<Vec<Val>> {
        let defs = match table.name {
            "lead_sizes" => SIZES,
            "lead_sources" => LEAD_SOURCE_DEFS,
            "lead_types" => TYPES,
            "lead_pipelines" => PIPELINES,
            _ => &[],
        };
        defs.iter()
            .enumerate()
            .map(|(i, d)| self.lookup_row(d.0, d.1, i, d.2))
            .collect()
    }

    pub fn company_rows(&mut self) -> Vec<Vec<Val>> {
        let mut rng = self.rng("companies");
        let mut names = HashSet::new();
        let mut domains = HashSet::new();
        let mut rows = Vec::with_capacity(self.counts.companies);
        for i in 0..self.counts.companies {
            let id = self.bases.company + i as i64 + 1;
            let industry = rng.pick(INDUSTRIES);
            let (mut core, mut name);
            let mut tries = 0;
            loop {
                let sons = rng.chance(0.08);
                core = if sons {
                    format!(
                        "{} {}",
                        rng.skewed(SURNAMES),
                        rng.pick(&["& Sons", "Brothers", "& Daughters"])
                    )
                } else {
                    match rng.below(100) {
                        0..45 => format!("{} {industry}", rng.pick(COMPANY_WORDS)),
                        45..72 => format!("{} {industry}", rng.skewed(SURNAMES)),
                        72..88 => format!("{} & {}", rng.skewed(SURNAMES), rng.skewed(SURNAMES)),
                        _ => format!("{} {}", rng.pick(COMPANY_WORDS), rng.pick(COMPANY_WORDS)),
                    }
                };
                let suffix = if sons {
                    rng.pick(&[" Ltd", " Limited", ""])
                } else {
                    rng.weighted(COMPANY_SUFFIXES)
                };
                name = format!("{core}{suffix}");
                tries += 1;
                if names.insert(name.clone()) || tries >= 10 {
                    break;
                }
            }
            let mut domain = format!(
                "{}{}",
                email_part(&core.replace('&', "and")),
                rng.weighted(&[(".co.uk", 70), (".com", 25), (".uk", 5)])
            );
            if !domains.insert(domain.clone()) {
                domain = format!("{}{id}.co.uk", email_part(&core));
                domains.insert(domain.clone());
            }
            let kind = rng.weighted(COMPANY_TYPES);
            let customer = kind == "Customer";
            let created = after_skewed(&mut rng, REFERENCE - SPAN, 2);
            let account_manager = self.user(&mut rng);
            let first_order = customer.then(|| after(&mut rng, created));
            let lapsed = match first_order {
                Some(f) if rng.chance(0.15) => Some(after(&mut rng, f)),
                _ => None,
            };
            let reference = rng.chance(0.6).then(|| format!("ACC{id:05}"));
            let description = rng.chance(0.35).then(|| match rng.below(3) {
                0 => format!("Family-run {} business.", industry.to_lowercase()),
                1 => format!(
                    "{} specialist with customers across the {} region.",
                    industry,
                    rng.pick(TERRITORIES)
                ),
                _ => format!(
                    "Established {}; {} and related services.",
                    rng.range(1952, 2019),
                    industry.to_lowercase()
                ),
            });
            let last_updated = updated(&mut rng, created);
            rows.push(vec![
                Val::Int(id),
                Val::Text(name.clone()),
                Val::Str(kind),
                Val::Text(account_manager.clone()),
                Val::Str(rng.pick(SOURCES)),
                Val::opt_text(reference),
                Val::opt_text(description),
                Val::opt_ts(first_order),
                Val::opt_ts(lapsed),
                Val::Ts(created),
                Val::Ts(last_updated),
                Val::Text(self.user(&mut rng)),
                Val::Text(self.user(&mut rng)),
                flag(&mut rng),
            ]);
            self.companies.push(CompanyInfo {
                name,
                domain,
                customer,
                account_manager,
                created,
                divisions: 0,
            });
        }
        rows
    }

    /// Addresses and divisions (one address each); call after `company_rows`.
    pub fn division_rows(&mut self) -> (Vec<Vec<Val>>, Vec<Vec<Val>>) {
        let mut rng = self.rng("divisions");
        let n = self.counts.divisions;
        let (mut addresses, mut divisions) = (Vec::with_capacity(n), Vec::with_capacity(n));
        if self.companies.is_empty() {
            return (addresses, divisions);
        }
        for j in 0..n {
            let id = self.bases.division + j as i64 + 1;
            let address_id = self.bases.address + j as i64 + 1;
            let c = if j < self.companies.len() {
                j
            } else {
                rng.index(self.companies.len())
            };
            let (town, county, area) = rng.skewed(TOWNS);
            let company = &mut self.companies[c];
            company.divisions += 1;
            let name = if company.divisions == 1 && !rng.chance(0.1) {
                company.name.clone()
            } else {
                format!("{} - {town}", company.name)
            };
            let created =
                company.created + rng.range(0, (60 * DAY).min(REFERENCE - company.created));
            let (customer, domain, manager) = (
                company.customer,
                company.domain.clone(),
                company.account_manager.clone(),
            );

            // The address.
            let (line1, line2) = if rng.chance(0.45) {
                (
                    format!("Unit {}", rng.range(1, 40)),
                    Some(format!(
                        "{} {}",
                        rng.pick(COMPANY_WORDS),
                        rng.pick(BUSINESS_PARKS)
                    )),
                )
            } else {
                (format!("{} {}", rng.range(1, 250), rng.pick(STREETS)), None)
            };
            let line3 = (line2.is_some() && rng.chance(0.3)).then(|| rng.pick(STREETS).to_string());
            const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
            let postcode = format!(
                "{area}{} {}{}{}",
                if area == "EC" {
                    rng.range(1, 4)
                } else {
                    rng.range(1, 29)
                },
                rng.range(0, 9),
                char::from(rng.pick(INWARD)),
                char::from(rng.pick(INWARD))
            );
            addresses.push(vec![
                Val::Int(address_id),
                Val::Text(line1),
                Val::opt_text(line2),
                Val::opt_text(line3),
                Val::Str(town),
                Val::Str(county),
                Val::Text(postcode),
                Val::Str("GB"),
                Val::Ts(created),
                Val::Ts(updated(&mut rng, created)),
                Val::Text(self.user(&mut rng)),
                Val::Text(self.user(&mut rng)),
            ]);

            let phone = if town == "London" {
                format!("020 7946 0{:03}", rng.range(0, 999))
            } else {
                format!("01632 960{:03}", rng.range(0, 999))
            };
            let employees = (10f64.powf(rng.unit() * 3.7)).round() as i64;
            let last_updated = updated(&mut rng, created);
            divisions.push(vec![
                Val::Int(id),
                Val::Int(self.bases.company + c as i64 + 1),
                Val::Str(if rng.chance(0.8) { "A" } else { "B" }),
                Val::Text(name),
                Val::Int(address_id),
                Val::opt_text(customer.then(|| format!("SL{id:06}"))),
                Val::Text(phone),
                Val::opt_text(rng.chance(0.9).then(|| format!("www.{domain}"))),
                Val::Int(employees),
                Val::Text(if rng.chance(0.85) {
                    manager
                } else {
                    self.user(&mut rng)
                }),
                Val::Str(rng.pick(TERRITORIES)),
                Val::Str(rng.weighted(&[("GBP", 85), ("EUR", 10), ("USD", 5)])),
                Val::Int(i64::from(rng.chance(0.1))),
                Val::Bool(rng.chance(0.15)),
                Val::Ts(created),
                Val::Ts(last_updated),
                Val::Text(self.user(&mut rng)),
                Val::Text(self.user(&mut rng)),
                flag(&mut rng),
            ]);
            self.divisions.push(DivisionInfo {
                created,
                company: c,
                address_id,
            });
        }
        (addresses, divisions)
    }

    /// Contact number `i` (0-based) of this batch; call after `division_rows`, in order.
    pub fn contact_row(&mut self, rng: &mut Rng, i: usize) -> Vec<Val> {
        let id = self.bases.contact + i as i64 + 1;
        let d = rng.skewed_index(self.divisions.len());
        let division = &self.divisions[d];
        let (div_created, address_id) = (division.created, division.address_id);
        let domain = self.companies[division.company].domain.clone();

        let female = rng.chance(0.5);
        let (title, forename) = if female {
            (rng.weighted(TITLES_FEMALE), rng.skewed(FEMALE_FORENAMES))
        } else {
            (rng.weighted(TITLES_MALE), rng.skewed(MALE_FORENAMES))
        };
        let surname = rng.skewed(SURNAMES);
        let preferred = NICKNAMES
            .iter()
            .find(|(full, _)| *full == forename)
            .filter(|_| rng.chance(0.35))
            .map(|(_, short)| *short);
        let salutation = if rng.chance(0.6) {
            format!("Dear {title} {surname}")
        } else {
            format!("Dear {}", preferred.unwrap_or(forename))
        };
        let (job, department) = rng.pick(JOB_TITLES);
        let email = if rng.chance(0.05) {
            None
        } else {
            let domain = if rng.chance(0.02) {
                "prospectsoft.com"
            } else {
                domain.as_str()
            };
            Some(format!(
                "{}.{}@{domain}",
                email_part(forename),
                email_part(surname)
            ))
        };
        let bounced = email.is_some() && rng.chance(0.02);
        let created = after_skewed(rng, div_created, 3);
        let mobile = rng
            .chance(0.6)
            .then(|| format!("07700 900{:03}", rng.range(0, 999)));
        let row = vec![
            Val::Int(id),
            Val::Int(self.bases.division + d as i64 + 1),
            Val::opt_int(rng.chance(0.6).then_some(address_id)),
            Val::Str(title),
            Val::Str(forename),
            Val::Str(surname),
            Val::opt_str(preferred),
            Val::Text(salutation),
            Val::Str(job),
            Val::Str(department),
            Val::Text(format!("01632 960{:03}", rng.range(0, 999))),
            Val::opt_text(mobile),
            Val::opt_text(email),
            Val::Int(i64::from(bounced)),
            Val::Int(i64::from(rng.chance(0.6))),
            Val::Str(rng.pick(SOURCES)),
            Val::Ts(created),
            Val::Ts(updated(rng, created)),
            Val::Text(self.user(rng)),
            Val::Text(self.user(rng)),
            flag(rng),
        ];
        self.contacts.push(ContactInfo {
            division: d as u32,
            created,
        });
        row
    }

    /// Lead number `i` (0-based) of this batch; call after all `contact_row`s.
    pub fn lead_row(&self, rng: &mut Rng, i: usize) -> Vec<Val> {
        let id = self.bases.lead + i as i64 + 1;
        let (contact_id, d, since) = if self.contacts.is_empty() || rng.chance(0.10) {
            let d = rng.index(self.divisions.len());
            (None, d, self.divisions[d].created)
        } else {
            let c = rng.index(self.contacts.len());
            let info = &self.contacts[c];
            (
                Some(self.bases.contact + c as i64 + 1),
                info.division as usize,
                info.created,
            )
        };
        let status = {
            let w: Vec<(usize, u32)> = STATUSES
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.weight))
                .collect();
            &STATUSES[rng.weighted(&w)]
        };
        let closed = status.dead == 1 || status.outcome != 0;
        let created = after_skewed(rng, since, 4);
        let status_changed = if status.code == "NEW" {
            created
        } else {
            created
                + rng.range(
                    DAY.min(REFERENCE - created),
                    (365 * DAY).min(REFERENCE - created),
                )
        };
        let estimated_close = midnight(created) + rng.range(14, 270) * DAY;
        let close_date = closed.then(|| midnight(status_changed));
        let last_updated =
            status_changed + rng.range(0, (30 * DAY).min(REFERENCE - status_changed));
        // Log-uniform between £500 and £250,000, in pence.
        let value = ((500f64).ln() + rng.unit() * (250_000f64 / 500.0).ln()).exp();
        let value = ((value * 100.0).round() as i64).clamp(50_000, 25_000_000);
        let guttometer = match status.code {
            "WON" => 100,
            "LOST" | "DEAD" => 0,
            _ => (status.guttometer + rng.range(-10, 10)).clamp(0, 100),
        };
        let sales = self.user(rng);
        let owner = if rng.chance(0.7) {
            sales.clone()
        } else {
            self.user(rng)
        };
        let product = rng.pick(PRODUCTS);
        let description = match rng.below(3) {
            0 => product.to_string(),
            1 => format!("{product} ({} users)", rng.range(2, 250)),
            _ => format!("{product} - phase {}", rng.range(1, 3)),
        };
        let summary = rng.chance(0.55).then(|| rng.pick(SITUATIONS).to_string());
        vec![
            Val::Int(id),
            Val::opt_int(contact_id),
            Val::Int(self.bases.division + d as i64 + 1),
            Val::Str(status.code),
            Val::Str(size_for(value)),
            Val::Str(rng.weighted(&weights(TYPES))),
            Val::Str(rng.weighted(&weights(PIPELINES))),
            Val::Str(rng.weighted(&weights(LEAD_SOURCE_DEFS))),
            Val::Text(sales.clone()),
            Val::Text(owner),
            Val::Text(description),
            Val::opt_text(summary),
            Val::Int(guttometer),
            Val::Money(value),
            Val::Ts(estimated_close),
            Val::opt_ts(close_date),
            Val::Ts(status_changed),
            Val::Ts(created),
            Val::Ts(last_updated),
            Val::Text(sales),
            Val::Text(self.user(rng)),
            flag(rng),
        ]
    }
}

/// About ten users with initials as codes; the first is the admin, the next two can
/// write, the rest read, and the last has left (Obsolete 1). They depend only on the
/// seed, so seeding a workspace again finds the same users.
fn make_users(seed: u64) -> Vec<User> {
    let mut rng = Rng::stream(seed, "crm_users", 0);
    let mut codes = HashSet::new();
    let mut users = Vec::new();
    while users.len() < 10 {
        let forename = if users.len() % 2 == 0 {
            rng.pick(MALE_FORENAMES)
        } else {
            rng.pick(FEMALE_FORENAMES)
        };
        let surname = rng.skewed(SURNAMES);
        let middle = char::from(b'A' + rng.below(26) as u8);
        let code: String = [
            forename.chars().next(),
            Some(middle),
            surname.chars().next(),
        ]
        .into_iter()
        .flatten()
        .collect::<String>()
        .to_ascii_uppercase();
        if !codes.insert(code.clone()) {
            continue;
        }
        let role = match users.len() {
            0 => "admin",
            1 | 2 => "write",
            _ => "read",
        };
        users.push(User {
            code,
            name: format!("{forename} {surname}"),
            email: format!(
                "{}.{}@prospectsoft.com",
                email_part(forename),
                email_part(surname)
            ),
            role,
            obsolete: users.len() == 9,
        });
    }
    users
}

#[cfg(test)]
mod tests {
    use super::super::tables::*;
    use super::*;

    #[test]
    fn users_have_unique_three_letter_codes_and_one_admin() {
        let users = make_users(42);
        assert_eq!(users.len(), 10);
        let codes: HashSet<_> = users.iter().map(|u| u.code.clone()).collect();
        assert_eq!(codes.len(), 10);
        assert!(users
            .iter()
            .all(|u| u.code.len() == 3 && u.code.chars().all(|c| c.is_ascii_uppercase())));
        assert_eq!(users.iter().filter(|u| u.role == "admin").count(), 1);
        assert_eq!(make_users(42)[3].code, users[3].code);
    }

    #[test]
    fn lookup_codes_fit_and_won_exists() {
        let g = Generator::new(1, Bases::default(), Counts::for_contacts(10));
        for t in [LEAD_SIZES, LEAD_SOURCES, LEAD_TYPES, LEAD_PIPELINES] {
            let rows = g.lookup_rows(&t);
            assert!(rows.len() >= 3, "{}", t.name);
            for r in rows {
                assert!(matches!(&r[0], Val::Str(c) if c.len() <= 6));
                assert_eq!(r.len(), t.columns.len());
            }
        }
        let statuses = g.status_rows();
        assert_eq!(statuses.len(), 8);
        assert!(statuses.iter().any(|r| r[0] == Val::Str("WON")));
        assert_eq!(STATUSES.iter().filter(|s| s.dead == 1).count(), 2);
        assert_eq!(STATUSES.iter().filter(|s| s.outcome == 1).count(), 1);
        assert_eq!(STATUSES.iter().filter(|s| s.outcome == -1).count(), 1);
    }

    #[test]
    fn rows_match_their_columns_and_dates_are_ordered() {
        let counts = Counts::for_contacts(300);
        let mut g = Generator::new(9, Bases::default(), counts);
        assert_eq!(g.user_rows()[0].len(), USERS.columns.len());
        let companies = g.company_rows();
        assert_eq!(companies.len(), 12);
        assert!(companies.iter().all(|r| r.len() == COMPANIES.columns.len()));
        let (addresses, divisions) = g.division_rows();
        assert_eq!(divisions.len(), 30);
        assert!(addresses.iter().all(|r| r.len() == ADDRESSES.columns.len()));
        assert!(divisions.iter().all(|r| r.len() == DIVISIONS.columns.len()));
        let mut rng = g.rng("contacts");
        for i in 0..300 {
            let r = g.contact_row(&mut rng, i);
            assert_eq!(r.len(), CONTACTS.columns.len());
        }
        let mut rng = g.rng("leads");
        for i in 0..600 {
            let r = g.lead_row(&mut rng, i);
            assert_eq!(r.len(), LEADS.columns.len());
            let ts = |k: usize| match r[k] {
                Val::Ts(t) => t,
                _ => panic!("column {k} is not a timestamp"),
            };
            let (changed, created, updated) = (ts(16), ts(17), ts(18));
            assert!((REFERENCE - SPAN..=REFERENCE).contains(&created));
            assert!(changed >= created && updated >= changed && updated <= REFERENCE);
        }
    }
}
