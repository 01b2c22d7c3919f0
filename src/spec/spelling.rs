//! Enum values as written in a resource. Kubernetes spells enum values in CamelCase; the first
//! v1alpha1 spelled a few in lower camelCase (`onExisting: newVersion`). Both are accepted for
//! one more release, and a value written the old way says so, so that the operator can warn.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum with a CamelCase spelling per value and a deprecated lower-case one.
pub trait CamelCaseEnum: Copy + PartialEq + Default + 'static {
    /// The name of the schema type.
    const SCHEMA_NAME: &'static str;
    /// Each value with its spelling and its deprecated spelling.
    const SPELLINGS: &'static [(Self, &'static str, &'static str)];
}

/// A value of `T` and whether the resource used its deprecated spelling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spelled<T> {
    value: T,
    deprecated: bool,
}

impl<T: CamelCaseEnum> Spelled<T> {
    /// The value.
    pub fn value(self) -> T {
        self.value
    }

    /// The deprecated spelling the resource used and the one to write instead, if any.
    pub fn deprecated_spelling(self) -> Option<(&'static str, &'static str)> {
        if !self.deprecated {
            return None;
        }
        T::SPELLINGS
            .iter()
            .find(|(value, _, _)| *value == self.value)
            .map(|(_, current, old)| (*old, *current))
    }

    fn spelling(self) -> &'static str {
        T::SPELLINGS
            .iter()
            .find(|(value, _, _)| *value == self.value)
            .map(|(_, current, old)| if self.deprecated { *old } else { *current })
            .unwrap_or_default()
    }
}

impl<T> From<T> for Spelled<T> {
    fn from(value: T) -> Self {
        Self {
            value,
            deprecated: false,
        }
    }
}

impl<T: PartialEq> PartialEq<T> for Spelled<T> {
    fn eq(&self, other: &T) -> bool {
        self.value == *other
    }
}

impl<T: CamelCaseEnum> fmt::Display for Spelled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spelling())
    }
}

impl<T: CamelCaseEnum> Serialize for Spelled<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.spelling())
    }
}

impl<'de, T: CamelCaseEnum> Deserialize<'de> for Spelled<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        for (value, current, old) in T::SPELLINGS {
            if text == *current || text == *old {
                return Ok(Self {
                    value: *value,
                    deprecated: text != *current,
                });
            }
        }
        let expected: Vec<&str> = T::SPELLINGS
            .iter()
            .map(|(_, current, _)| *current)
            .collect();
        Err(serde::de::Error::custom(format!(
            "unknown value {text:?}, expected one of {}",
            expected.join(", ")
        )))
    }
}

impl<T: CamelCaseEnum> JsonSchema for Spelled<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::SCHEMA_NAME.into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The deprecated spellings stay valid in the schema until the next version.
        let current = T::SPELLINGS.iter().map(|(_, current, _)| *current);
        let old = T::SPELLINGS.iter().map(|(_, _, old)| *old);
        let values: Vec<&str> = current.chain(old).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": values
        })
    }
}

/// Implements [`CamelCaseEnum`] for a unit enum: `Variant => "deprecatedSpelling"`, the
/// current spelling being the variant's name.
macro_rules! camel_case_enum {
    ($type:ty { $($variant:ident => $old:literal),+ $(,)? }) => {
        impl $crate::spec::spelling::CamelCaseEnum for $type {
            const SCHEMA_NAME: &'static str = stringify!($type);
            const SPELLINGS: &'static [(Self, &'static str, &'static str)] =
                &[$((Self::$variant, stringify!($variant), $old)),+];
        }
    };
}

pub(crate) use camel_case_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OnExisting;

    #[test]
    fn both_spellings_read_and_the_old_one_says_so() {
        let current: Spelled<OnExisting> = serde_json::from_str("\"NewVersion\"").unwrap();
        assert_eq!(current, OnExisting::NewVersion);
        assert_eq!(current.deprecated_spelling(), None);
        let old: Spelled<OnExisting> = serde_json::from_str("\"newVersion\"").unwrap();
        assert_eq!(old, OnExisting::NewVersion);
        assert_eq!(
            old.deprecated_spelling(),
            Some(("newVersion", "NewVersion"))
        );
        // Written back as it was read.
        assert_eq!(serde_json::to_string(&old).unwrap(), "\"newVersion\"");
        assert_eq!(serde_json::to_string(&current).unwrap(), "\"NewVersion\"");
        let error = serde_json::from_str::<Spelled<OnExisting>>("\"later\"").unwrap_err();
        assert!(
            error.to_string().contains("Skip, NewVersion, Rename"),
            "{error}"
        );
    }

    #[test]
    fn the_schema_lists_both_spellings() {
        let schema = schemars::schema_for!(Spelled<OnExisting>);
        let values = schema.as_value()["enum"].clone();
        assert_eq!(
            values,
            serde_json::json!([
                "Skip",
                "NewVersion",
                "Rename",
                "skip",
                "newVersion",
                "rename"
            ])
        );
    }
}
