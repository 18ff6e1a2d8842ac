//! Configuration: `prometheus.yml` parsed strictly, with Prometheus's defaults and validation
//! (upstream `config/config.go`).
//!
//! [`load_file`] and [`load_str`] give a [`Config`] in which every default is resolved: a
//! [`ScrapeConfig`] has a concrete interval, timeout, limits and protocols, and relative `*_file`
//! paths are joined with the config file's directory. Parsing goes through private raw structs
//! (what the YAML says, `deny_unknown_fields`), then one resolve pass applies Prometheus's checks
//! and collects every problem as `FILE:LINE:COL: message` in a [`ConfigError`].
//!
//! Modelled: `global`, `runtime`, `rule_files`, `scrape_config_files` (paths only),
//! `scrape_configs` with `static_configs`, `file_sd_configs` and `kubernetes_sd_configs`,
//! `remote_write`, `remote_read`, `storage`, `alerting` (parsed, not acted on). `tracing`, `otlp`
//! and other service discoveries are checked as far as Prometheus checks them without running
//! them, then refused with "… is not supported by promlite yet" (`unsupported.rs`).
//! Secrets are [`Secret`]s, which [`Config::to_yaml`] shows as `<secret>`; every URL-typed field
//! is a [`Url`], shown with its password as `xxxxx`.
//! Invariant: loading never touches the running config; a failed load is only an error value.
//!
//! Here: the model's top level ([`Config`], [`GlobalConfig`], `storage`) and the loaders. Beside
//! it: `raw.rs` (the top level as written and its resolve pass), `scrape_config_files.rs`,
//! `expand.rs` (`$VAR` in external labels), `list.rs` (serde helpers for lists of sections),
//! `error.rs`, `unsupported.rs`, and one module per section (`scrape.rs`, `remote.rs`, `alerting.rs`,
//! `kubernetes.rs`, `http_config.rs`) holding its model, its raw form and its checks.

mod alerting;
mod duration;
mod error;
mod expand;
mod http_config;
mod kubernetes;
mod list;
mod raw;
mod remote;
mod scrape;
mod scrape_config_files;
mod secret;
mod unsupported;
mod web_config;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

pub use self::alerting::{AlertingConfig, AlertmanagerConfig};
pub use self::duration::{ByteSize, Duration};
pub use self::error::{ConfigError, Position, Problem};
pub(crate) use self::error::{from_yaml_error, position};
pub use self::http_config::{
    Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, ProxyConfig, TlsConfig, TlsVersion,
};
pub use self::kubernetes::{AttachMetadata, KubernetesSdConfig, NamespaceDiscovery, Role, Selector};
use self::raw::{RawConfig, resolve};
pub use self::remote::{MetadataConfig, ProtobufMessage, QueueConfig, RemoteReadConfig, RemoteWriteConfig};
pub use self::scrape::{
    DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_PROTOCOLS, FileSdConfig, ScrapeConfig, ScrapeProtocol,
    StaticConfig,
};
pub use self::secret::{Secret, Url};
pub use self::web_config::{ClientAuth, TlsServerConfig, WebConfig, load_web_config};
use crate::relabel::{NameValidation, RelabelConfig};

/// A whole `prometheus.yml`, defaults resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Defaults and process-wide settings.
    pub global: GlobalConfig,
    /// Go runtime settings; parsed for compatibility, unused by promlite.
    pub runtime: RuntimeConfig,
    /// Rule file globs, joined with the config file's directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// Files of extra scrape configs (globs), joined with the config file's directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// The jobs, in file order; job names are unique.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Storage settings that can change on reload.
    pub storage: StorageConfig,
    /// Remote write endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Remote read endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<RemoteReadConfig>,
    /// Alertmanagers and alert relabeling; parsed and validated, not acted on yet (no rules).
    #[serde(skip_serializing_if = "AlertingConfig::is_empty")]
    pub alerting: AlertingConfig,
}

/// The `global` section, defaults resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalConfig {
    /// Default scrape interval; 1m.
    pub scrape_interval: Duration,
    /// Default scrape timeout; min(10s, scrape_interval).
    pub scrape_timeout: Duration,
    /// Protocols offered by default; `None` lets each job choose by its native-histogram switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Rule evaluation interval; 1m.
    pub evaluation_interval: Duration,
    /// How far in the past rules evaluate.
    pub rule_query_offset: Duration,
    /// File to which PromQL queries are logged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    /// File to which failed scrapes are logged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// Labels added to series sent out of this server, after `$VAR` expansion.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    /// Default body size limit; 0 = none.
    pub body_size_limit: ByteSize,
    /// Default sample limit; 0 = none.
    pub sample_limit: u64,
    /// Default target limit; 0 = none.
    pub target_limit: u64,
    /// Default label limit; 0 = none.
    pub label_limit: u64,
    /// Default label name length limit; 0 = none.
    pub label_name_length_limit: u64,
    /// Default label value length limit; 0 = none.
    pub label_value_length_limit: u64,
    /// Default number of dropped targets kept; 0 = no limit.
    pub keep_dropped_targets: u64,
    /// How names are validated by default.
    #[serde(serialize_with = "serialize_name_validation")]
    pub metric_name_validation_scheme: NameValidation,
    /// Escaping requested from targets by default.
    pub metric_name_escaping_scheme: String,
    /// Scrape native histograms by default.
    pub scrape_native_histograms: bool,
    /// Convert classic histograms to NHCB by default.
    pub convert_classic_histograms_to_nhcb: bool,
    /// Keep classic histograms alongside native ones by default.
    pub always_scrape_classic_histograms: bool,
    /// Write the extra scrape metrics by default.
    pub extra_scrape_metrics: bool,
}

impl GlobalConfig {
    /// The external labels as (name, value) pairs, sorted by name.
    pub fn external_label_pairs(&self) -> Vec<(String, String)> {
        self.external_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: None,
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::ZERO,
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: BTreeMap::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: NameValidation::Utf8,
            metric_name_escaping_scheme: "allow-utf-8".to_owned(),
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
}

fn serialize_name_validation<S: serde::Serializer>(names: &NameValidation, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match names {
        NameValidation::Utf8 => "utf8",
        NameValidation::Legacy => "legacy",
    })
}

/// The `runtime` section (Go runtime tuning in Prometheus).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Go's GOGC; accepted and ignored by promlite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gogc: Option<i64>,
}

/// The `storage` section.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// TSDB settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    /// Exemplar storage settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    /// How far back an out-of-order sample is still accepted; 0 = never.
    #[serde(default)]
    pub out_of_order_time_window: Duration,
    /// Share of stale series in the head that triggers compacting them early (experimental in
    /// Prometheus 3.14); 0 = never. Parsed, not acted on.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub stale_series_compaction_threshold: f64,
    /// Retention overriding the flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<TsdbRetentionConfig>,
    /// Chunk encodings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_encoding: Option<ChunkEncodingConfig>,
}

/// `storage.tsdb.retention`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbRetentionConfig {
    /// Keep blocks this long; 0 = unset.
    #[serde(default)]
    pub time: Duration,
    /// Keep at most this many bytes of blocks; 0 = unset.
    #[serde(default, deserialize_with = "retention_size")]
    pub size: ByteSize,
    /// Keep at most this percentage of the disk; 0 = unset.
    #[serde(default)]
    pub percentage: f64,
}

fn is_zero_f64(value: &f64) -> bool {
    *value == 0.0
}

/// A size that Go's units parse would take with its sign, refused as upstream's
/// `TSDBRetentionConfig.UnmarshalYAML` refuses it, rather than as an unreadable size.
fn retention_size<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
    let text = String::deserialize(deserializer)?;
    if let Some(magnitude) = text.strip_prefix('-')
        && magnitude.parse::<ByteSize>().is_ok_and(|size| size.bytes() > 0)
    {
        return Err(serde::de::Error::custom(format!(
            "'storage.tsdb.retention.size' must be greater than or equal to 0, got {text}"
        )));
    }
    text.parse().map_err(serde::de::Error::custom)
}

/// `storage.tsdb.chunk_encoding`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEncodingConfig {
    /// `xor` or `xor2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub floats: String,
}

/// `storage.exemplars`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Size of the exemplar ring buffer; 0 or less disables exemplar storage.
    #[serde(default)]
    pub max_exemplars: i64,
}

impl Config {
    /// The config as YAML in Prometheus's field names, defaults filled in, secrets as `<secret>`
    /// and URL passwords as `xxxxx` (for `/api/v1/status/config`).
    pub fn to_yaml(&self) -> String {
        match serde_saphyr::to_string(self) {
            Ok(yaml) => yaml,
            Err(err) => format!("# error rendering config: {err}\n"),
        }
    }
}

/// Reads and loads a config file; relative paths inside it are resolved against its directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let yaml = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read { file: file.clone(), cause })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    load(&yaml, &file, Some(dir))
}

/// Loads a config from text; `file_name` only names it in errors. Relative paths stay relative.
pub fn load_str(yaml: &str, file_name: &str) -> Result<Config, ConfigError> {
    load(yaml, file_name, None)
}

const SELF_SCRAPE_YAML: &str = "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: promlite
    static_configs:
      - targets: ['TARGET']
";

/// The built-in config used when no config file exists: promlite scraping itself every 15s.
pub fn self_scrape(listen_address: &str) -> Config {
    let (host, port) = match listen_address.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => ("", listen_address),
    };
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "localhost",
        other => other,
    };
    let port = if port.is_empty() { "9090" } else { port };
    let yaml = SELF_SCRAPE_YAML.replace("TARGET", &format!("{host}:{port}"));
    load_str(&yaml, "<built-in self-scrape config>")
        .expect("the built-in self-scrape config is valid for any host:port")
}

fn load(yaml: &str, file: &str, dir: Option<&Path>) -> Result<Config, ConfigError> {
    let invalid = |problems| ConfigError::Invalid { file: file.to_owned(), problems };
    // An empty document (or only comments) is the default config, as in Prometheus.
    let is_empty = yaml.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    });
    let raw = if is_empty {
        None
    } else {
        // The document's structure first, as Go's YAML library parses a whole document before
        // decoding it; else a value that fails to decode (a key indented too far, folded into
        // the value above it) hides the structure error that made it.
        if let Err(err) = serde_saphyr::from_str::<serde::de::IgnoredAny>(yaml)
            && error::is_syntax_error(&err)
        {
            return Err(invalid(vec![error::from_yaml_error(&err)]));
        }
        error::take_deferred();
        let parsed = serde_saphyr::from_str::<Option<RawConfig>>(yaml);
        let deferred = error::take_deferred();
        match parsed {
            Ok(raw) if deferred.is_empty() => raw,
            Ok(_) => return Err(invalid(deferred)),
            Err(err) => {
                let mut problems = deferred;
                problems.push(error::from_yaml_error(&err));
                return Err(invalid(problems));
            }
        }
    };
    let mut problems = Vec::new();
    let config = resolve(raw, dir, &mut problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        problems.sort_by_key(|p| p.position);
        // A scrape config file included twice repeats its problems word for word.
        problems.dedup();
        Err(invalid(problems))
    }
}

/// Validates relabel rules against the name scheme, reporting each bad rule at its position.
pub(crate) fn validate_relabel_configs(
    rules: Vec<Spanned<RelabelConfig>>,
    names: NameValidation,
    problems: &mut Vec<Problem>,
) -> Vec<RelabelConfig> {
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        if let Err(message) = rule.value.validate(names) {
            problems.push(Problem::new(position(&rule), message));
        }
        out.push(rule.value);
    }
    out
}
