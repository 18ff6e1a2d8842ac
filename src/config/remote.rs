//! `remote_write` and `remote_read` (upstream `config.RemoteWriteConfig`, `RemoteReadConfig`).
//!
//! Defaults are Prometheus's (write: 30s timeout, HTTP/2 off, queue of 10000 samples and 1-50
//! shards; read: 1m timeout, `filter_external_labels: true`). Reserved headers and an
//! `Authorization` header are refused with upstream's messages. `sigv4`, `azuread` and
//! `google_iam` are not modelled and are reported as not supported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::duration::Duration;
use super::http_config::{Http2Default, HttpClientConfig, raw_with_http_client};
use super::list;
use super::secret::Url;
use crate::relabel::RelabelConfig;

/// Headers Prometheus refuses to let users set (upstream `reservedHeaders`).
const RESERVED_HEADERS: [&str; 17] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "authorization",
];

fn validate_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    for name in headers.keys() {
        let lower = name.to_lowercase();
        if lower == "authorization" {
            return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".to_owned());
        }
        check_reserved_header(name)?;
    }
    Ok(())
}

/// Refuses a header Prometheus sets itself (upstream `reservedHeaders`), in any case.
pub(super) fn check_reserved_header(name: &str) -> Result<(), String> {
    if RESERVED_HEADERS.contains(&name.to_lowercase().as_str()) {
        return Err(format!("{name} is a reserved header. It must not be changed"));
    }
    Ok(())
}

fn parse_url(url: Option<String>, section: &str) -> Result<Url, String> {
    let url = Url::new(url.filter(|u| !u.is_empty()).ok_or_else(|| format!("url for {section} is empty"))?);
    url::Url::parse(url.expose()).map_err(|err| format!("invalid url {url:?} for {section}: {err}"))?;
    Ok(url)
}

/// The remote-write protobuf message sent (upstream `protobuf_message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum ProtobufMessage {
    /// Remote write 1.0.
    #[default]
    #[serde(rename = "prometheus.WriteRequest")]
    WriteV1,
    /// Remote write 2.0.
    #[serde(rename = "io.prometheus.write.v2.Request")]
    WriteV2,
}

/// Sending-queue tuning of a remote write.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard.
    pub capacity: u64,
    /// Most shards.
    pub max_shards: u64,
    /// Fewest shards.
    pub min_shards: u64,
    /// Samples per request.
    pub max_samples_per_send: u64,
    /// Longest a sample waits in a shard.
    pub batch_send_deadline: Duration,
    /// First retry delay.
    pub min_backoff: Duration,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Retry on HTTP 429.
    #[serde(rename = "retry_on_http_429")]
    pub retry_on_rate_limit: bool,
    /// Samples older than this are dropped; 0 = never.
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_rate_limit: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

impl QueueConfig {
    /// Upstream's `QueueConfig.Validate`, in its order and words.
    fn validate(&self) -> Result<(), String> {
        if self.max_shards == 0 {
            return Err("remote write queue max_shards must be positive".to_owned());
        }
        if self.min_shards == 0 {
            return Err("remote write queue min_shards must be positive".to_owned());
        }
        if self.min_shards > self.max_shards {
            return Err("remote write queue min_shards must not be greater than max_shards".to_owned());
        }
        if self.max_samples_per_send == 0 {
            return Err("remote write queue max_samples_per_send must be positive".to_owned());
        }
        if self.capacity == 0 {
            return Err("remote write queue capacity must be positive".to_owned());
        }
        if self.max_backoff < self.min_backoff {
            return Err("remote write queue max_backoff must not be less than min_backoff".to_owned());
        }
        Ok(())
    }
}

/// Metadata sending of a remote write.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Send metric metadata.
    pub send: bool,
    /// How often.
    pub send_interval: Duration,
    /// Metadata entries per request.
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig { send: true, send_interval: Duration::from_secs(60), max_samples_per_send: 2_000 }
    }
}

/// One `remote_write` endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteWriteConfig {
    /// Where to send.
    pub url: Url,
    /// Per-request timeout.
    pub remote_timeout: Duration,
    /// Extra headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Rules applied to series before sending.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// A name unique among remote writes; empty means "derived from a hash".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Send exemplars.
    pub send_exemplars: bool,
    /// Send native histograms.
    pub send_native_histograms: bool,
    /// Spread requests over every address the host resolves to.
    pub round_robin_dns: bool,
    /// The protobuf message sent.
    pub protobuf_message: ProtobufMessage,
    /// How to talk to the endpoint.
    #[serde(flatten)]
    pub http_client_config: HttpClientConfig,
    /// Queue tuning.
    pub queue_config: QueueConfig,
    /// Metadata sending.
    pub metadata_config: MetadataConfig,
}

raw_with_http_client! {
    /// A `remote_write` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawRemoteWriteConfigInner {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        remote_timeout: Option<Duration>,
        #[serde(default)]
        headers: Option<BTreeMap<String, String>>,
        #[serde(default, deserialize_with = "list::write_relabel_configs")]
        write_relabel_configs: Vec<Spanned<RelabelConfig>>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        send_exemplars: Option<bool>,
        #[serde(default)]
        send_native_histograms: Option<bool>,
        #[serde(default)]
        round_robin_dns: Option<bool>,
        #[serde(default)]
        protobuf_message: Option<String>,
        #[serde(default)]
        queue_config: Option<QueueConfig>,
        #[serde(default)]
        metadata_config: Option<MetadataConfig>,
    }
}

/// A `remote_write` entry as written.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct RawRemoteWriteConfig(RawRemoteWriteConfigInner);

impl RawRemoteWriteConfig {
    /// Validates like `RemoteWriteConfig.UnmarshalYAML`. The relabel rules come back separately
    /// with their positions so the caller can validate them against the name scheme.
    pub(crate) fn resolve(self) -> Result<(RemoteWriteConfig, Vec<Spanned<RelabelConfig>>), String> {
        let mut raw = self.0;
        let url = parse_url(raw.url.take(), "remote_write")?;
        let headers = raw.headers.take().unwrap_or_default();
        validate_headers(&headers)?;
        let protobuf_message = match raw.protobuf_message.as_deref() {
            None | Some("") | Some("prometheus.WriteRequest") => ProtobufMessage::WriteV1,
            Some("io.prometheus.write.v2.Request") => ProtobufMessage::WriteV2,
            Some(other) => {
                return Err(format!(
                    "invalid protobuf_message value: unknown type for remote write protobuf message {other}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                ));
            }
        };
        let http_client_config = raw.take_http_client().resolve(Http2Default::Disabled)?;
        let queue_config = raw.queue_config.unwrap_or_default();
        queue_config.validate()?;
        let config = RemoteWriteConfig {
            url,
            remote_timeout: raw.remote_timeout.unwrap_or(Duration::from_secs(30)),
            headers,
            write_relabel_configs: Vec::new(),
            name: raw.name.unwrap_or_default(),
            send_exemplars: raw.send_exemplars.unwrap_or(false),
            send_native_histograms: raw.send_native_histograms.unwrap_or(false),
            round_robin_dns: raw.round_robin_dns.unwrap_or(false),
            protobuf_message,
            http_client_config,
            queue_config,
            metadata_config: raw.metadata_config.unwrap_or_default(),
        };
        Ok((config, raw.write_relabel_configs))
    }
}

/// One `remote_read` endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteReadConfig {
    /// Where to read from.
    pub url: Url,
    /// Per-request timeout.
    pub remote_timeout: Duration,
    /// Largest frame of a chunked (streamed) response, in bytes.
    pub chunked_read_limit: u64,
    /// Extra headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Also read ranges local storage has complete data for.
    pub read_recent: bool,
    /// A name unique among remote reads.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// How to talk to the endpoint.
    #[serde(flatten)]
    pub http_client_config: HttpClientConfig,
    /// Equality matchers a selector must contain to be sent to this endpoint.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub required_matchers: BTreeMap<String, String>,
    /// Add the external labels as matchers.
    pub filter_external_labels: bool,
}

raw_with_http_client! {
    /// A `remote_read` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawRemoteReadConfigInner {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        remote_timeout: Option<Duration>,
        #[serde(default)]
        chunked_read_limit: Option<u64>,
        #[serde(default)]
        headers: Option<BTreeMap<String, String>>,
        #[serde(default)]
        read_recent: Option<bool>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        required_matchers: Option<BTreeMap<String, String>>,
        #[serde(default)]
        filter_external_labels: Option<bool>,
    }
}

/// A `remote_read` entry as written.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct RawRemoteReadConfig(RawRemoteReadConfigInner);

impl RawRemoteReadConfig {
    /// Validates like `RemoteReadConfig.UnmarshalYAML`.
    pub(crate) fn resolve(self) -> Result<RemoteReadConfig, String> {
        let mut raw = self.0;
        let url = parse_url(raw.url.take(), "remote_read")?;
        let headers = raw.headers.take().unwrap_or_default();
        validate_headers(&headers)?;
        let http_client_config = raw.take_http_client().resolve(Http2Default::Enabled)?;
        Ok(RemoteReadConfig {
            url,
            remote_timeout: raw.remote_timeout.unwrap_or(Duration::from_secs(60)),
            chunked_read_limit: raw.chunked_read_limit.unwrap_or(50_000_000),
            headers,
            read_recent: raw.read_recent.unwrap_or(false),
            name: raw.name.unwrap_or_default(),
            http_client_config,
            required_matchers: raw.required_matchers.unwrap_or_default(),
            filter_external_labels: raw.filter_external_labels.unwrap_or(true),
        })
    }
}
