//! Scrape configs: one per job (upstream `config.ScrapeConfig`, `discovery.StaticConfig`,
//! `discovery/file`).
//!
//! [`ScrapeConfig`] is the resolved form: every value Prometheus inherits from `global`
//! (interval, timeout, limits, protocols, histogram switches) is concrete here. The private
//! [`RawScrapeConfig`] is what the YAML says; [`RawScrapeConfig::resolve`] fills the defaults the
//! way `ScrapeConfig.Validate` does and reports every problem with the job's position.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::duration::{ByteSize, Duration};
use super::error::{Position, Problem};
use super::http_config::{Http2Default, HttpClientConfig, join_dir, raw_with_http_client};
use super::kubernetes::{KubernetesSdConfig, RawKubernetesSdConfig};
use super::unsupported::WithUnsupportedSds;
use super::{GlobalConfig, list, position, validate_relabel_configs};
use crate::relabel::{NameValidation, RelabelConfig};

/// A scrape protocol Prometheus can negotiate (upstream `config.ScrapeProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum ScrapeProtocol {
    /// Protobuf `io.prometheus.client.MetricFamily`, length-delimited.
    PrometheusProto,
    /// Text format 0.0.4.
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    /// Text format 1.0.0.
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
    /// OpenMetrics 0.0.1.
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    /// OpenMetrics 1.0.0.
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The media type and parameters sent in `Accept` for this protocol.
    pub fn header_value(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Protocols offered when neither the job nor `global` sets `scrape_protocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// Protocols offered when native histograms are scraped: protobuf first.
pub const DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS: [ScrapeProtocol; 5] = [
    ScrapeProtocol::PrometheusProto,
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// Parses a protocol list, with upstream's messages for unknown and duplicated entries.
pub(crate) fn parse_protocols(names: &[String]) -> Result<Vec<ScrapeProtocol>, String> {
    if names.is_empty() {
        return Err("scrape_protocols cannot be empty".to_owned());
    }
    let mut protocols = Vec::with_capacity(names.len());
    let mut seen = Vec::new();
    for name in names {
        let lower = name.to_lowercase();
        if seen.contains(&lower) {
            return Err(format!("duplicated protocol in scrape_protocols, got [{}]", names.join(" ")));
        }
        seen.push(lower);
        protocols.push(parse_protocol(name).map_err(|e| format!("scrape_protocols: {e}"))?);
    }
    Ok(protocols)
}

pub(crate) fn parse_protocol(name: &str) -> Result<ScrapeProtocol, String> {
    let protocol = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
    ]
    .into_iter()
    .find(|p| p.as_str() == name);
    protocol.ok_or_else(|| {
        format!(
            "unknown scrape protocol {name}, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        )
    })
}

/// A fixed list of targets with common labels (upstream `targetgroup.Group` in `static_configs`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels given to every target of this group.
    #[serde(default, deserialize_with = "static_labels", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn static_labels<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    list::labels(deserializer).map(Option::unwrap_or_default)
}

/// File-based discovery: target groups read from JSON or YAML files (upstream `discovery/file`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths or globs (`*` in the last path element only), resolved against the config's directory.
    #[serde(default)]
    pub files: Vec<String>,
    /// How often to re-read the files besides watching them; 5m by default.
    #[serde(default = "default_file_sd_refresh")]
    pub refresh_interval: Duration,
}

fn default_file_sd_refresh() -> Duration {
    Duration::from_secs(300)
}

impl FileSdConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".to_owned());
        }
        for file in &self.files {
            if !is_valid_file_sd_path(file) {
                return Err(format!("path name {file:?} is not valid for file discovery"));
            }
        }
        Ok(())
    }
}

/// Validates `file_sd_configs` entries and joins their paths with the config's directory.
pub(crate) fn resolve_file_sd_configs(
    entries: Vec<Spanned<FileSdConfig>>,
    dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Vec<FileSdConfig> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let at = position(&entry);
        let mut file_sd = entry.value;
        if let Err(message) = file_sd.validate() {
            problems.push(Problem::new(at, message));
        }
        if let Some(dir) = dir {
            file_sd.files.iter_mut().for_each(|f| join_dir(dir, f));
        }
        out.push(file_sd);
    }
    out
}

/// Resolves `kubernetes_sd_configs` entries and joins their paths with the config's directory.
pub(crate) fn resolve_kubernetes_sd_configs(
    entries: Vec<Spanned<RawKubernetesSdConfig>>,
    dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Vec<KubernetesSdConfig> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let at = position(&entry);
        match entry.value.resolve() {
            Ok(mut kubernetes) => {
                if let Some(dir) = dir {
                    kubernetes.set_directory(dir);
                }
                out.push(kubernetes);
            }
            Err(message) => problems.push(Problem::new(at, message)),
        }
    }
    out
}

/// Upstream's `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn is_valid_file_sd_path(path: &str) -> bool {
    let extensions = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"];
    let Some(stem) = extensions.iter().find_map(|ext| path.strip_suffix(ext)) else {
        return false;
    };
    match stem.find('*') {
        None => true,
        Some(star) => !stem[star + 1..].contains(['*', '/']),
    }
}

/// Serializes a [`NameValidation`] the way Prometheus writes it.
fn serialize_name_validation<S: serde::Serializer>(names: &NameValidation, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match names {
        NameValidation::Utf8 => "utf8",
        NameValidation::Legacy => "legacy",
    })
}

/// One scrape job with every default resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScrapeConfig {
    /// The job name, unique in the config; the default `job` label.
    pub job_name: String,
    /// Keep the target's labels when they clash with ours.
    pub honor_labels: bool,
    /// Keep the timestamps the target exposes.
    pub honor_timestamps: bool,
    /// Write staleness markers for series with explicit timestamps.
    pub track_timestamps_staleness: bool,
    /// URL query parameters of every scrape.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// How often to scrape.
    pub scrape_interval: Duration,
    /// Per-scrape timeout; never above `scrape_interval`.
    pub scrape_timeout: Duration,
    /// Protocols offered in `Accept`, most wanted first.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// The protocol assumed when the target's `Content-Type` is missing or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Ingest native histograms.
    pub scrape_native_histograms: bool,
    /// Also ingest the classic form of histograms exposed both ways.
    pub always_scrape_classic_histograms: bool,
    /// Convert classic histograms to native histograms with custom buckets.
    pub convert_classic_histograms_to_nhcb: bool,
    /// Write `scrape_timeout_seconds`, `scrape_sample_limit` and `scrape_body_size_bytes`.
    pub extra_scrape_metrics: bool,
    /// File to which failed scrapes are logged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// The HTTP path scraped.
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Ask targets for gzip.
    pub enable_compression: bool,
    /// Largest uncompressed body accepted; 0 = no limit.
    pub body_size_limit: ByteSize,
    /// Most samples accepted per scrape after metric relabeling; 0 = no limit.
    pub sample_limit: u64,
    /// Most targets per job after target relabeling; 0 = no limit.
    pub target_limit: u64,
    /// Most labels per series; 0 = no limit.
    pub label_limit: u64,
    /// Longest label name; 0 = no limit.
    pub label_name_length_limit: u64,
    /// Longest label value; 0 = no limit.
    pub label_value_length_limit: u64,
    /// Most buckets per native histogram; 0 = no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub native_histogram_bucket_limit: u64,
    /// Smallest bucket growth factor of native histograms; 0 = none.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub native_histogram_min_bucket_factor: f64,
    /// Most dropped targets kept for the UI; 0 = no limit.
    pub keep_dropped_targets: u64,
    /// How metric and label names are validated.
    #[serde(serialize_with = "serialize_name_validation")]
    pub metric_name_validation_scheme: NameValidation,
    /// The escaping requested from targets (`allow-utf-8`, `underscores`, `dots`, `values`).
    pub metric_name_escaping_scheme: String,
    /// How to talk to the targets.
    #[serde(flatten)]
    pub http_client_config: HttpClientConfig,
    /// Fixed target groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// File-based discovery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Kubernetes discovery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Rules applied to discovered targets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to scraped series.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

raw_with_http_client! {
    /// A `scrape_configs` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawScrapeConfig {
        #[serde(default)]
        job_name: Option<String>,
        #[serde(default)]
        honor_labels: Option<bool>,
        #[serde(default)]
        honor_timestamps: Option<bool>,
        #[serde(default)]
        track_timestamps_staleness: Option<bool>,
        #[serde(default)]
        params: Option<BTreeMap<String, Vec<String>>>,
        #[serde(default)]
        scrape_interval: Option<Duration>,
        #[serde(default)]
        scrape_timeout: Option<Duration>,
        #[serde(default)]
        scrape_protocols: Option<Vec<String>>,
        #[serde(default)]
        fallback_scrape_protocol: Option<String>,
        #[serde(default)]
        scrape_native_histograms: Option<bool>,
        #[serde(default)]
        always_scrape_classic_histograms: Option<bool>,
        #[serde(default)]
        convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default)]
        extra_scrape_metrics: Option<bool>,
        #[serde(default)]
        scrape_failure_log_file: Option<String>,
        #[serde(default)]
        metrics_path: Option<String>,
        #[serde(default)]
        scheme: Option<String>,
        #[serde(default)]
        enable_compression: Option<bool>,
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
        native_histogram_bucket_limit: Option<u64>,
        #[serde(default)]
        native_histogram_min_bucket_factor: Option<f64>,
        #[serde(default)]
        keep_dropped_targets: Option<u64>,
        #[serde(default)]
        metric_name_validation_scheme: Option<String>,
        #[serde(default)]
        metric_name_escaping_scheme: Option<String>,
        #[serde(default, deserialize_with = "list::static_configs")]
        static_configs: Vec<Spanned<StaticConfig>>,
        #[serde(default, deserialize_with = "list::file_sd_configs")]
        file_sd_configs: Vec<Spanned<FileSdConfig>>,
        #[serde(default, deserialize_with = "list::kubernetes_sd_configs")]
        kubernetes_sd_configs: Vec<Spanned<RawKubernetesSdConfig>>,
        #[serde(default, deserialize_with = "list::target_relabel_configs")]
        relabel_configs: Vec<Spanned<RelabelConfig>>,
        #[serde(default, deserialize_with = "list::metric_relabel_configs")]
        metric_relabel_configs: Vec<Spanned<RelabelConfig>>,
    }
}

/// Deserializes a `scrape_configs` entry, keeping the raw form private.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct ScrapeConfigEntry(WithUnsupportedSds<RawScrapeConfig>);

const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

fn parse_name_validation(text: &str) -> Option<Result<NameValidation, String>> {
    match text {
        "" => None,
        "utf8" => Some(Ok(NameValidation::Utf8)),
        "legacy" => Some(Ok(NameValidation::Legacy)),
        // `model.ValidationScheme`'s own check, which runs while decoding in Prometheus.
        other => Some(Err(format!("unrecognized ValidationScheme: {other:?}"))),
    }
}

impl ScrapeConfigEntry {
    /// The job name as written; empty when absent.
    pub(crate) fn job_name(&self) -> &str {
        self.0.value.job_name.as_deref().unwrap_or_default()
    }

    /// Resolves one job against `global`, as `ScrapeConfig.Validate`; every problem found goes
    /// to `problems` and `None` is returned when there was any.
    pub(crate) fn resolve(
        self,
        at: Option<Position>,
        global: &GlobalConfig,
        dir: Option<&Path>,
        problems: &mut Vec<Problem>,
    ) -> Option<ScrapeConfig> {
        let WithUnsupportedSds { value: mut raw, sds } = self.0;
        let before = problems.len();
        for sd in sds {
            sd.check(problems);
        }
        let mut report = |message: String| problems.push(Problem::new(at, message));
        let job_name = raw.job_name.take().unwrap_or_default();
        if job_name.is_empty() {
            report("job_name is empty".to_owned());
        }
        let http_client_config = match raw.take_http_client().resolve(Http2Default::Enabled) {
            Ok(http) => http,
            Err(message) => {
                report(message);
                HttpClientConfig::default()
            }
        };
        let scrape_interval = raw.scrape_interval.filter(|d| !d.is_zero()).unwrap_or(global.scrape_interval);
        let mut scrape_timeout = raw.scrape_timeout.unwrap_or_default();
        if scrape_timeout > scrape_interval {
            report(format!("scrape timeout greater than scrape interval for scrape config with job name {job_name:?}"));
        }
        if scrape_timeout.is_zero() {
            scrape_timeout = global.scrape_timeout.min(scrape_interval);
        }
        let inherit = |value: Option<u64>, global: u64| value.filter(|v| *v != 0).unwrap_or(global);
        let scrape_native_histograms = raw.scrape_native_histograms.unwrap_or(global.scrape_native_histograms);
        let scrape_protocols = match (&raw.scrape_protocols, &global.scrape_protocols) {
            (Some(names), _) => parse_protocols(names).unwrap_or_else(|message| {
                report(format!("{message} for scrape config with job name {job_name:?}"));
                Vec::new()
            }),
            (None, Some(global_protocols)) => global_protocols.clone(),
            (None, None) if scrape_native_histograms => DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS.to_vec(),
            (None, None) => DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
        };
        let fallback_scrape_protocol = match raw.fallback_scrape_protocol.as_deref() {
            None | Some("") => None,
            Some(name) => match parse_protocol(name) {
                Ok(protocol) => Some(protocol),
                Err(message) => {
                    report(format!(
                        "invalid fallback_scrape_protocol for scrape config with job name {job_name:?}: {message}"
                    ));
                    None
                }
            },
        };
        let local_validation = raw.metric_name_validation_scheme.as_deref().and_then(parse_name_validation);
        let local_validation_set = local_validation.is_some();
        let metric_name_validation_scheme = match local_validation {
            None => global.metric_name_validation_scheme,
            Some(Ok(names)) => names,
            Some(Err(message)) => {
                report(message);
                global.metric_name_validation_scheme
            }
        };
        let metric_name_escaping_scheme = match raw.metric_name_escaping_scheme.take().filter(|s| !s.is_empty()) {
            Some(scheme) => scheme,
            None if !local_validation_set => global.metric_name_escaping_scheme.clone(),
            None if metric_name_validation_scheme == NameValidation::Legacy => "underscores".to_owned(),
            None => "allow-utf-8".to_owned(),
        };
        if !ESCAPING_SCHEMES.contains(&metric_name_escaping_scheme.as_str()) {
            report(format!(
                "unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {metric_name_escaping_scheme:?}"
            ));
        } else if metric_name_escaping_scheme == "allow-utf-8" && metric_name_validation_scheme != NameValidation::Utf8
        {
            report("utf8 metric names requested but validation scheme is not set to UTF8".to_owned());
        }

        let relabel_configs = validate_relabel_configs(raw.relabel_configs, metric_name_validation_scheme, problems);
        let metric_relabel_configs =
            validate_relabel_configs(raw.metric_relabel_configs, metric_name_validation_scheme, problems);
        let check_targets = relabel_configs.is_empty();
        let mut static_configs = Vec::with_capacity(raw.static_configs.len());
        for group in raw.static_configs {
            let group_at = position(&group);
            let group = group.value;
            for target in &group.targets {
                if check_targets && target.contains('/') {
                    problems.push(Problem::new(group_at, format!("{target:?} is not a valid hostname")));
                }
            }
            for name in group.labels.keys() {
                if !metric_name_validation_scheme.is_valid_label_name(name) {
                    problems.push(Problem::new(group_at, format!("{name:?} is not a valid label name")));
                }
            }
            static_configs.push(group);
        }
        let file_sd_configs = resolve_file_sd_configs(raw.file_sd_configs, dir, problems);
        let kubernetes_sd_configs = resolve_kubernetes_sd_configs(raw.kubernetes_sd_configs, dir, problems);
        if problems.len() > before {
            return None;
        }
        let mut scrape_config = ScrapeConfig {
            job_name,
            honor_labels: raw.honor_labels.unwrap_or(false),
            honor_timestamps: raw.honor_timestamps.unwrap_or(true),
            track_timestamps_staleness: raw.track_timestamps_staleness.unwrap_or(false),
            params: raw.params.unwrap_or_default(),
            scrape_interval,
            scrape_timeout,
            scrape_protocols,
            fallback_scrape_protocol,
            scrape_native_histograms,
            always_scrape_classic_histograms: raw
                .always_scrape_classic_histograms
                .unwrap_or(global.always_scrape_classic_histograms),
            convert_classic_histograms_to_nhcb: raw
                .convert_classic_histograms_to_nhcb
                .unwrap_or(global.convert_classic_histograms_to_nhcb),
            extra_scrape_metrics: raw.extra_scrape_metrics.unwrap_or(global.extra_scrape_metrics),
            scrape_failure_log_file: match raw.scrape_failure_log_file.filter(|f| !f.is_empty()) {
                Some(mut file) => {
                    if let Some(dir) = dir {
                        join_dir(dir, &mut file);
                    }
                    file
                }
                None => global.scrape_failure_log_file.clone(),
            },
            metrics_path: raw.metrics_path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/metrics".to_owned()),
            scheme: raw.scheme.filter(|s| !s.is_empty()).unwrap_or_else(|| "http".to_owned()),
            enable_compression: raw.enable_compression.unwrap_or(true),
            body_size_limit: raw.body_size_limit.filter(|b| b.0 != 0).unwrap_or(global.body_size_limit),
            sample_limit: inherit(raw.sample_limit, global.sample_limit),
            target_limit: inherit(raw.target_limit, global.target_limit),
            label_limit: inherit(raw.label_limit, global.label_limit),
            label_name_length_limit: inherit(raw.label_name_length_limit, global.label_name_length_limit),
            label_value_length_limit: inherit(raw.label_value_length_limit, global.label_value_length_limit),
            native_histogram_bucket_limit: raw.native_histogram_bucket_limit.unwrap_or(0),
            native_histogram_min_bucket_factor: raw.native_histogram_min_bucket_factor.unwrap_or(0.0),
            keep_dropped_targets: inherit(raw.keep_dropped_targets, global.keep_dropped_targets),
            metric_name_validation_scheme,
            metric_name_escaping_scheme,
            http_client_config,
            static_configs,
            file_sd_configs,
            kubernetes_sd_configs,
            relabel_configs,
            metric_relabel_configs,
        };
        if let Some(dir) = dir {
            scrape_config.http_client_config.set_directory(dir);
        }
        Some(scrape_config)
    }
}
