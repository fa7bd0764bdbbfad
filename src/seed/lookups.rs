//! The lookups' fixed rows: lead statuses with their flags and how often leads are in
//! each, sizes (by lead value), sources, types and pipelines.

pub(super) struct StatusDef {
    pub(super) code: &'static str,
    pub(super) description: &'static str,
    pub(super) dead: i64,
    pub(super) outcome: i64,
    pub(super) guttometer: i64,
    pub(super) recall: i64,
    /// How often leads are in this status.
    pub(super) weight: u32,
}

pub(super) const STATUSES: &[StatusDef] = &[
    StatusDef {
        code: "NEW",
        description: "New enquiry",
        dead: 0,
        outcome: 0,
        guttometer: 10,
        recall: 1,
        weight: 16,
    },
    StatusDef {
        code: "QUAL",
        description: "Qualified",
        dead: 0,
        outcome: 0,
        guttometer: 25,
        recall: 1,
        weight: 14,
    },
    StatusDef {
        code: "PROP",
        description: "Proposal sent",
        dead: 0,
        outcome: 0,
        guttometer: 50,
        recall: 1,
        weight: 12,
    },
    StatusDef {
        code: "NEGO",
        description: "In negotiation",
        dead: 0,
        outcome: 0,
        guttometer: 75,
        recall: 1,
        weight: 8,
    },
    StatusDef {
        code: "WON",
        description: "Won",
        dead: 0,
        outcome: 1,
        guttometer: 100,
        recall: 0,
        weight: 18,
    },
    StatusDef {
        code: "LOST",
        description: "Lost",
        dead: 1,
        outcome: -1,
        guttometer: 0,
        recall: 0,
        weight: 14,
    },
    StatusDef {
        code: "DEAD",
        description: "Dead - no response",
        dead: 1,
        outcome: 0,
        guttometer: 0,
        recall: 0,
        weight: 10,
    },
    StatusDef {
        code: "HOLD",
        description: "On hold",
        dead: 0,
        outcome: 0,
        guttometer: 20,
        recall: 1,
        weight: 8,
    },
];

/// (code, description, obsolete, weight among leads)
pub(super) type LookupDef = (&'static str, &'static str, i64, u32);

pub(super) const SIZES: &[LookupDef] = &[
    ("XS", "Under £1,000", 0, 0),
    ("S", "£1,000 - £10,000", 0, 0),
    ("M", "£10,000 - £50,000", 0, 0),
    ("L", "£50,000 - £150,000", 0, 0),
    ("XL", "Over £150,000", 0, 0),
];
pub(super) const LEAD_SOURCE_DEFS: &[LookupDef] = &[
    ("WEB", "Website enquiry", 0, 30),
    ("REF", "Referral", 0, 18),
    ("EXHIB", "Exhibition", 0, 10),
    ("COLD", "Cold call", 0, 12),
    ("EMAIL", "Email campaign", 0, 15),
    ("PARTNR", "Partner", 0, 8),
    ("LINKED", "LinkedIn", 0, 7),
    ("MAILSH", "Mailshot (retired)", 1, 0),
];
pub(super) const TYPES: &[LookupDef] = &[
    ("NEWBUS", "New business", 0, 50),
    ("UPSELL", "Upsell", 0, 25),
    ("RENEW", "Renewal", 0, 15),
    ("SUPPRT", "Support contract", 0, 10),
];
pub(super) const PIPELINES: &[LookupDef] = &[
    ("DIRECT", "Direct sales", 0, 60),
    ("CHANNL", "Channel partners", 0, 25),
    ("ACCMGT", "Account management", 0, 15),
];

pub(super) fn weights(defs: &'static [LookupDef]) -> Vec<(&'static str, u32)> {
    defs.iter().map(|d| (d.0, d.3)).collect()
}

pub(super) fn size_for(value_pence: i64) -> &'static str {
    match value_pence / 100 {
        ..1_000 => "XS",
        1_000..10_000 => "S",
        10_000..50_000 => "M",
        50_000..150_000 => "L",
        _ => "XL",
    }
}
