//! Kubernetes discovery state for people: "why is my pool 0/0".
//!
//! Each `kubernetes_sd_configs` entry of a running job owns one [`SdState`], registered in its
//! scrape manager's [`SdRegistry`], which [`SdRegistry::status`] snapshots (for
//! `/api/v1/targets`, the UI and the diagnostics). It records, per watched resource and
//! namespace, whether its list has synced, how many objects it holds, when it last listed or saw
//! an event, and the last error with the API server's `Status` message (a 403 names the verb,
//! resource and namespace refused). Self-metrics (`prometheus_sd_kubernetes_events_total`,
//! `promlite_sd_kubernetes_watch_errors_total`) are the registry's counters, written by
//! [`SdRegistry::collect`]; `prometheus_sd_discovered_targets` is written per job by the
//! scrape manager, over every discovery mechanism.
//! Invariant: an entry disappears from [`SdRegistry::status`] once its discovery ends (the
//! registry holds weak references), so a reloaded-away job never shows stale state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use crate::config::Role;

/// The state of one watched resource in one namespace (all namespaces when `namespace` is empty).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InformerStatus {
    /// `endpoints`, `endpointslices`, `pods`, `services` or `nodes`.
    pub resource: String,
    /// The namespace, or empty for all namespaces / cluster-scoped resources.
    pub namespace: String,
    /// The label selector sent with the list and watch, if any.
    pub label_selector: String,
    /// The field selector sent with the list and watch, if any.
    pub field_selector: String,
    /// Whether a full list has been applied at least once.
    pub synced: bool,
    /// Objects currently held.
    pub objects: usize,
    /// When the last list completed.
    pub last_list: Option<SystemTime>,
    /// When the last watch event (bookmarks included) arrived.
    pub last_event: Option<SystemTime>,
    /// The last error, with the API server's message; cleared by the next successful list or event.
    pub last_error: Option<String>,
    /// When `last_error` happened.
    pub last_error_at: Option<SystemTime>,
    /// `Warning` headers the API server sent (deprecations), each kept once.
    pub warnings: Vec<String>,
}

/// A snapshot of one `kubernetes_sd_configs` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SdStatus {
    /// The job (scrape pool) it feeds.
    pub job: String,
    /// Its index in the job's `kubernetes_sd_configs`.
    pub index: usize,
    /// The role.
    pub role: Role,
    /// The API server URL in use, once resolved, its password redacted.
    pub api_server: String,
    /// True once every resource of the role has synced and target groups were published.
    pub synced: bool,
    /// An error that stops this discovery entirely (bad kubeconfig, unreadable CA, ...).
    pub config_error: Option<String>,
    /// Per resource and namespace.
    pub informers: Vec<InformerStatus>,
    /// Target groups last published.
    pub groups: usize,
    /// Targets last published.
    pub targets: usize,
}

/// The live state of one discovery; cheap to update from the watch tasks.
#[derive(Debug)]
pub struct SdState {
    inner: Mutex<SdStatus>,
    registry: Arc<SdRegistry>,
}

/// The Kubernetes discoveries of one scrape manager: their live states (the targets page's
/// notes on empty pools) and the counters behind the SD self-metrics. The manager owns it and
/// hands it to each discovery it starts, so two servers in one process share nothing.
#[derive(Debug, Default)]
pub struct SdRegistry {
    states: Mutex<Vec<Weak<SdState>>>,
    counters: Mutex<Counters>,
    /// API server warning texts already logged.
    logged_warnings: Mutex<BTreeSet<String>>,
}

#[derive(Debug, Default)]
struct Counters {
    events: BTreeMap<(String, &'static str), u64>,
    watch_errors: BTreeMap<(String, &'static str), u64>,
}

impl SdRegistry {
    /// Registers the state of `job`'s `index`-th Kubernetes discovery; it is listed while the
    /// returned state lives.
    pub fn register(self: &Arc<Self>, job: &str, index: usize, role: Role) -> Arc<SdState> {
        let state = Arc::new(SdState {
            registry: Arc::clone(self),
            inner: Mutex::new(SdStatus {
                job: job.to_owned(),
                index,
                role,
                api_server: String::new(),
                synced: false,
                config_error: None,
                informers: Vec::new(),
                groups: 0,
                targets: 0,
            }),
        });
        let mut states = self.states.lock().expect("sd registry lock");
        states.retain(|weak| weak.strong_count() > 0);
        states.push(Arc::downgrade(&state));
        state
    }

    /// Snapshots of every running Kubernetes discovery, ordered by job and index.
    pub fn status(&self) -> Vec<SdStatus> {
        let states = self.states.lock().expect("sd registry lock");
        let mut out: Vec<SdStatus> = states.iter().filter_map(Weak::upgrade).map(|state| state.snapshot()).collect();
        out.sort_by(|a, b| (&a.job, a.index).cmp(&(&b.job, b.index)));
        out
    }

    /// Counts a watch event for `prometheus_sd_kubernetes_events_total{role,event}`; `role` is
    /// the resource's kind in Prometheus's words (`endpoints`, `endpointslice`, `pod`,
    /// `service`, `node`), `event` one of `add`, `update`, `delete`.
    pub(crate) fn count_event(&self, role: &str, event: &'static str) {
        let mut counters = self.counters.lock().expect("sd counters lock");
        *counters.events.entry((role.to_owned(), event)).or_default() += 1;
    }

    /// Counts a failed list or watch for `promlite_sd_kubernetes_watch_errors_total{role,reason}`.
    pub(crate) fn count_watch_error(&self, role: &str, reason: &'static str) {
        let mut counters = self.counters.lock().expect("sd counters lock");
        *counters.watch_errors.entry((role.to_owned(), reason)).or_default() += 1;
    }

    /// True the first time `text` is seen: an API server warning is logged once per server.
    pub(crate) fn first_warning(&self, text: &str) -> bool {
        self.logged_warnings.lock().expect("warnings lock").insert(text.to_owned())
    }

    /// Writes the Kubernetes discovery self-metrics.
    pub fn collect(&self, enc: &mut promlite_metrics::Encoder) {
        use promlite_metrics::MetricType::Counter;
        let counters = self.counters.lock().expect("sd counters lock");
        let help = "The number of Kubernetes events handled.";
        let mut family = enc.family("prometheus_sd_kubernetes_events_total", help, Counter);
        for ((role, event), value) in &counters.events {
            family.sample(&[("event", event), ("role", role)], *value);
        }
        let help = "The number of failed WATCH/LIST requests.";
        let failures: u64 = counters.watch_errors.values().sum();
        enc.single("prometheus_sd_kubernetes_failures_total", help, Counter, failures);
        let help = "Failed Kubernetes list and watch requests, by reason.";
        let mut family = enc.family("promlite_sd_kubernetes_watch_errors_total", help, Counter);
        for ((role, reason), value) in &counters.watch_errors {
            family.sample(&[("reason", reason), ("role", role)], *value);
        }
    }
}

impl SdState {
    /// The registry this discovery is listed in.
    pub fn registry(&self) -> &SdRegistry {
        &self.registry
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> SdStatus {
        self.inner.lock().expect("sd state lock").clone()
    }

    fn with<R>(&self, f: impl FnOnce(&mut SdStatus) -> R) -> R {
        f(&mut self.inner.lock().expect("sd state lock"))
    }

    /// Records the API server's URL as the targets page shows it: its password redacted.
    pub(crate) fn set_api_server(&self, url: &str) {
        self.with(|s| s.api_server = promlite_web::redact_url(url).into_owned());
    }

    pub(crate) fn set_config_error(&self, error: String) {
        self.with(|s| s.config_error = Some(error));
    }

    pub(crate) fn add_informer(&self, resource: &str, namespace: &str, label_selector: &str, field_selector: &str) {
        self.with(|s| {
            s.informers.push(InformerStatus {
                resource: resource.to_owned(),
                namespace: namespace.to_owned(),
                label_selector: label_selector.to_owned(),
                field_selector: field_selector.to_owned(),
                ..InformerStatus::default()
            })
        });
    }

    fn informer<R>(&self, resource: &str, namespace: &str, f: impl FnOnce(&mut InformerStatus) -> R) -> Option<R> {
        self.with(|s| s.informers.iter_mut().find(|i| i.resource == resource && i.namespace == namespace).map(f))
    }

    pub(crate) fn listed(&self, resource: &str, namespace: &str, objects: usize) {
        self.informer(resource, namespace, |i| {
            i.synced = true;
            i.objects = objects;
            i.last_list = Some(SystemTime::now());
            i.last_error = None;
        });
    }

    pub(crate) fn event(&self, resource: &str, namespace: &str, objects: usize) {
        self.informer(resource, namespace, |i| {
            i.objects = objects;
            i.last_event = Some(SystemTime::now());
            i.last_error = None;
        });
    }

    pub(crate) fn error(&self, resource: &str, namespace: &str, error: String) {
        self.informer(resource, namespace, |i| {
            i.last_error = Some(error);
            i.last_error_at = Some(SystemTime::now());
        });
    }

    /// Records a `Warning` header; returns true the first time this informer sees it.
    pub(crate) fn warning(&self, resource: &str, namespace: &str, warning: &str) -> bool {
        self.informer(resource, namespace, |i| {
            if i.warnings.iter().any(|w| w == warning) {
                return false;
            }
            i.warnings.push(warning.to_owned());
            true
        })
        .unwrap_or(false)
    }

    pub(crate) fn published(&self, groups: usize, targets: usize) {
        self.with(|s| {
            s.synced = true;
            s.groups = groups;
            s.targets = targets;
        });
    }
}
