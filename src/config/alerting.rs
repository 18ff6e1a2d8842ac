//! The `alerting` section (upstream `config/config.go` `AlertingConfig`, `AlertmanagerConfig`).
//!
//! Parsed strictly and validated like Prometheus, so a real `prometheus.yml` with Alertmanagers
//! loads unchanged; `crate::notifier` runs it.
//! Defaults: scheme `http`, path_prefix `/`, timeout 10s, api_version `v2` (v1 is an error, as in
//! Prometheus 3). Discovery: `static_configs`, `file_sd_configs`, `kubernetes_sd_configs`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::error::Problem;
use super::http_config::{Http2Default, HttpClientConfig, raw_with_http_client};
use super::kubernetes::RawKubernetesSdConfig;
use super::scrape::{FileSdConfig, StaticConfig};
use super::unsupported::WithUnsupportedSds;
use super::{Duration, KubernetesSdConfig, list, position, validate_relabel_configs};
use crate::relabel::{NameValidation, RelabelConfig};

/// `alerting`, defaults resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert before it is sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// Where alerts go.
    #[serde(rename = "alertmanagers", skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl AlertingConfig {
    /// Whether the section is absent or empty.
    pub fn is_empty(&self) -> bool {
        self.alert_relabel_configs.is_empty() && self.alertmanagers.is_empty()
    }
}

/// One `alertmanagers` entry, defaults resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// HTTP client settings (inline in the YAML).
    #[serde(flatten)]
    pub http_client_config: HttpClientConfig,
    /// `http` or `https`.
    pub scheme: String,
    /// Prefix of the Alertmanager API path.
    pub path_prefix: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Always `v2`.
    pub api_version: String,
    /// Fixed Alertmanager addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// Alertmanagers listed in files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Alertmanagers found in Kubernetes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Relabeling of discovered Alertmanagers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabeling of alerts sent to this Alertmanager only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

/// `alerting` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertingConfig {
    #[serde(default, deserialize_with = "list::alert_relabel_configs")]
    alert_relabel_configs: Vec<Spanned<RelabelConfig>>,
    #[serde(default, deserialize_with = "list::alertmanagers")]
    alertmanagers: Vec<Spanned<AlertmanagerEntry>>,
}

raw_with_http_client! {
    /// An `alertmanagers` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawAlertmanagerConfig {
        #[serde(default)]
        scheme: Option<String>,
        #[serde(default)]
        path_prefix: Option<String>,
        #[serde(default)]
        timeout: Option<Duration>,
        #[serde(default)]
        api_version: Option<String>,
        #[serde(default, deserialize_with = "list::static_configs")]
        static_configs: Vec<Spanned<StaticConfig>>,
        #[serde(default, deserialize_with = "list::file_sd_configs")]
        file_sd_configs: Vec<Spanned<FileSdConfig>>,
        #[serde(default, deserialize_with = "list::kubernetes_sd_configs")]
        kubernetes_sd_configs: Vec<Spanned<RawKubernetesSdConfig>>,
        #[serde(default, deserialize_with = "list::alertmanager_relabel_configs")]
        relabel_configs: Vec<Spanned<RelabelConfig>>,
        #[serde(default, deserialize_with = "list::alert_relabel_configs")]
        alert_relabel_configs: Vec<Spanned<RelabelConfig>>,
    }
}

/// Deserializes an `alertmanagers` entry, keeping the raw form private.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct AlertmanagerEntry(WithUnsupportedSds<RawAlertmanagerConfig>);

impl RawAlertingConfig {
    /// Applies Prometheus's checks; problems go to `problems`.
    pub(crate) fn resolve(self, dir: Option<&Path>, problems: &mut Vec<Problem>) -> AlertingConfig {
        let names = NameValidation::Utf8;
        let alert_relabel_configs = validate_relabel_configs(self.alert_relabel_configs, names, problems);
        let alertmanagers = self
            .alertmanagers
            .into_iter()
            .filter_map(|entry| {
                let at = position(&entry);
                entry.value.resolve(at, dir, problems)
            })
            .collect();
        AlertingConfig { alert_relabel_configs, alertmanagers }
    }
}

impl AlertmanagerEntry {
    fn resolve(
        self,
        at: Option<super::Position>,
        dir: Option<&Path>,
        problems: &mut Vec<Problem>,
    ) -> Option<AlertmanagerConfig> {
        let WithUnsupportedSds { value: mut raw, sds } = self.0;
        let before = problems.len();
        for sd in sds {
            sd.check(problems);
        }
        let mut http_client_config = match raw.take_http_client().resolve(Http2Default::Enabled) {
            Ok(http) => http,
            Err(message) => {
                problems.push(Problem::new(at, message));
                HttpClientConfig::default()
            }
        };
        let api_version = raw.api_version.take().filter(|v| !v.is_empty()).unwrap_or_else(|| "v2".to_owned());
        if api_version != "v2" {
            problems.push(Problem::new(
                at,
                format!("expected Alertmanager api version to be one of [v2] but got {api_version}"),
            ));
        }
        let names = NameValidation::Utf8;
        let relabel_configs = validate_relabel_configs(raw.relabel_configs, names, problems);
        let alert_relabel_configs = validate_relabel_configs(raw.alert_relabel_configs, names, problems);
        let static_configs = raw.static_configs.into_iter().map(|s| s.value).collect();
        let file_sd_configs = super::scrape::resolve_file_sd_configs(raw.file_sd_configs, dir, problems);
        let kubernetes_sd_configs =
            super::scrape::resolve_kubernetes_sd_configs(raw.kubernetes_sd_configs, dir, problems);
        if problems.len() > before {
            return None;
        }
        if let Some(dir) = dir {
            http_client_config.set_directory(dir);
        }
        Some(AlertmanagerConfig {
            http_client_config,
            scheme: raw.scheme.filter(|s| !s.is_empty()).unwrap_or_else(|| "http".to_owned()),
            path_prefix: raw.path_prefix.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned()),
            timeout: raw.timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(10)),
            api_version,
            static_configs,
            file_sd_configs,
            kubernetes_sd_configs,
            relabel_configs,
            alert_relabel_configs,
        })
    }
}
