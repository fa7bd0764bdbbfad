//! Serialize stage: JSON, Atom and CSDL documents.

pub mod atom;
pub mod csdl;
pub mod json;
pub mod next_links;
pub mod row;

use crate::bind::Ty;
use crate::model::EdmType;

/// The `@odata.type` that full metadata gives a value of type `ty`, or `None` where the
/// JSON value tells its type itself (JSON Format 4.01 §4.5.3): strings are Edm.String
/// and numbers Edm.Double unless told otherwise, so every other type written as a number
/// or a string (an instant, an Int64 under `IEEE754Compatible`) is named; Booleans and
/// nulls need nothing.
pub fn odata_type(ty: Ty) -> Option<&'static str> {
    Some(match ty {
        Ty::Null | Ty::Bool | Ty::Edm(EdmType::Boolean | EdmType::String | EdmType::Double) => {
            return None
        }
        Ty::Edm(EdmType::Byte) => "#Byte",
        Ty::Edm(EdmType::Int32) => "#Int32",
        Ty::Edm(EdmType::Int64) => "#Int64",
        Ty::Edm(EdmType::Decimal(..)) => "#Decimal",
        Ty::Edm(EdmType::DateTimeOffset) => "#DateTimeOffset",
        Ty::Date => "#Date",
        Ty::TimeOfDay => "#TimeOfDay",
        Ty::Duration => "#Duration",
    })
}

/// [`odata_type`] of a value the query computes: a computed Double may be infinite or
/// NaN, written as the string `"INF"` or `"NaN"`, which must carry its type; which rows
/// those are is not known when the statement is written, so every one carries it.
pub fn computed_odata_type(ty: Ty) -> Option<&'static str> {
    match ty {
        Ty::Edm(EdmType::Double) => Some("#Double"),
        other => odata_type(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_types_a_json_value_does_not_show_are_named() {
        for (ty, named) in [
            (Ty::Edm(EdmType::String), None),
            (Ty::Edm(EdmType::Double), None),
            (Ty::Bool, None),
            (Ty::Edm(EdmType::Boolean), None),
            (Ty::Null, None),
            (Ty::Edm(EdmType::Byte), Some("#Byte")),
            (Ty::Edm(EdmType::Int32), Some("#Int32")),
            (Ty::Edm(EdmType::Int64), Some("#Int64")),
            (Ty::Edm(EdmType::Decimal(18, 2)), Some("#Decimal")),
            (Ty::Edm(EdmType::DateTimeOffset), Some("#DateTimeOffset")),
            (Ty::Date, Some("#Date")),
            (Ty::TimeOfDay, Some("#TimeOfDay")),
            (Ty::Duration, Some("#Duration")),
        ] {
            assert_eq!(odata_type(ty), named, "{ty:?}");
        }
        assert_eq!(
            computed_odata_type(Ty::Edm(EdmType::Double)),
            Some("#Double")
        );
        assert_eq!(computed_odata_type(Ty::Edm(EdmType::String)), None);
    }
}
