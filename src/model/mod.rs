//! The one declarative description of the CRM entity model. `$metadata`, name binding,
//! SQL column mapping and both serializers derive from it. Adding a property is one
//! line here plus a migration.

mod crm;

pub use crm::MODEL;

/// Primitive EDM types used by the CRM model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdmType {
    Boolean,
    Byte,
    Int32,
    Int64,
    /// `Edm.Decimal` with precision and scale.
    Decimal(u8, u8),
    Double,
    String,
    DateTimeOffset,
}

impl EdmType {
    pub fn name(self) -> &'static str {
        match self {
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Byte => "Edm.Byte",
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::Decimal(..) => "Edm.Decimal",
            EdmType::Double => "Edm.Double",
            EdmType::String => "Edm.String",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            EdmType::Byte
                | EdmType::Int32
                | EdmType::Int64
                | EdmType::Decimal(..)
                | EdmType::Double
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(self, EdmType::Byte | EdmType::Int32 | EdmType::Int64)
    }
}

#[derive(Debug, PartialEq)]
pub struct Property {
    pub name: &'static str,
    pub column: &'static str,
    pub ty: EdmType,
    pub nullable: bool,
    pub max_length: Option<u32>,
    /// Set by the server, never by clients (Created, LastUpdated, StatusFlag, computed values).
    pub server_set: bool,
    /// Computed from other columns: not stored; `sql` holds the expression over the row.
    pub computed: Option<Computed>,
}

/// Computed properties, compiled by the SQL stage from the row's own columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// `Value * Guttometer / 100`
    WeightedValue,
}

#[derive(Debug, PartialEq)]
pub struct NavProperty {
    pub name: &'static str,
    /// Entity type name of the target.
    pub target: &'static str,
    pub many: bool,
    /// Whether a single-valued navigation may be absent.
    pub nullable: bool,
    pub partner: Option<&'static str>,
    /// Join pairs `(property on this entity, property on the target)`.
    pub join: &'static [(&'static str, &'static str)],
}

#[derive(Debug, PartialEq)]
pub struct EntityType {
    pub name: &'static str,
    pub set: &'static str,
    pub table: &'static str,
    pub key: &'static [&'static str],
    pub properties: Vec<Property>,
    pub navigation: Vec<NavProperty>,
    /// String properties searched by `$search`.
    pub search: &'static [&'static str],
    /// Secondary indexes, as the properties each holds after `workspace_id` (the
    /// migrations create them; a test checks the two agree). The SQL compiler uses them
    /// to tell whether an index can answer a filter on its own.
    pub indexes: &'static [&'static [&'static str]],
    /// String properties with a trigram index, which serves `contains` on them:
    /// (property, index name), an FTS5 table on SQLite and a pg_trgm GIN index on
    /// PostgreSQL (the migrations create both).
    pub trigram: &'static [(&'static str, &'static str)],
}

impl EntityType {
    /// Case-insensitive property lookup.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Case-insensitive navigation property lookup.
    pub fn nav(&self, name: &str) -> Option<&NavProperty> {
        self.navigation
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
    }

    pub fn key_properties(&self) -> impl Iterator<Item = &Property> {
        self.key.iter().filter_map(|k| self.property(k))
    }

    pub fn has_status_flag(&self) -> bool {
        self.property("StatusFlag").is_some()
    }
}

#[derive(Debug)]
pub struct Model {
    pub namespace: &'static str,
    pub container: &'static str,
    pub types: Vec<EntityType>,
}

impl Model {
    /// Case-insensitive entity set lookup.
    pub fn entity_set(&self, name: &str) -> Option<&EntityType> {
        self.types.iter().find(|t| t.set.eq_ignore_ascii_case(name))
    }

    pub fn entity_type(&self, name: &str) -> Option<&EntityType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn qualified(&self, type_name: &str) -> String {
        format!("{}.{}", self.namespace, type_name)
    }
}
