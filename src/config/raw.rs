//! The top level of `prometheus.yml` and its `global` section as written (`deny_unknown_fields`,
//! every field optional), and the resolve pass that turns them into a [`Config`] (upstream
//! `Config.UnmarshalYAML`, `GlobalConfig.UnmarshalYAML`): defaults applied, each section resolved
//! by its own module, relative paths joined with the config file's directory, and every problem
//! collected with its position rather than stopping at the first.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::alerting::{AlertingConfig, RawAlertingConfig};
use super::error::{Position, Problem, position};
use super::expand::expand_env;
use super::http_config::join_dir;
use super::remote::{RawRemoteReadConfig, RawRemoteWriteConfig, RemoteReadConfig, RemoteWriteConfig};
use super::scrape::{ScrapeConfig, ScrapeConfigEntry, parse_protocols};
use super::scrape_config_files::load_scrape_config_files;
use super::unsupported::{RawOtlpConfig, RawTracingConfig, check_otlp, check_tracing};
use super::{ByteSize, Config, Duration, GlobalConfig, RuntimeConfig, StorageConfig, list, validate_relabel_configs};
use crate::relabel::NameValidation;

/// The top level of `prometheus.yml` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
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
    alerting: Option<RawAlertingConfig>,
    #[serde(default)]
    tracing: Option<Spanned<RawTracingConfig>>,
    #[serde(default)]
    otlp: Option<Spanned<RawOtlpConfig>>,
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
    #[serde(default, deserialize_with = "list::labels")]
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

/// Upstream's `patRulePath`: `^[^*]*(\*[^/]*)?$`.
fn is_valid_rule_path(path: &str) -> bool {
    match path.find('*') {
        None => true,
        Some(star) => !path[star + 1..].contains(['*', '/']),
    }
}

pub(super) fn resolve(raw: Option<RawConfig>, dir: Option<&Path>, problems: &mut Vec<Problem>) -> Config {
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
    if let Some(tracing) = raw.tracing {
        check_tracing(tracing, problems);
    }
    if let Some(otlp) = raw.otlp {
        check_otlp(otlp, global.metric_name_validation_scheme, problems);
    }
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
    // Names of every job, resolved or not: a job with a problem still claims its name.
    let mut job_names: Vec<String> = Vec::with_capacity(raw.scrape_configs.len());
    for entry in raw.scrape_configs {
        let at = position(&entry);
        let job_name = entry.value.job_name().to_owned();
        let resolved = entry.value.resolve(at, &global, dir, problems);
        if !job_name.is_empty() && job_names.contains(&job_name) {
            problems.push(Problem::new(at, format!("found multiple scrape configs with job name {job_name:?}")));
            continue;
        }
        job_names.push(job_name);
        scrape_configs.extend(resolved);
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

fn validate_storage(storage: &StorageConfig) -> Result<(), String> {
    let Some(tsdb) = &storage.tsdb else {
        return Ok(());
    };
    if let Some(retention) = &tsdb.retention
        && !(0.0..=100.0).contains(&retention.percentage)
    {
        return Err(format!(
            "'storage.tsdb.retention.percentage' must be in the range [0, 100], got {}",
            retention.percentage
        ));
    }
    if let Some(encoding) = &tsdb.chunk_encoding
        && !matches!(encoding.floats.as_str(), "" | "xor" | "xor2")
    {
        return Err(format!(
            "'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got {:?}",
            encoding.floats
        ));
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
            // `model.ValidationScheme`'s own check, which runs while decoding in Prometheus.
            report(format!("unrecognized ValidationScheme: {other:?}"));
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
