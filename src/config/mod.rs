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
//! `remote_write`, `remote_read`, `storage`, `alerting` (parsed, not acted on). Other sections (`tracing`,
//! `otlp`) and other service discoveries are refused with "… is not supported by promlite yet".
//! Secrets are [`Secret`]s, which [`Config::to_yaml`] shows as `<secret>`; every URL-typed field
//! is a [`Url`], shown with its password as `xxxxx`.
//! Invariant: loading never touches the running config; a failed load is only an error value.

mod alerting;
mod duration;
mod error;
mod http_client;
mod kubernetes;
mod remote;
mod scrape;
mod secret;
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
use self::http_client::join_dir;
pub use self::http_client::{
    Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, ProxyConfig, TlsConfig, TlsVersion,
};
pub use self::kubernetes::{AttachMetadata, KubernetesSdConfig, NamespaceDiscovery, Role, Selector};
pub use self::remote::{MetadataConfig, ProtobufMessage, QueueConfig, RemoteReadConfig, RemoteWriteConfig};
use self::remote::{RawRemoteReadConfig, RawRemoteWriteConfig};
pub use self::scrape::{
    DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_PROTOCOLS, FileSdConfig, ScrapeConfig, ScrapeProtocol,
    StaticConfig,
};
use self::scrape::{ScrapeConfigEntry, parse_protocols};
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
    #[serde(default)]
    pub size: ByteSize,
    /// Keep at most this percentage of the disk; 0 = unset.
    #[serde(default)]
    pub percentage: f64,
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
    let yaml = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
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

/// Prometheus section and service-discovery names that promlite recognises but does not model.
const UNSUPPORTED: [&str; 33] = [
    "tracing",
    "otlp",
    "sigv4",
    "azuread",
    "google_iam",
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
];

/// The message for a field Prometheus knows but promlite does not model yet, if `name` is one.
pub(crate) fn unsupported_hint(name: &str) -> Option<String> {
    let known = UNSUPPORTED.contains(&name) || name == "vultr_sd_configs";
    known.then(|| format!("{name} is not supported by promlite yet"))
}

/// The top level of `prometheus.yml` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<Spanned<RawGlobalConfig>>,
    #[serde(default)]
    runtime: Option<RuntimeConfig>,
    #[serde(default)]
    rule_files: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    scrape_config_files: Option<Vec<Spanned<String>>>,
    #[serde(default, deserialize_with = "list::scrape_configs")]
    scrape_configs: Vec<Spanned<ScrapeConfigEntry>>,
    #[serde(default)]
    storage: Option<Spanned<StorageConfig>>,
    #[serde(default, deserialize_with = "list::remote_write")]
    remote_write: Vec<Spanned<RawRemoteWriteConfig>>,
    #[serde(default, deserialize_with = "list::remote_read")]
    remote_read: Vec<Spanned<RawRemoteReadConfig>>,
    #[serde(default)]
    alerting: Option<alerting::RawAlertingConfig>,
}

/// `global` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGlobalConfig {
    #[serde(default)]
    scrape_interval: Option<Duration>,
    #[serde(default)]
    scrape_timeout: Option<Duration>,
    #[serde(default)]
    scrape_protocols: Option<Vec<String>>,
    #[serde(default)]
    evaluation_interval: Option<Duration>,
    #[serde(default)]
    rule_query_offset: Option<Duration>,
    #[serde(default)]
    query_log_file: Option<String>,
    #[serde(default)]
    scrape_failure_log_file: Option<String>,
    #[serde(default)]
    external_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    body_size_limit: Option<ByteSize>,
    #[serde(default)]
    sample_limit: Option<u64>,
    #[serde(default)]
    target_limit: Option<u64>,
    #[serde(default)]
    label_limit: Option<u64>,
    #[serde(default)]
    label_name_length_limit: Option<u64>,
    #[serde(default)]
    label_value_length_limit: Option<u64>,
    #[serde(default)]
    keep_dropped_targets: Option<u64>,
    #[serde(default)]
    metric_name_validation_scheme: Option<String>,
    #[serde(default)]
    metric_name_escaping_scheme: Option<String>,
    #[serde(default)]
    scrape_native_histograms: Option<bool>,
    #[serde(default)]
    convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    extra_scrape_metrics: Option<bool>,
}

/// The position of a spanned value, if the parser knew it.
pub(crate) fn position<T>(spanned: &Spanned<T>) -> Option<Position> {
    Position::from_location(spanned.referenced)
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
        Err(invalid(problems))
    }
}

/// Upstream's `patRulePath`: `^[^*]*(\*[^/]*)?$`.
fn is_valid_rule_path(path: &str) -> bool {
    match path.find('*') {
        None => true,
        Some(star) => !path[star + 1..].contains(['*', '/']),
    }
}

fn resolve(raw: Option<RawConfig>, dir: Option<&Path>, problems: &mut Vec<Problem>) -> Config {
    let Some(raw) = raw else {
        return Config {
            global: GlobalConfig::default(),
            runtime: RuntimeConfig::default(),
            rule_files: Vec::new(),
            scrape_config_files: Vec::new(),
            scrape_configs: Vec::new(),
            storage: StorageConfig::default(),
            remote_write: Vec::new(),
            remote_read: Vec::new(),
            alerting: AlertingConfig::default(),
        };
    };
    let global = match raw.global {
        Some(spanned) => {
            let at = position(&spanned);
            resolve_global(spanned.value, at, dir, problems)
        }
        None => GlobalConfig::default(),
    };
    let mut paths = |list: Option<Vec<Spanned<String>>>, what: &str| -> Vec<String> {
        let mut out = Vec::new();
        for path in list.unwrap_or_default() {
            if !is_valid_rule_path(&path.value) {
                problems.push(Problem::new(position(&path), format!("invalid {what} path {:?}", path.value)));
            }
            let mut value = path.value;
            if let Some(dir) = dir {
                join_dir(dir, &mut value);
            }
            out.push(value);
        }
        out
    };
    let rule_files = paths(raw.rule_files, "rule file");
    let scrape_config_files = paths(raw.scrape_config_files, "scrape config file");

    let mut scrape_configs: Vec<ScrapeConfig> = Vec::with_capacity(raw.scrape_configs.len());
    for entry in raw.scrape_configs {
        let at = position(&entry);
        let Some(scrape_config) = entry.value.resolve(at, &global, dir, problems) else {
            continue;
        };
        if scrape_configs.iter().any(|s| s.job_name == scrape_config.job_name) {
            problems.push(Problem::new(
                at,
                format!("found multiple scrape configs with job name {:?}", scrape_config.job_name),
            ));
            continue;
        }
        scrape_configs.push(scrape_config);
    }

    load_scrape_config_files(&scrape_config_files, &global, &mut scrape_configs, problems);

    let mut remote_write: Vec<RemoteWriteConfig> = Vec::new();
    for entry in raw.remote_write {
        let at = position(&entry);
        match entry.value.resolve() {
            Ok((mut config, rules)) => {
                if !config.name.is_empty() && remote_write.iter().any(|r| r.name == config.name) {
                    problems.push(Problem::new(
                        at,
                        format!("found multiple remote write configs with job name {:?}", config.name),
                    ));
                }
                config.write_relabel_configs =
                    validate_relabel_configs(rules, global.metric_name_validation_scheme, problems);
                if let Some(dir) = dir {
                    config.http_client_config.set_directory(dir);
                }
                remote_write.push(config);
            }
            Err(message) => problems.push(Problem::new(at, message)),
        }
    }
    let mut remote_read: Vec<RemoteReadConfig> = Vec::new();
    for entry in raw.remote_read {
        let at = position(&entry);
        match entry.value.resolve() {
            Ok(mut config) => {
                if !config.name.is_empty() && remote_read.iter().any(|r| r.name == config.name) {
                    problems.push(Problem::new(
                        at,
                        format!("found multiple remote read configs with job name {:?}", config.name),
                    ));
                }
                if let Some(dir) = dir {
                    config.http_client_config.set_directory(dir);
                }
                remote_read.push(config);
            }
            Err(message) => problems.push(Problem::new(at, message)),
        }
    }
    let storage = match raw.storage {
        Some(spanned) => {
            let at = position(&spanned);
            if let Err(message) = validate_storage(&spanned.value) {
                problems.push(Problem::new(at, message));
            }
            spanned.value
        }
        None => StorageConfig::default(),
    };
    Config {
        global,
        runtime: raw.runtime.unwrap_or_default(),
        rule_files,
        scrape_config_files,
        scrape_configs,
        storage,
        remote_write,
        remote_read,
        alerting: raw.alerting.map(|a| a.resolve(dir, problems)).unwrap_or_default(),
    }
}

/// A file named in `scrape_config_files`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrapeConfigFile {
    #[serde(default, deserialize_with = "list::scrape_configs")]
    scrape_configs: Vec<Spanned<ScrapeConfigEntry>>,
}

/// Files matching `pattern`, where only the last path element may hold `*` (as `patRulePath`
/// allows); a pattern without `*` names the file itself if it exists, as Go's `filepath.Glob`.
fn glob(pattern: &str) -> Vec<std::path::PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    if !name.contains('*') {
        return if path.is_file() { vec![path.to_owned()] } else { Vec::new() };
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let (prefix, rest) = name.split_once('*').unwrap_or((name.as_str(), ""));
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            let file = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            p.is_file() && file.len() >= prefix.len() + rest.len() && file.starts_with(prefix) && file.ends_with(rest)
        })
        .collect();
    out.sort();
    out
}

/// Loads the scrape configs of `scrape_config_files` (upstream `Config.GetScrapeConfigs`):
/// each is validated against `global`, its relative paths resolved against its own directory,
/// and a job name may appear only once across all files.
fn load_scrape_config_files(
    patterns: &[String],
    global: &GlobalConfig,
    scrape_configs: &mut Vec<ScrapeConfig>,
    problems: &mut Vec<Problem>,
) {
    let mut origin: BTreeMap<String, String> =
        scrape_configs.iter().map(|s| (s.job_name.clone(), "main config file".to_owned())).collect();
    for pattern in patterns {
        for path in glob(pattern) {
            let file = path.display().to_string();
            let in_file = |mut problem: Problem| {
                problem.file = Some(file.clone());
                problem
            };
            let yaml = match std::fs::read_to_string(&path) {
                Ok(yaml) => yaml,
                Err(err) => {
                    problems.push(in_file(Problem::new(None, err.to_string())));
                    continue;
                }
            };
            error::take_deferred();
            let parsed = serde_saphyr::from_str::<Option<RawScrapeConfigFile>>(&yaml);
            let deferred = error::take_deferred();
            problems.extend(deferred.into_iter().map(in_file));
            let raw = match parsed {
                Ok(raw) => raw,
                Err(err) => {
                    problems.push(in_file(error::from_yaml_error(&err)));
                    continue;
                }
            };
            let dir = path.parent();
            for entry in raw.map(|r| r.scrape_configs).unwrap_or_default() {
                let at = position(&entry);
                let mut found = Vec::new();
                let resolved = entry.value.resolve(at, global, dir, &mut found);
                problems.extend(found.into_iter().map(in_file));
                let Some(scrape_config) = resolved else {
                    continue;
                };
                if let Some(first) = origin.get(&scrape_config.job_name) {
                    problems.push(in_file(Problem::new(
                        at,
                        format!(
                            "found multiple scrape configs with job name {:?}, first found in {first}",
                            scrape_config.job_name
                        ),
                    )));
                    continue;
                }
                origin.insert(scrape_config.job_name.clone(), format!("{file:?}"));
                scrape_configs.push(scrape_config);
            }
        }
    }
}

fn validate_storage(storage: &StorageConfig) -> Result<(), String> {
    let Some(tsdb) = &storage.tsdb else {
        return Ok(());
    };
    if let Some(retention) = &tsdb.retention
        && !(0.0..=100.0).contains(&retention.percentage)
    {
        return Err(format!("invalid retention percentage {}: must be between 0 and 100", retention.percentage));
    }
    if let Some(encoding) = &tsdb.chunk_encoding
        && !matches!(encoding.floats.as_str(), "" | "xor" | "xor2")
    {
        return Err(format!("invalid chunk_encoding floats {:?}: must be one of \"xor\" or \"xor2\"", encoding.floats));
    }
    Ok(())
}

fn resolve_global(
    raw: RawGlobalConfig,
    at: Option<Position>,
    dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> GlobalConfig {
    let defaults = GlobalConfig::default();
    let mut report = |message: String| problems.push(Problem::new(at, message));
    let metric_name_validation_scheme = match raw.metric_name_validation_scheme.as_deref() {
        None | Some("") | Some("utf8") => NameValidation::Utf8,
        Some("legacy") => NameValidation::Legacy,
        Some(other) => {
            report(format!(
                "unknown global name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"
            ));
            NameValidation::Utf8
        }
    };
    let mut external_labels = BTreeMap::new();
    for (name, value) in raw.external_labels.unwrap_or_default() {
        if !metric_name_validation_scheme.is_valid_label_name(&name) {
            report(format!("{name:?} is not a valid label name"));
        }
        let value = expand_env(&value);
        external_labels.insert(name, value);
    }
    let scrape_interval = raw.scrape_interval.filter(|d| !d.is_zero()).unwrap_or(defaults.scrape_interval);
    let mut scrape_timeout = raw.scrape_timeout.unwrap_or_default();
    if scrape_timeout > scrape_interval {
        report("global scrape timeout greater than scrape interval".to_owned());
    }
    if scrape_timeout.is_zero() {
        scrape_timeout = defaults.scrape_timeout.min(scrape_interval);
    }
    let scrape_protocols = match raw.scrape_protocols {
        None => None,
        Some(names) => match parse_protocols(&names) {
            Ok(protocols) => Some(protocols),
            Err(message) => {
                report(format!("{message} for global config"));
                None
            }
        },
    };
    let metric_name_escaping_scheme = match raw.metric_name_escaping_scheme.filter(|s| !s.is_empty()) {
        Some(scheme) => {
            if !["allow-utf-8", "underscores", "dots", "values"].contains(&scheme.as_str()) {
                report(format!(
                    "unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {scheme:?}"
                ));
            }
            scheme
        }
        None if metric_name_validation_scheme == NameValidation::Legacy => "underscores".to_owned(),
        None => "allow-utf-8".to_owned(),
    };
    let mut query_log_file = raw.query_log_file.unwrap_or_default();
    let mut scrape_failure_log_file = raw.scrape_failure_log_file.unwrap_or_default();
    if let Some(dir) = dir {
        join_dir(dir, &mut query_log_file);
        join_dir(dir, &mut scrape_failure_log_file);
    }
    GlobalConfig {
        scrape_interval,
        scrape_timeout,
        scrape_protocols,
        evaluation_interval: raw.evaluation_interval.filter(|d| !d.is_zero()).unwrap_or(defaults.evaluation_interval),
        rule_query_offset: raw.rule_query_offset.unwrap_or_default(),
        query_log_file,
        scrape_failure_log_file,
        external_labels,
        body_size_limit: raw.body_size_limit.unwrap_or_default(),
        sample_limit: raw.sample_limit.unwrap_or(0),
        target_limit: raw.target_limit.unwrap_or(0),
        label_limit: raw.label_limit.unwrap_or(0),
        label_name_length_limit: raw.label_name_length_limit.unwrap_or(0),
        label_value_length_limit: raw.label_value_length_limit.unwrap_or(0),
        keep_dropped_targets: raw.keep_dropped_targets.unwrap_or(0),
        metric_name_validation_scheme,
        metric_name_escaping_scheme,
        scrape_native_histograms: raw.scrape_native_histograms.unwrap_or(false),
        convert_classic_histograms_to_nhcb: raw.convert_classic_histograms_to_nhcb.unwrap_or(false),
        always_scrape_classic_histograms: raw.always_scrape_classic_histograms.unwrap_or(false),
        extra_scrape_metrics: raw.extra_scrape_metrics.unwrap_or(false),
    }
}

/// Expands `$VAR` and `${VAR}` from the environment the way Go's `os.Expand` does for
/// Prometheus's external labels; `$$` is a literal `$`, an unset variable is empty.
fn expand_env(value: &str) -> String {
    expand_with(value, |name| std::env::var(name).unwrap_or_default())
}

/// [`expand_env`] over any variable lookup (tests pass their own instead of the environment).
pub(crate) fn expand_with(value: &str, env: impl Fn(&str) -> String) -> String {
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".to_owned();
        }
        env(name)
    };
    let is_special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut copied_to = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&value[copied_to..j]);
            let rest = &value[j + 1..];
            let rb = rest.as_bytes();
            // (name, characters consumed after the '$'); an empty name with width 0 keeps the '$'.
            let (name, width): (&str, usize) = if rb[0] == b'{' {
                if rb.len() > 2 && is_special(rb[1]) && rb[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(end) => (&rest[1..1 + end], end + 2),
                        None => ("", 1),
                    }
                }
            } else if is_special(rb[0]) {
                (&rest[..1], 1)
            } else {
                let len = rb.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
                (&rest[..len], len)
            };
            if name.is_empty() && width == 0 {
                out.push('$');
            } else if !name.is_empty() {
                out.push_str(&lookup(name));
            }
            j += width + 1;
            copied_to = j;
        } else {
            j += 1;
        }
    }
    out.push_str(&value[copied_to..]);
    out
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

/// `deserialize_with` helpers for lists whose entries need a position and whose null entries
/// must be reported with Prometheus's message instead of failing the parse.
pub(crate) mod list {
    use serde::{Deserialize, Deserializer};
    use serde_saphyr::Spanned;

    use super::error::{Position, Problem, defer};

    fn entries<'de, D, T>(deserializer: D, null_message: &str) -> Result<Vec<Spanned<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let items = Option::<Vec<Spanned<Option<T>>>>::deserialize(deserializer)?.unwrap_or_default();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.value {
                Some(value) => out.push(Spanned::new(value, item.referenced, item.defined)),
                None => defer(Problem::new(Position::from_location(item.referenced), null_message)),
            }
        }
        Ok(out)
    }

    macro_rules! entry_lists {
        ($($name:ident: $ty:ty => $message:literal;)*) => {
            $(
                pub(crate) fn $name<'de, D: Deserializer<'de>>(
                    deserializer: D,
                ) -> Result<Vec<Spanned<$ty>>, D::Error> {
                    entries(deserializer, $message)
                }
            )*
        };
    }

    entry_lists! {
        scrape_configs: super::ScrapeConfigEntry => "empty or null scrape config section";
        remote_write: super::RawRemoteWriteConfig => "empty or null remote write config section";
        remote_read: super::RawRemoteReadConfig => "empty or null remote read config section";
        static_configs: super::StaticConfig => "empty or null section in static_configs";
        file_sd_configs: super::FileSdConfig => "empty or null section in file_sd_configs";
        kubernetes_sd_configs: super::kubernetes::RawKubernetesSdConfig => "empty or null section in kubernetes_sd_configs";
        target_relabel_configs: crate::relabel::RelabelConfig => "empty or null target relabeling rule in scrape config";
        metric_relabel_configs: crate::relabel::RelabelConfig => "empty or null metric relabeling rule in scrape config";
        write_relabel_configs: crate::relabel::RelabelConfig => "empty or null relabeling rule in remote write config";
        alertmanagers: super::alerting::AlertmanagerEntry => "empty or null section in alertmanagers";
        alert_relabel_configs: crate::relabel::RelabelConfig => "empty or null alert relabeling rule";
        alertmanager_relabel_configs: crate::relabel::RelabelConfig => "empty or null Alertmanager target relabeling rule";
    }
}
