//! A configuration secret (password, token, client secret) that never prints itself.
//!
//! Invariant: `Debug`, `Display` and `Serialize` all give `<secret>`; only [`Secret::expose`]
//! returns the value, and only the code that builds an HTTP client should call it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret looks like wherever configuration is shown.
pub const REDACTED: &str = "<secret>";

/// A string from the config file that must not reach a log, a page or a response.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the HTTP client builder.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (Prometheus treats an empty secret as unset).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Secret(Option::<String>::deserialize(deserializer)?.unwrap_or_default()))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}
