//! LIST + WATCH of one resource in one namespace (or all), into a [`Store`]: a small,
//! hand-written reflector over reqwest (see ARCHITECTURE.md for why not kube-rs).
//!
//! The protocol, as client-go's reflector speaks it:
//! - LIST in pages (`limit`, `continue`), then WATCH from the list's `resourceVersion` with
//!   `allowWatchBookmarks=true` and a `timeoutSeconds` of 5-10 minutes (randomised so that many
//!   watches do not end together).
//! - The watch body is newline-delimited JSON; chunk boundaries are not event boundaries, so
//!   bytes are buffered until a newline. Every event's resourceVersion is remembered, BOOKMARKs
//!   included (a bookmark object is an empty object of the kind, maybe with nulls and the
//!   `k8s.io/initial-events-end` annotation); a normal end of stream re-watches from there.
//! - "Too old resource version" arrives as HTTP 200 plus one in-stream `ERROR` event whose
//!   `Status` has `code: 410` (`reason: Expired`, or `Gone` on older servers), or as an HTTP 410:
//!   either way we relist. The store keeps the old objects until the new list replaces them in
//!   one step, so targets never blink out during a relist.
//! - 429 and 5xx back off exponentially (0.8 s doubling to 30 s, ±20% jitter), at least as long
//!   as `Retry-After` asks; 401/403 keep the API server's `Status` message in the SD state and
//!   retry with the same backoff. `Warning` headers (Endpoints are deprecated since 1.33) are
//!   logged once per scrape manager (its `SdRegistry`) and kept in the SD state.
//!
//! Invariant: the store only ever holds objects from a complete list plus the events after it.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RETRY_AFTER, WARNING};
use tokio::sync::mpsc;

use super::client::ApiClient;
use super::objects::{KubeObject, List, Status, WatchEvent};
use super::state::SdState;
use crate::config::Role;
use crate::http_client::error_chain;

/// Timing knobs of the watch; [`WatchOptions::default`] is what production uses.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchOptions {
    /// First delay after a failure.
    pub initial_backoff: Duration,
    /// Longest delay between retries.
    pub max_backoff: Duration,
    /// A watch asks the server to end it after between this and twice this.
    pub min_watch_timeout: Duration,
    /// Items per LIST page.
    pub page_size: u32,
    /// How long to gather further events before rebuilding target groups.
    pub debounce: Duration,
    /// The shortest time between two rebuilds of the target groups, which bounds their CPU cost
    /// under constant churn (Prometheus's discovery manager throttles updates to one per 5 s).
    pub min_rebuild_interval: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            initial_backoff: Duration::from_millis(800),
            max_backoff: Duration::from_secs(30),
            min_watch_timeout: Duration::from_secs(300),
            page_size: 500,
            debounce: Duration::from_millis(100),
            min_rebuild_interval: Duration::from_secs(1),
        }
    }
}

/// The kinds of object discovery watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Node,
    Ingress,
    Namespace,
    ReplicaSet,
    Job,
}

impl Kind {
    /// The resource name in URLs and in the SD state.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Service => "services",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslices",
            Kind::Node => "nodes",
            Kind::Ingress => "ingresses",
            Kind::Namespace => "namespaces",
            Kind::ReplicaSet => "replicasets",
            Kind::Job => "jobs",
        }
    }

    /// The role whose `selectors` entry applies to this kind; namespaces, ReplicaSets and Jobs
    /// have none (upstream lists them unfiltered).
    pub fn selector_role(self) -> Option<Role> {
        match self {
            Kind::Pod => Some(Role::Pod),
            Kind::Service => Some(Role::Service),
            Kind::Endpoints => Some(Role::Endpoints),
            Kind::EndpointSlice => Some(Role::EndpointSlice),
            Kind::Node => Some(Role::Node),
            Kind::Ingress => Some(Role::Ingress),
            Kind::Namespace | Kind::ReplicaSet | Kind::Job => None,
        }
    }

    /// The `role` label of the self-metrics: Prometheus's role names, and `namespace`,
    /// `replicaset` and `job` for the metadata-only kinds (upstream counts no events for them).
    pub fn metric_role(self) -> &'static str {
        match self {
            Kind::Namespace => "namespace",
            Kind::ReplicaSet => "replicaset",
            Kind::Job => "job",
            _ => self.selector_role().map_or("", Role::as_str),
        }
    }

    fn api_prefix(self) -> &'static str {
        match self {
            Kind::EndpointSlice => "apis/discovery.k8s.io/v1/",
            Kind::Ingress => "apis/networking.k8s.io/v1/",
            Kind::ReplicaSet => "apis/apps/v1/",
            Kind::Job => "apis/batch/v1/",
            _ => "api/v1/",
        }
    }

    /// The collection path, relative to the server's base URL.
    fn path(self, namespace: &str) -> String {
        if namespace.is_empty() || matches!(self, Kind::Node | Kind::Namespace) {
            format!("{}{}", self.api_prefix(), self.resource())
        } else {
            format!("{}namespaces/{namespace}/{}", self.api_prefix(), self.resource())
        }
    }
}

/// Objects of one kind, keyed by (namespace, name).
pub(crate) struct Store<T> {
    objects: RwLock<BTreeMap<(String, String), Arc<T>>>,
}

impl<T: KubeObject> Default for Store<T> {
    fn default() -> Self {
        Store { objects: RwLock::new(BTreeMap::new()) }
    }
}

fn key_of<T: KubeObject>(object: &T) -> (String, String) {
    let meta = object.metadata();
    (meta.namespace.clone(), meta.name.clone())
}

impl<T: KubeObject> Store<T> {
    /// The object `namespace/name`, if held.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        self.objects.read().expect("store lock").get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Every object, ordered by namespace and name.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.objects.read().expect("store lock").values().cloned().collect()
    }

    /// Adds or replaces one object.
    pub fn insert(&self, item: T) {
        self.objects.write().expect("store lock").insert(key_of(&item), Arc::new(item));
    }

    fn count(&self, namespace: &str) -> usize {
        let objects = self.objects.read().expect("store lock");
        if namespace.is_empty() { objects.len() } else { objects.keys().filter(|(ns, _)| ns == namespace).count() }
    }

    /// Replaces what `namespace` (all when empty) holds by `items`; returns (added, updated, deleted).
    fn replace(&self, namespace: &str, items: Vec<T>) -> (usize, usize, usize) {
        let mut objects = self.objects.write().expect("store lock");
        let mut old: BTreeMap<(String, String), Arc<T>> = if namespace.is_empty() {
            std::mem::take(&mut *objects)
        } else {
            let keys: Vec<_> = objects.keys().filter(|(ns, _)| ns == namespace).cloned().collect();
            keys.into_iter().filter_map(|k| objects.remove_entry(&k)).collect()
        };
        let (mut added, mut updated) = (0, 0);
        for item in items {
            let key = key_of(&item);
            match old.remove(&key) {
                Some(previous) if previous.metadata().resource_version == item.metadata().resource_version => {}
                Some(_) => updated += 1,
                None => added += 1,
            }
            objects.insert(key, Arc::new(item));
        }
        (added, updated, old.len())
    }
}

/// What a reflector tells its discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Reflector `id` applied a complete list.
    Synced(usize),
    /// Objects changed.
    Changed,
}

/// A failed list or watch, with what the API server said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The resource version is too old (410): relist.
    #[error("{verb} {path}: resource version expired ({message})")]
    Expired {
        /// `list` or `watch`.
        verb: &'static str,
        /// The request path and query.
        path: String,
        /// The Status message.
        message: String,
    },
    /// The API server refused the request.
    #[error("{verb} {path}: HTTP {code} {reason}: {message}")]
    Status {
        /// `list` or `watch`.
        verb: &'static str,
        /// The request path and query.
        path: String,
        /// HTTP or in-stream Status code.
        code: u16,
        /// The Status reason (`Forbidden`, `Unauthorized`, ...).
        reason: String,
        /// The Status message: for a 403, which verb, resource and namespace were refused.
        message: String,
        /// What `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// Connecting, sending or reading failed.
    #[error("{verb} {path}: {reason}")]
    Transport {
        /// `list` or `watch`.
        verb: &'static str,
        /// The request path and query.
        path: String,
        /// Why, with the error's causes.
        reason: String,
    },
    /// The body is not what the API promises.
    #[error("{verb} {path}: cannot decode response: {reason}")]
    Decode {
        /// `list` or `watch`.
        verb: &'static str,
        /// The request path and query.
        path: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// Credentials could not be read (a token file, ...).
    #[error("{0}")]
    Credentials(String),
}

impl WatchError {
    /// The `reason` label of `promlite_sd_kubernetes_watch_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            WatchError::Expired { .. } => "expired",
            WatchError::Status { code: 401, .. } => "unauthorized",
            WatchError::Status { code: 403, .. } => "forbidden",
            WatchError::Status { code: 429, .. } => "throttled",
            WatchError::Status { code: 500.., .. } => "server_error",
            WatchError::Status { .. } => "client_error",
            WatchError::Transport { .. } => "transport",
            WatchError::Decode { .. } => "decode",
            WatchError::Credentials(_) => "credentials",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            WatchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Exponential backoff with jitter.
struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    fn new(options: &WatchOptions) -> Backoff {
        Backoff { next: options.initial_backoff, initial: options.initial_backoff, max: options.max_backoff }
    }

    fn delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        // ±20% so that many watches failing together do not retry together.
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let factor = 0.8 + 0.4 * (random % 1000) as f64 / 1000.0;
        base.mul_f64(factor).max(retry_after.unwrap_or_default())
    }

    fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// One resource in one namespace, listed and watched into a store.
pub(crate) struct Reflector<T> {
    pub id: usize,
    pub client: ApiClient,
    pub kind: Kind,
    /// Empty for all namespaces.
    pub namespace: String,
    pub label_selector: String,
    pub field_selector: String,
    pub store: Arc<Store<T>>,
    pub state: Arc<SdState>,
    pub notify: mpsc::UnboundedSender<Notice>,
    pub options: WatchOptions,
}

impl<T: KubeObject> Reflector<T> {
    /// Lists and watches until the task is aborted.
    pub async fn run(self) {
        let mut backoff = Backoff::new(&self.options);
        let mut was_empty = false;
        loop {
            let mut resource_version = match self.list(&mut was_empty).await {
                Ok(rv) => {
                    backoff.reset();
                    rv
                }
                Err(err) => {
                    self.failed(&err);
                    tokio::time::sleep(backoff.delay(err.retry_after())).await;
                    continue;
                }
            };
            loop {
                let started = Instant::now();
                match self.watch(&mut resource_version).await {
                    Ok(events) => {
                        // A server that ends watches at once must not make us spin.
                        if events == 0 && started.elapsed() < Duration::from_secs(1) {
                            tokio::time::sleep(backoff.delay(None)).await;
                        } else {
                            backoff.reset();
                        }
                    }
                    Err(err @ WatchError::Expired { .. }) => {
                        self.state.registry().count_watch_error(self.kind.metric_role(), err.reason());
                        tracing::info!(resource = self.kind.resource(), namespace = %self.namespace, error = %err, "kubernetes watch expired, relisting");
                        break;
                    }
                    Err(err) => {
                        self.failed(&err);
                        tokio::time::sleep(backoff.delay(err.retry_after())).await;
                        // After a 401/403 or a decode error we cannot know what we missed.
                        if !matches!(err, WatchError::Transport { .. }) {
                            break;
                        }
                    }
                }
            }
        }
    }

    fn failed(&self, err: &WatchError) {
        self.state.registry().count_watch_error(self.kind.metric_role(), err.reason());
        tracing::warn!(resource = self.kind.resource(), namespace = %self.namespace, error = %err, "kubernetes list/watch failed");
        self.state.error(self.kind.resource(), &self.namespace, err.to_string());
    }

    fn url(&self, params: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.client.base.join(&self.kind.path(&self.namespace)).expect("a relative path joins");
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params {
                query.append_pair(key, value);
            }
            if !self.label_selector.is_empty() {
                query.append_pair("labelSelector", &self.label_selector);
            }
            if !self.field_selector.is_empty() {
                query.append_pair("fieldSelector", &self.field_selector);
            }
        }
        url
    }

    async fn send(&self, url: reqwest::Url, verb: &'static str) -> Result<reqwest::Response, WatchError> {
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut request = self
            .client
            .http
            .get(url)
            .map_err(|err| WatchError::Credentials(err.to_string()))?
            .header(ACCEPT, "application/json");
        if verb == "list" {
            request = request.timeout(Duration::from_secs(60));
        }
        // Bounds connecting and the response head, which a watch's own timeout does not cover.
        let response = match tokio::time::timeout(Duration::from_secs(60), request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                return Err(WatchError::Transport { verb, path, reason: error_chain(&err) });
            }
            Err(_) => {
                return Err(WatchError::Transport { verb, path, reason: "no response head within 60s".to_owned() });
            }
        };
        for warning in response.headers().get_all(WARNING) {
            self.warning(&String::from_utf8_lossy(warning.as_bytes()));
        }
        let code = response.status();
        if code.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        let status: Status = serde_json::from_slice(&body).unwrap_or_else(|_| Status {
            message: String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_owned(),
            ..Status::default()
        });
        if code == StatusCode::GONE {
            return Err(WatchError::Expired { verb, path, message: status.message });
        }
        let reason = if status.reason.is_empty() {
            code.canonical_reason().unwrap_or_default().to_owned()
        } else {
            status.reason
        };
        Err(WatchError::Status { verb, path, code: code.as_u16(), reason, message: status.message, retry_after })
    }

    fn warning(&self, header: &str) {
        // `299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"`
        let text = header.split_once('"').map(|(_, rest)| rest.trim_end_matches('"')).unwrap_or(header).to_owned();
        self.state.warning(self.kind.resource(), &self.namespace, &text);
        if self.state.registry().first_warning(&text) {
            let hint = if self.kind == Kind::Endpoints { "; consider `role: endpointslice`" } else { "" };
            tracing::warn!(resource = self.kind.resource(), warning = %text, "kubernetes API server warning{hint}");
        }
    }

    /// Lists every page, then replaces the store's objects in one step; returns the list's version.
    async fn list(&self, was_empty: &mut bool) -> Result<String, WatchError> {
        let mut items: Vec<T> = Vec::new();
        let mut continue_token = String::new();
        let page_size = self.options.page_size.to_string();
        let resource_version = loop {
            let mut params = vec![("limit", page_size.as_str())];
            if !continue_token.is_empty() {
                params.push(("continue", continue_token.as_str()));
            }
            let url = self.url(&params);
            let path = url.path().to_owned();
            let response = self.send(url, "list").await?;
            let body = response.bytes().await.map_err(|err| WatchError::Transport {
                verb: "list",
                path: path.clone(),
                reason: error_chain(&err),
            })?;
            let page: List<T> = serde_json::from_slice(&body).map_err(|err| WatchError::Decode {
                verb: "list",
                path,
                reason: err.to_string(),
            })?;
            items.extend(page.items);
            if page.metadata.continue_token.is_empty() {
                break page.metadata.resource_version;
            }
            continue_token = page.metadata.continue_token;
        };
        let count = items.len();
        let (added, updated, deleted) = self.store.replace(&self.namespace, items);
        let role = self.kind.metric_role();
        for (n, event) in [(added, "add"), (updated, "update"), (deleted, "delete")] {
            for _ in 0..n {
                self.state.registry().count_event(role, event);
            }
        }
        self.state.listed(self.kind.resource(), &self.namespace, count);
        if count == 0 && !*was_empty {
            let namespace = if self.namespace.is_empty() { "any namespace" } else { self.namespace.as_str() };
            tracing::info!(
                resource = self.kind.resource(),
                namespace,
                label_selector = %self.label_selector,
                field_selector = %self.field_selector,
                "kubernetes discovery: no {} in {namespace} match the selectors; this role finds no targets there",
                self.kind.resource(),
            );
        }
        *was_empty = count == 0;
        let _ = self.notify.send(Notice::Synced(self.id));
        Ok(resource_version)
    }

    /// Watches from `resource_version`, applying events as they arrive; returns the number of
    /// events (bookmarks included) when the server ends the stream normally.
    async fn watch(&self, resource_version: &mut String) -> Result<usize, WatchError> {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let timeout = self.options.min_watch_timeout.mul_f64(1.0 + (random % 1000) as f64 / 1000.0);
        let timeout_seconds = timeout.as_secs().max(1).to_string();
        let url = self.url(&[
            ("watch", "1"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version.as_str()),
            ("timeoutSeconds", timeout_seconds.as_str()),
        ]);
        let path = url.path().to_owned();
        let mut response = self.send(url, "watch").await?;
        let mut buffer: Vec<u8> = Vec::new();
        let mut events = 0;
        // The server ends the stream after timeoutSeconds; a silent connection past that is dead.
        let stall = timeout + Duration::from_secs(30);
        loop {
            let chunk = match tokio::time::timeout(stall, response.chunk()).await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(err)) => {
                    return Err(WatchError::Transport { verb: "watch", path, reason: error_chain(&err) });
                }
                Err(_) => {
                    return Err(WatchError::Transport {
                        verb: "watch",
                        path,
                        reason: "no data past the watch timeout".into(),
                    });
                }
            };
            let end = chunk.is_none();
            match chunk {
                Some(bytes) => buffer.extend_from_slice(&bytes),
                // A last event without its newline still counts.
                None => buffer.push(b'\n'),
            }
            let mut changed = false;
            let mut consumed = 0;
            let mut result = Ok(());
            while let Some(newline) = memchr::memchr(b'\n', &buffer[consumed..]) {
                let line = &buffer[consumed..consumed + newline];
                consumed += newline + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                events += 1;
                if let Err(err) = self.apply(line, &path, resource_version, &mut changed) {
                    result = Err(err);
                    break;
                }
            }
            buffer.drain(..consumed);
            if changed {
                self.state.event(self.kind.resource(), &self.namespace, self.store.count(&self.namespace));
                let _ = self.notify.send(Notice::Changed);
            }
            result?;
            if end {
                return Ok(events);
            }
        }
    }

    fn apply(
        &self,
        line: &[u8],
        path: &str,
        resource_version: &mut String,
        changed: &mut bool,
    ) -> Result<(), WatchError> {
        let decode = |reason: String| WatchError::Decode { verb: "watch", path: path.to_owned(), reason };
        let event: WatchEvent = serde_json::from_slice(line).map_err(|err| decode(err.to_string()))?;
        let role = self.kind.metric_role();
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let object: T = serde_json::from_value(event.object).map_err(|err| decode(err.to_string()))?;
                *resource_version = object.metadata().resource_version.clone();
                let key = key_of(&object);
                let mut objects = self.store.objects.write().expect("store lock");
                if event.kind == "DELETED" {
                    objects.remove(&key);
                    self.state.registry().count_event(role, "delete");
                } else if objects.insert(key, Arc::new(object)).is_some() {
                    self.state.registry().count_event(role, "update");
                } else {
                    self.state.registry().count_event(role, "add");
                }
                *changed = true;
            }
            "BOOKMARK" => {
                if let Some(rv) = event.object.pointer("/metadata/resourceVersion").and_then(|v| v.as_str()) {
                    *resource_version = rv.to_owned();
                }
                self.state.event(self.kind.resource(), &self.namespace, self.store.count(&self.namespace));
            }
            "ERROR" => {
                let status: Status = serde_json::from_value(event.object).map_err(|err| decode(err.to_string()))?;
                if status.code == 410 {
                    return Err(WatchError::Expired { verb: "watch", path: path.to_owned(), message: status.message });
                }
                return Err(WatchError::Status {
                    verb: "watch",
                    path: path.to_owned(),
                    code: status.code,
                    reason: status.reason,
                    message: status.message,
                    retry_after: None,
                });
            }
            other => return Err(decode(format!("unknown watch event type {other:?}"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_honours_retry_after() {
        let options = WatchOptions::default();
        let mut backoff = Backoff::new(&options);
        let mut bases = Vec::new();
        for _ in 0..8 {
            let delay = backoff.delay(None);
            bases.push(delay);
        }
        // 0.8 s, 1.6 s, 3.2 s, ... capped at 30 s, each within ±20%.
        let expected = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0];
        for (delay, base) in bases.iter().zip(expected) {
            let secs = delay.as_secs_f64();
            assert!(secs >= base * 0.8 - 1e-9 && secs <= base * 1.2 + 1e-9, "{secs} vs {base}");
        }
        assert!(backoff.delay(Some(Duration::from_secs(120))) >= Duration::from_secs(120));
        backoff.reset();
        assert!(backoff.delay(None) <= Duration::from_millis(960));
    }

    #[test]
    fn error_reasons_and_paths() {
        let status = |code| WatchError::Status {
            verb: "list",
            path: "/api/v1/pods".into(),
            code,
            reason: "Forbidden".into(),
            message: "pods is forbidden".into(),
            retry_after: None,
        };
        let reasons: Vec<_> = [401, 403, 429, 500, 503, 404].map(|c| status(c).reason()).into();
        assert_eq!(reasons, ["unauthorized", "forbidden", "throttled", "server_error", "server_error", "client_error"]);
        assert_eq!(status(403).to_string(), "list /api/v1/pods: HTTP 403 Forbidden: pods is forbidden");
        assert_eq!(Kind::Pod.path("default"), "api/v1/namespaces/default/pods");
        assert_eq!(Kind::Node.path("default"), "api/v1/nodes");
        assert_eq!(Kind::EndpointSlice.path(""), "apis/discovery.k8s.io/v1/endpointslices");
        assert_eq!(Kind::Ingress.path("web"), "apis/networking.k8s.io/v1/namespaces/web/ingresses");
        assert_eq!(Kind::Namespace.metric_role(), "namespace");
        assert_eq!(Kind::ReplicaSet.path("web"), "apis/apps/v1/namespaces/web/replicasets");
        assert_eq!(Kind::Job.path(""), "apis/batch/v1/jobs");
    }
}
