//! `$metadata` as CSDL XML (and CSDL JSON), derived from the entity model.
