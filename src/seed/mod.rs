//! Deterministic, realistic demo data for a workspace.
