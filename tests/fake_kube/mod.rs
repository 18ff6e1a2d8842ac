//! A fake Kubernetes API server on loopback, faithful to the wire behaviour discovery relies on.
//!
//! It serves core/v1 pods, services, endpoints, nodes, namespaces, discovery.k8s.io/v1
//! endpointslices, networking.k8s.io/v1 ingresses, apps/v1 replicasets and deployments, and
//! batch/v1 jobs and cronjobs (discovery watches ReplicaSets and Jobs for `attach_metadata`;
//! Deployments and CronJobs are served so that a test can change them and see nothing move):
//! - LIST with `limit`/`continue` pages, items without `kind`, the collection `resourceVersion`;
//! - WATCH (`watch=1`) as chunked newline-delimited JSON from a `resourceVersion`: ADDED,
//!   MODIFIED, DELETED, BOOKMARK (only with `allowWatchBookmarks=true`; an empty object of the
//!   kind with `creationTimestamp: null` and the `k8s.io/initial-events-end` annotation), ending
//!   after `timeoutSeconds`; events can be split across chunks and coalesced ([`FakeKube::set_chunk_size`]);
//! - expiry ([`FakeKube::expire`]): open watches get one in-stream `ERROR` event with a 410
//!   `Expired` Status (or are closed, for [`Expiry::Http`]), and watches from an older version
//!   get that ERROR after an HTTP 200, or an HTTP 410;
//! - label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`) and field
//!   selectors (`metadata.name=x`, any dotted path, `=`/`==`/`!=`);
//! - bearer-token auth with 401 Status bodies, per-resource 403s whose message names the verb,
//!   resource and namespace like RBAC's, injected 429/5xx with `Retry-After`, and the `Warning: 299`
//!   deprecation header on Endpoints responses (Kubernetes ≥ 1.33).
//!
//! Every request is logged (path, query, `Authorization`) for the tests to inspect.
//! [`FakeKube::start_tls`] serves HTTPS with a certificate from a CA generated per server.

pub mod fixtures;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How [`FakeKube::expire`] tells clients their version is too old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// HTTP 200, then one `ERROR` event with a 410 Status (what real servers do).
    InStream,
    /// An HTTP 410 with a Status body (older servers, and lists with stale continue tokens).
    Http,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The path without the query.
    pub path: String,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl Request {
    /// Whether this was a watch.
    pub fn is_watch(&self) -> bool {
        self.query.get("watch").is_some_and(|w| w == "1" || w == "true")
    }
}

struct Entry {
    rv: u64,
    /// `None` for a bookmark, which goes to every watch.
    resource: Option<String>,
    kind: &'static str,
    object: Value,
}

struct Fault {
    resource: String,
    code: u16,
    retry_after: Option<u64>,
}

struct State {
    rv: u64,
    objects: BTreeMap<(String, String, String), Value>,
    log: Vec<Entry>,
    compacted: u64,
    expiry: Expiry,
    /// Bumped to end every open watch normally.
    close_epoch: u64,
    /// Bumped to expire every open watch.
    expire_epoch: u64,
    tokens: Option<Vec<String>>,
    forbidden: BTreeSet<String>,
    faults: VecDeque<Fault>,
    chunk_size: usize,
    endpoints_warning: bool,
    requests: Vec<Request>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// The fake API server; runs until the test process ends.
pub struct FakeKube {
    /// Where it listens.
    pub addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
}

/// (resource, API group, list kind, kind, apiVersion) for every kind the fake serves.
const KINDS: [(&str, &str, &str, &str, &str); 11] = [
    ("pods", "", "PodList", "Pod", "v1"),
    ("services", "", "ServiceList", "Service", "v1"),
    ("endpoints", "", "EndpointsList", "Endpoints", "v1"),
    ("nodes", "", "NodeList", "Node", "v1"),
    ("namespaces", "", "NamespaceList", "Namespace", "v1"),
    ("endpointslices", "discovery.k8s.io", "EndpointSliceList", "EndpointSlice", "discovery.k8s.io/v1"),
    ("ingresses", "networking.k8s.io", "IngressList", "Ingress", "networking.k8s.io/v1"),
    ("replicasets", "apps", "ReplicaSetList", "ReplicaSet", "apps/v1"),
    ("deployments", "apps", "DeploymentList", "Deployment", "apps/v1"),
    ("jobs", "batch", "JobList", "Job", "batch/v1"),
    ("cronjobs", "batch", "CronJobList", "CronJob", "batch/v1"),
];

fn resource_of_kind(kind: &str) -> &'static str {
    KINDS.iter().find(|k| k.3 == kind).unwrap_or_else(|| panic!("the fake does not serve kind {kind}")).0
}

fn kind_info(resource: &str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    KINDS.iter().find(|k| k.0 == resource).map(|k| (k.1, k.2, k.3, k.4))
}

fn status_body(code: u16, reason: &str, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
    .to_string()
}

impl FakeKube {
    /// Starts an empty fake API server speaking plain HTTP on an ephemeral port.
    pub fn start() -> FakeKube {
        FakeKube::start_with(None)
    }

    /// Starts an empty fake API server speaking HTTPS with a certificate for `127.0.0.1` issued by
    /// a fresh CA; returns it with the CA's PEM.
    pub fn start_tls() -> (FakeKube, String) {
        let certificates = crate::util::test_certificates(&["127.0.0.1", "localhost"]);
        (FakeKube::start_with(Some(certificates.server_config)), certificates.ca_pem)
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> FakeKube {
        let tls_enabled = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rv: 100,
                objects: BTreeMap::new(),
                log: Vec::new(),
                compacted: 0,
                expiry: Expiry::InStream,
                close_epoch: 0,
                expire_epoch: 0,
                tokens: None,
                forbidden: BTreeSet::new(),
                faults: VecDeque::new(),
                chunk_size: 0,
                endpoints_warning: true,
                requests: Vec::new(),
            }),
            changed: Condvar::new(),
        });
        let server = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&server);
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(stream, &shared),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                        serve(rustls::StreamOwned::new(connection, stream), &shared)
                    }
                });
            }
        });
        FakeKube { addr, scheme: if tls_enabled { "https" } else { "http" }, shared }
    }

    /// The base URL to put in `api_server`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.shared.state.lock().unwrap());
        self.shared.changed.notify_all();
        r
    }

    /// Creates or replaces an object (its `kind` says which resource); returns its new version.
    pub fn apply(&self, mut object: Value) -> u64 {
        self.with(|s| {
            let resource = resource_of_kind(object["kind"].as_str().expect("fixtures carry a kind"));
            s.rv += 1;
            object["metadata"]["resourceVersion"] = json!(s.rv.to_string());
            let ns = object["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
            let name = object["metadata"]["name"].as_str().expect("fixtures carry a name").to_owned();
            let key = (resource.to_owned(), ns, name);
            let kind = if s.objects.contains_key(&key) { "MODIFIED" } else { "ADDED" };
            s.objects.insert(key, object.clone());
            let rv = s.rv;
            s.log.push(Entry { rv, resource: Some(resource.to_owned()), kind, object });
            rv
        })
    }

    /// Deletes an object; returns whether it existed.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.with(|s| {
            let resource = resource_of_kind(kind);
            let Some(mut object) = s.objects.remove(&(resource.to_owned(), namespace.to_owned(), name.to_owned()))
            else {
                return false;
            };
            s.rv += 1;
            object["metadata"]["resourceVersion"] = json!(s.rv.to_string());
            let rv = s.rv;
            s.log.push(Entry { rv, resource: Some(resource.to_owned()), kind: "DELETED", object });
            true
        })
    }

    /// Sends a BOOKMARK at a new resource version to every watch that asked for bookmarks.
    pub fn bookmark(&self) -> u64 {
        self.with(|s| {
            s.rv += 1;
            let rv = s.rv;
            s.log.push(Entry { rv, resource: None, kind: "BOOKMARK", object: Value::Null });
            rv
        })
    }

    /// Compacts history: every version up to now becomes too old. Open watches get a 410 the way
    /// `mode` says, and so does any watch from an older version.
    pub fn expire(&self, mode: Expiry) {
        self.with(|s| {
            // Advance the version so the newest a client can know is also too old.
            s.rv += 1;
            s.compacted = s.rv;
            s.expiry = mode;
            match mode {
                Expiry::InStream => s.expire_epoch += 1,
                Expiry::Http => s.close_epoch += 1,
            }
        });
    }

    /// Ends every open watch normally, as a server does after `timeoutSeconds`.
    pub fn close_watches(&self) {
        self.with(|s| s.close_epoch += 1);
    }

    /// Requires one of `tokens` as a bearer token (`None`: no auth).
    pub fn set_tokens(&self, tokens: Option<Vec<&str>>) {
        self.with(|s| s.tokens = tokens.map(|t| t.into_iter().map(str::to_owned).collect()));
    }

    /// Makes `resource` answer 403 (or serves it again).
    pub fn set_forbidden(&self, resource: &str, forbidden: bool) {
        self.with(|s| {
            if forbidden {
                s.forbidden.insert(resource.to_owned());
            } else {
                s.forbidden.remove(resource);
            }
        });
    }

    /// The next request for `resource` fails with `code` (and `Retry-After`).
    pub fn fail_next(&self, resource: &str, code: u16, retry_after: Option<u64>) {
        self.with(|s| s.faults.push_back(Fault { resource: resource.to_owned(), code, retry_after }));
    }

    /// Writes watch bodies in HTTP chunks of `size` bytes (0: one chunk per batch of events).
    pub fn set_chunk_size(&self, size: usize) {
        self.with(|s| s.chunk_size = size);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state.lock().unwrap().requests.clone()
    }
}

/// `a.b.c` → the JSON value at that path.
fn field<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(object, |v, key| v.get(key))
}

fn split_top(selector: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&selector[start..]);
    out.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn label_selector_matches(selector: &str, object: &Value) -> bool {
    let label = |key: &str| field(object, "metadata.labels").and_then(|l| l.get(key)).and_then(Value::as_str);
    split_top(selector).into_iter().all(|term| {
        let set = |values: &str| -> Vec<String> {
            values
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|v| v.trim().to_owned())
                .collect()
        };
        if let Some((key, values)) = term.split_once(" notin ") {
            return label(key.trim()).is_none_or(|v| !set(values).iter().any(|s| s == v));
        }
        if let Some((key, values)) = term.split_once(" in ") {
            return label(key.trim()).is_some_and(|v| set(values).iter().any(|s| s == v));
        }
        if let Some(key) = term.strip_prefix('!') {
            return label(key.trim()).is_none();
        }
        if let Some((key, value)) = term.split_once("!=") {
            return label(key.trim()) != Some(value.trim());
        }
        if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            return label(key.trim()) == Some(value.trim());
        }
        label(term).is_some()
    })
}

fn field_selector_matches(selector: &str, object: &Value) -> bool {
    split_top(selector).into_iter().all(|term| {
        let text = |path: &str| field(object, path.trim()).and_then(Value::as_str).unwrap_or("").to_owned();
        if let Some((path, value)) = term.split_once("!=") {
            return text(path) != value.trim();
        }
        match term.split_once("==").or_else(|| term.split_once('=')) {
            Some((path, value)) => text(path) == value.trim(),
            None => false,
        }
    })
}

struct Query {
    resource: String,
    namespace: Option<String>,
    params: BTreeMap<String, String>,
}

impl Query {
    fn matches(&self, resource: &str, object: &Value) -> bool {
        if resource != self.resource {
            return false;
        }
        if let Some(ns) = &self.namespace
            && object["metadata"]["namespace"].as_str() != Some(ns.as_str())
        {
            return false;
        }
        let labels = self.params.get("labelSelector").map(String::as_str).unwrap_or("");
        let fields = self.params.get("fieldSelector").map(String::as_str).unwrap_or("");
        label_selector_matches(labels, object) && field_selector_matches(fields, object)
    }
}

fn decode(component: &str) -> String {
    let bytes = component.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_target(target: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.to_owned(), params)
}

/// `(resource, namespace)` for a collection path the fake serves.
fn route(path: &str) -> Option<(String, Option<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_group, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, "v1", rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (resource, namespace) = match rest {
        [resource] => (*resource, None),
        ["namespaces", ns, resource] => (*resource, Some((*ns).to_owned())),
        _ => return None,
    };
    let (group, ..) = kind_info(resource)?;
    (group == api_group).then(|| (resource.to_owned(), namespace))
}

fn respond(stream: &mut impl Write, code: u16, extra_headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn serve<S: Read + Write>(stream: S, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let head = crate::util::read_head(&mut reader);
    let mut lines = head.lines();
    let Some(request_line) = lines.next() else { return };
    // The last `Authorization` header counts, if a client sent several.
    let authorization = lines.rev().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_owned())
    });
    let mut stream = reader.into_inner();
    let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, params) = parse_target(&target);
    let mut state = shared.state.lock().unwrap();
    state.requests.push(Request { path: path.clone(), query: params.clone(), authorization: authorization.clone() });
    if let Some(tokens) = &state.tokens {
        let presented = authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        if !tokens.iter().any(|t| t == presented) {
            drop(state);
            return respond(&mut stream, 401, "", &status_body(401, "Unauthorized", "Unauthorized"));
        }
    }
    let Some((resource, namespace)) = route(&path) else {
        drop(state);
        let message = format!("the server could not find the requested resource ({path})");
        return respond(&mut stream, 404, "", &status_body(404, "NotFound", &message));
    };
    let query = Query { resource: resource.clone(), namespace, params };
    let watch = query.params.get("watch").is_some_and(|w| w == "1" || w == "true");
    let (group, list_kind, kind, api_version) = kind_info(&resource).expect("routed resources are known");
    if state.forbidden.contains(&resource) {
        drop(state);
        let verb = if watch { "watch" } else { "list" };
        let scope = match &query.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_owned(),
        };
        let message = format!(
            "{resource} is forbidden: User \"system:serviceaccount:monitoring:promlite\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"
        );
        return respond(&mut stream, 403, "", &status_body(403, "Forbidden", &message));
    }
    if let Some(i) = state.faults.iter().position(|f| f.resource == resource) {
        let fault = state.faults.remove(i).expect("position is in range");
        drop(state);
        let headers = fault.retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
        let reason = if fault.code == 429 { "TooManyRequests" } else { "InternalError" };
        return respond(&mut stream, fault.code, &headers, &status_body(fault.code, reason, "injected failure"));
    }
    let warning = if resource == "endpoints" && state.endpoints_warning {
        "Warning: 299 - \"v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\"\r\n"
    } else {
        ""
    };

    if !watch {
        let limit: usize =
            query.params.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
        // continue = "<list rv>:<offset>"
        let (list_rv, offset) = match query.params.get("continue") {
            Some(token) => {
                let (rv, offset) = token.split_once(':').unwrap_or(("0", "0"));
                (rv.parse().unwrap_or(0), offset.parse().unwrap_or(0))
            }
            None => (state.rv, 0),
        };
        if list_rv < state.compacted {
            drop(state);
            let message = "The provided continue parameter is too old to display a consistent list result.";
            return respond(&mut stream, 410, "", &status_body(410, "Expired", message));
        }
        let matching: Vec<Value> = state
            .objects
            .iter()
            .filter(|((r, _, _), object)| query.matches(r, object))
            .map(|(_, object)| {
                let mut item = object.clone();
                let map = item.as_object_mut().expect("objects are JSON objects");
                map.remove("kind");
                map.remove("apiVersion");
                item
            })
            .collect();
        let page: Vec<Value> = matching.iter().skip(offset).take(limit).cloned().collect();
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if offset + page.len() < matching.len() {
            metadata["continue"] = json!(format!("{list_rv}:{}", offset + page.len()));
        }
        drop(state);
        let body = json!({"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": page});
        return respond(&mut stream, 200, warning, &body.to_string());
    }

    let mut since: u64 = query.params.get("resourceVersion").and_then(|rv| rv.parse().ok()).unwrap_or(state.rv);
    let bookmarks = query.params.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = Duration::from_secs(query.params.get("timeoutSeconds").and_then(|t| t.parse().ok()).unwrap_or(1800));
    let expired_line = |message: &str| {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": "Expired", "code": 410});
        format!("{}\n", json!({"type": "ERROR", "object": status}))
    };
    if since < state.compacted && state.expiry == Expiry::Http {
        drop(state);
        let message = format!("too old resource version: {since} ({})", state_compacted(shared));
        return respond(&mut stream, 410, "", &status_body(410, "Expired", &message));
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n{warning}\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let write_body = |stream: &mut S, body: &str, chunk_size: usize| -> bool {
        let size = if chunk_size == 0 { body.len().max(1) } else { chunk_size };
        for piece in body.as_bytes().chunks(size) {
            let ok = write!(stream, "{:x}\r\n", piece.len()).is_ok()
                && stream.write_all(piece).is_ok()
                && stream.write_all(b"\r\n").is_ok()
                && stream.flush().is_ok();
            if !ok {
                return false;
            }
            if chunk_size != 0 {
                // Give the client a chance to read each piece on its own.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        true
    };
    if since < state.compacted {
        let line = expired_line(&format!("too old resource version: {since} ({})", state.compacted));
        let chunk_size = state.chunk_size;
        drop(state);
        let _ = write_body(&mut stream, &line, chunk_size) && stream.write_all(b"0\r\n\r\n").is_ok();
        return;
    }
    let started = Instant::now();
    let (close_epoch, expire_epoch) = (state.close_epoch, state.expire_epoch);
    loop {
        let mut body = String::new();
        let from = since;
        for entry in state.log.iter().filter(|e| e.rv > from) {
            match &entry.resource {
                Some(r) if query.matches(r, &entry.object) => {
                    body.push_str(&json!({"type": entry.kind, "object": entry.object}).to_string());
                    body.push('\n');
                }
                None if bookmarks => {
                    let object = json!({"kind": kind, "apiVersion": api_version, "metadata": {
                        "resourceVersion": entry.rv.to_string(), "creationTimestamp": null,
                        "annotations": {"k8s.io/initial-events-end": "true"}}});
                    body.push_str(&json!({"type": "BOOKMARK", "object": object}).to_string());
                    body.push('\n');
                }
                _ => {}
            }
            since = entry.rv;
        }
        let expired = state.expire_epoch != expire_epoch;
        if expired {
            body.push_str(&expired_line(&format!("too old resource version: {since} ({})", state.compacted)));
        }
        let closed = state.close_epoch != close_epoch || started.elapsed() >= timeout;
        let chunk_size = state.chunk_size;
        drop(state);
        if !body.is_empty() && !write_body(&mut stream, &body, chunk_size) {
            return;
        }
        if expired || closed {
            let _ = stream.write_all(b"0\r\n\r\n");
            let _ = stream.flush();
            return;
        }
        state = shared.state.lock().unwrap();
        state = shared.changed.wait_timeout(state, Duration::from_millis(200)).unwrap().0;
    }
}

fn state_compacted(shared: &Shared) -> u64 {
    shared.state.lock().unwrap().compacted
}
