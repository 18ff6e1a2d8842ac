//! What Prometheus has and promlite does not run yet: the service discoveries other than
//! static, file and Kubernetes, and the `tracing` and `otlp` sections.
//!
//! Each is refused with "… is not supported by promlite yet", but parsed far enough that the
//! rest of the file is still checked, and that what Prometheus checks without the mechanism
//! itself is checked too: the HTTP client settings an SD embeds (`HTTPClientConfig.Validate`,
//! which every SD's `UnmarshalYAML` runs), and `tracing`'s and `otlp`'s own rules. An SD's own
//! fields (Azure's `client_id`, Marathon's `servers`) are not modelled, so not checked: a file
//! whose only defect is there gets the "not supported" problem alone.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::duration::Duration;
use super::error::{Position, Problem, position};
use super::http_config::{Http2Default, RawHttpClientConfig, TlsConfig};
use super::remote::check_reserved_header;
use crate::relabel::NameValidation;

/// Service discoveries of Prometheus 3.14 that promlite does not run.
pub(crate) const UNSUPPORTED_SD_CONFIGS: [&str; 29] = [
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "http_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "oci_sd_configs",
    "openstack_sd_configs",
    "outscale_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// A section's raw form `T` and the unsupported service discoveries taken out of it.
pub(crate) struct WithUnsupportedSds<T> {
    /// Everything else the section says.
    pub(crate) value: T,
    /// In file order.
    pub(crate) sds: Vec<UnsupportedSd>,
}

/// One `*_sd_configs` field promlite does not run.
pub(crate) struct UnsupportedSd {
    name: &'static str,
    at: Option<Position>,
    /// Each entry's position and the HTTP client settings it embeds.
    entries: Vec<(Option<Position>, RawHttpClientConfig)>,
}

impl UnsupportedSd {
    /// Reports the SD as not supported, and every entry's HTTP client settings that
    /// Prometheus would refuse.
    pub(crate) fn check(self, problems: &mut Vec<Problem>) {
        problems.push(Problem::new(self.at, format!("{} is not supported by promlite yet", self.name)));
        for (at, http_client) in self.entries {
            if let Err(message) = http_client.resolve(Http2Default::Enabled) {
                problems.push(Problem::new(at, message));
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WithUnsupportedSds<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SectionVisitor(PhantomData))
    }
}

struct SectionVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SectionVisitor<T> {
    type Value = WithUnsupportedSds<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut sds = Vec::new();
        // `T` (a derived, `deny_unknown_fields` struct) sees every other key, through the same
        // YAML deserializer, so its positions and errors are unchanged.
        let value = T::deserialize(MapAccessDeserializer::new(SkipUnsupportedSds { inner: map, found: &mut sds }))?;
        Ok(WithUnsupportedSds { value, sds })
    }
}

/// A mapping with the unsupported SD fields taken out into `found`.
struct SkipUnsupportedSds<'a, A> {
    inner: A,
    found: &'a mut Vec<UnsupportedSd>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipUnsupportedSds<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<Spanned<String>>()? else {
                return Ok(None);
            };
            let Some(name) = UNSUPPORTED_SD_CONFIGS.iter().find(|name| **name == key.value) else {
                return seed.deserialize(key.value.into_deserializer()).map(Some);
            };
            let entries = self.inner.next_value::<Option<Vec<Spanned<Option<SdHttpClient>>>>>()?;
            let entries = entries
                .unwrap_or_default()
                .into_iter()
                .filter_map(|entry| {
                    let at = position(&entry);
                    entry.value.map(|http| (at, http.0))
                })
                .collect();
            self.found.push(UnsupportedSd { name, at: position(&key), entries });
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// The HTTP client settings of an SD entry; its other fields are skipped unread.
struct SdHttpClient(RawHttpClientConfig);

impl<'de> Deserialize<'de> for SdHttpClient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SdHttpClientVisitor)
    }
}

struct SdHttpClientVisitor;

impl<'de> Visitor<'de> for SdHttpClientVisitor {
    type Value = SdHttpClient;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a service discovery config")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SdHttpClient, A::Error> {
        let mut raw = RawHttpClientConfig::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "basic_auth" => raw.basic_auth = map.next_value()?,
                "authorization" => raw.authorization = map.next_value()?,
                "oauth2" => raw.oauth2 = map.next_value()?,
                "bearer_token" => raw.bearer_token = map.next_value()?,
                "bearer_token_file" => raw.bearer_token_file = map.next_value()?,
                "tls_config" => raw.tls_config = map.next_value()?,
                "proxy_url" => raw.proxy_url = map.next_value()?,
                "no_proxy" => raw.no_proxy = map.next_value()?,
                "proxy_from_environment" => raw.proxy_from_environment = map.next_value()?,
                "proxy_connect_header" => raw.proxy_connect_header = map.next_value()?,
                "follow_redirects" => raw.follow_redirects = map.next_value()?,
                "enable_http2" => raw.enable_http2 = map.next_value()?,
                "http_headers" => raw.http_headers = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(SdHttpClient(raw))
    }
}

/// The `tracing` section as written (upstream `TracingConfig`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "the settings are parsed so that a wrong type is reported; promlite sends no traces")]
pub(crate) struct RawTracingConfig {
    #[serde(default)]
    client_type: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    sampling_fraction: Option<f64>,
    #[serde(default)]
    insecure: Option<bool>,
    #[serde(default)]
    tls_config: Option<TlsConfig>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    compression: Option<String>,
    #[serde(default)]
    timeout: Option<Duration>,
}

/// Refuses `tracing`, after the checks of upstream's `TracingConfig.UnmarshalYAML`.
pub(crate) fn check_tracing(tracing: Spanned<RawTracingConfig>, problems: &mut Vec<Problem>) {
    let at = position(&tracing);
    problems.push(Problem::new(at, "tracing is not supported by promlite yet"));
    let tracing = tracing.value;
    if let Some(client_type) = tracing.client_type.filter(|t| t != "grpc" && t != "http") {
        problems
            .push(Problem::new(at, format!("expected tracing client type to be http or grpc, but got {client_type}")));
        return;
    }
    for name in tracing.headers.unwrap_or_default().keys() {
        let refused = if name.eq_ignore_ascii_case("authorization") {
            Err("custom authorization header configuration is not yet supported".to_owned())
        } else {
            check_reserved_header(name)
        };
        if let Err(message) = refused {
            problems.push(Problem::new(at, message));
            return;
        }
    }
    if tracing.endpoint.unwrap_or_default().is_empty() {
        problems.push(Problem::new(at, "tracing endpoint must be set"));
        return;
    }
    if let Some(compression) = tracing.compression.filter(|c| !c.is_empty() && c != "gzip") {
        problems
            .push(Problem::new(at, format!("invalid compression type {compression} provided, valid options: gzip")));
    }
}

/// The `otlp` section as written (upstream `OTLPConfig`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "the switches are parsed so that a wrong type is reported; nothing reads them")]
pub(crate) struct RawOtlpConfig {
    #[serde(default)]
    promote_all_resource_attributes: Option<bool>,
    #[serde(default)]
    promote_resource_attributes: Option<Vec<String>>,
    #[serde(default)]
    ignore_resource_attributes: Option<Vec<String>>,
    #[serde(default)]
    translation_strategy: Option<String>,
    #[serde(default)]
    keep_identifying_resource_attributes: Option<bool>,
    #[serde(default)]
    convert_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    promote_scope_metadata: Option<bool>,
    #[serde(default)]
    label_name_underscore_sanitization: Option<bool>,
    #[serde(default)]
    label_name_preserve_multiple_underscores: Option<bool>,
}

/// Refuses `otlp`, after the checks of upstream's `OTLPConfig.UnmarshalYAML` and `Load` (the
/// translation strategy against the global name validation).
pub(crate) fn check_otlp(otlp: Spanned<RawOtlpConfig>, names: NameValidation, problems: &mut Vec<Problem>) {
    let at = position(&otlp);
    problems.push(Problem::new(at, "otlp is not supported by promlite yet"));
    let otlp = otlp.value;
    let mut report = |message: String| problems.push(Problem::new(at, message));
    let promote = otlp.promote_resource_attributes.unwrap_or_default();
    let ignore = otlp.ignore_resource_attributes.unwrap_or_default();
    if otlp.promote_all_resource_attributes.unwrap_or(false) {
        if !promote.is_empty() {
            report(
                "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously"
                    .to_owned(),
            );
        } else if let Some(message) = attribute_problems(&ignore, "ignored") {
            report(format!("invalid 'ignore_resource_attributes': {message}"));
        }
    } else if !ignore.is_empty() {
        report(
            "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true"
                .to_owned(),
        );
    } else if let Some(message) = attribute_problems(&promote, "promoted") {
        report(format!("invalid 'promote_resource_attributes': {message}"));
    }
    match otlp.translation_strategy.as_deref().unwrap_or_default() {
        "" | "UnderscoreEscapingWithSuffixes" | "UnderscoreEscapingWithoutSuffixes" => {}
        strategy @ ("NoTranslation" | "NoUTF8EscapingWithSuffixes") => {
            if names == NameValidation::Legacy {
                report(format!("OTLP translation strategy {strategy:?} is not allowed when UTF8 is disabled"));
            }
        }
        strategy => report(format!("unsupported OTLP translation strategy {strategy:?}")),
    }
}

/// Every empty or repeated attribute (after trimming), joined as upstream joins them.
fn attribute_problems(attributes: &[String], adjective: &str) -> Option<String> {
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for attribute in attributes {
        let attribute = attribute.trim();
        if attribute.is_empty() {
            found.push(format!("empty {adjective} OTel resource attribute"));
        } else if seen.contains(&attribute) {
            found.push(format!("duplicated {adjective} OTel resource attribute {attribute:?}"));
        } else {
            seen.push(attribute);
        }
    }
    (!found.is_empty()).then(|| found.join("; "))
}
