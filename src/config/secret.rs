//! Configuration values that never print in full: a [`Secret`] (password, token, client
//! secret) and a [`Url`], whose password is hidden.
//!
//! Invariant: `Debug`, `Display` and `Serialize` give `<secret>` for a secret and the URL with
//! its password as `xxxxx` (upstream `config.URL`, through `promlite_web::redact_url`); only
//! `expose` returns the value, and only code that builds or uses an HTTP client should call it.

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

/// A URL from the config file (upstream `config.URL`): shown everywhere with its password, if
/// it has one, as `xxxxx`; the client that connects to it reads it with [`Url::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Url(String);

impl Url {
    /// Wraps a URL as written.
    pub fn new(value: impl Into<String>) -> Url {
        Url(value.into())
    }

    /// The URL as written, password included, for the HTTP client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no URL is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&promlite_web::redact_url(&self.0), f)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&promlite_web::redact_url(&self.0))
    }
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Url(Option::<String>::deserialize(deserializer)?.unwrap_or_default()))
    }
}

impl Serialize for Url {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&promlite_web::redact_url(&self.0))
    }
}
