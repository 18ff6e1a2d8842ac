//! Plumbing of the HTTP API tests that use Debian's Prometheus 2.42 as the oracle: the same
//! request to both servers, their answers (status, `Content-Type`, JSON) side by side, and the
//! normalisations of what Prometheus 3 documents differently from 2.42, each citing the 3.14
//! doc (`../shared/upstream/prometheus-v3.14.0/docs/`) or, where the doc is silent, the 3.14
//! source it was read from.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use crate::util::{FakeResponse, FakeTarget, http};

/// The 3.14 API doc, read in place.
pub const API_DOC: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/upstream/prometheus-v3.14.0/docs/querying/api.md");

/// An API answer: the status, the `Content-Type` and the body as JSON (`Null` when the body is
/// not JSON, e.g. a plain-text 404).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub json: Value,
}

fn answer(response: crate::util::Response) -> Answer {
    let content_type = response
        .headers
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-type")))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let json = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    Answer { status: response.status, content_type, json }
}

/// GET `path` (query string included).
pub fn get(addr: SocketAddr, path: &str) -> Answer {
    answer(http(addr, "GET", path, None))
}

/// POST `form` as `application/x-www-form-urlencoded` to `path`.
pub fn post(addr: SocketAddr, path: &str, form: &str) -> Answer {
    answer(http(addr, "POST", path, Some(("application/x-www-form-urlencoded", form))))
}

/// GET `path?form` and POST `path` with `form` as body must give the same whole answer (upstream
/// reads both through `ParseForm`); returns it.
#[track_caller]
pub fn both(addr: SocketAddr, path: &str, form: &str) -> Answer {
    let got = get(addr, &format!("{path}?{form}"));
    let posted = post(addr, path, form);
    assert_eq!(posted, got, "{addr}{path}: POST and GET differ for {form}");
    got
}

/// Prometheus and promlite side by side, with every difference found so far, so that one run
/// shows them all.
pub struct Pair {
    pub prometheus: SocketAddr,
    pub promlite: SocketAddr,
    pub differ: Vec<String>,
}

impl Pair {
    pub fn new(prometheus: SocketAddr, promlite: SocketAddr) -> Pair {
        Pair { prometheus, promlite, differ: Vec::new() }
    }

    /// Records a difference between Prometheus's answer `want` and promlite's `got`.
    pub fn compare(&mut self, what: &str, want: &Answer, got: &Answer) {
        if want != got {
            self.differ.push(format!("{what}:\n  Prometheus {want:?}\n  promlite   {got:?}"));
        }
    }

    /// [`both`] on each server, compared; promlite's answer.
    #[track_caller]
    pub fn same(&mut self, what: &str, path: &str, form: &str) -> Answer {
        let (want, got) = (both(self.prometheus, path, form), both(self.promlite, path, form));
        self.compare(what, &want, &got);
        got
    }

    /// For a GET-only endpoint (3.14 `web/api/v1/api.go` registers no POST for it): GET
    /// `path?form` on each server, compared, and a POST refused alike; promlite's GET answer.
    #[track_caller]
    pub fn same_get(&mut self, what: &str, path: &str, form: &str) -> Answer {
        let url = format!("{path}?{form}");
        let (want, got) = (get(self.prometheus, &url), get(self.promlite, &url));
        self.compare(what, &want, &got);
        let (want_post, got_post) = (post(self.prometheus, path, form).status, post(self.promlite, path, form).status);
        if want_post != got_post {
            self.differ.push(format!("{what}: POST answered {got_post}, Prometheus {want_post}"));
        }
        got
    }

    /// Fails listing every difference recorded.
    #[track_caller]
    pub fn assert_no_difference(&self) {
        assert!(
            self.differ.is_empty(),
            "{} answers differ from Prometheus 2.42's:\n{}",
            self.differ.len(),
            self.differ.join("\n")
        );
    }
}

/// A target serving `body(n)` for the n-th scrape of each scraper (told apart by User-Agent),
/// so that two servers scraping it each see the sequence from the start.
pub fn per_scraper_target(body: impl Fn(u64) -> String + Send + Sync + 'static) -> FakeTarget {
    let scrapes: Mutex<HashMap<String, u64>> = Mutex::default();
    FakeTarget::start_with(move |_, head| {
        let agent = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("user-agent")))
            .map_or("", |(_, v)| v.trim())
            .to_owned();
        let n = {
            let mut scrapes = scrapes.lock().unwrap();
            let n = scrapes.entry(agent).or_default();
            *n += 1;
            *n
        };
        FakeResponse::text(body(n))
    })
}

/// Prometheus 3's `buildinfo` with promlite's additions set aside: the same fields, all strings
/// ("All values are of the result type `string`", 3.14 `querying/api.md`, Build Information),
/// whose values are each build's own ("The exact returned build properties may change without
/// notice"), so only the names are compared; `promliteVersion` is promlite's own field.
pub fn buildinfo_fields(data: &Value) -> Vec<String> {
    let fields = data.as_object().unwrap_or_else(|| panic!("buildinfo data: {data}"));
    assert!(fields.values().all(Value::is_string), "{data}");
    let mut names: Vec<String> = fields.keys().filter(|k| *k != "promliteVersion").cloned().collect();
    names.sort();
    names
}

/// The labels Prometheus 3 adds to every target's `discoveredLabels` (3.14 `querying/api.md`,
/// Targets: the dropped target's labels; 2.42 has none of them), with their default values.
pub const DISCOVERED_3X: [(&str, &str); 3] = [
    ("__always_scrape_classic_histograms__", "false"),
    ("__convert_classic_histograms_to_nhcb__", "false"),
    ("__scrape_native_histograms__", "false"),
];

/// `/api/v1/targets` data without what differs between any two servers or runs: the time and
/// duration of the last scrape (checked for their types here), and the 3.x-only parts, checked
/// to be present when `three` and absent otherwise: [`DISCOVERED_3X`] and `droppedTargetCounts`
/// (3.14 `web/api/v1/api.go`, `TargetDiscovery`; the doc's example predates it).
pub fn normalised_targets(mut data: Value, three: bool) -> Value {
    let object = data.as_object_mut().unwrap_or_else(|| panic!("targets data"));
    let counts = object.remove("droppedTargetCounts");
    assert_eq!(counts.is_some(), three, "droppedTargetCounts: {counts:?}");
    for target in object.get_mut("activeTargets").and_then(Value::as_array_mut).into_iter().flatten() {
        let last = target["lastScrape"].as_str().unwrap_or_default();
        assert!(last.len() > 20 && last.as_bytes()[10] == b'T', "lastScrape {last:?} is not RFC 3339");
        assert!(target["lastScrapeDuration"].as_f64().is_some_and(|d| d >= 0.0), "{target}");
        target["lastScrape"] = Value::Null;
        target["lastScrapeDuration"] = Value::Null;
        let discovered = target["discoveredLabels"].as_object_mut().unwrap();
        for (name, value) in DISCOVERED_3X {
            let shown = discovered.remove(name);
            assert_eq!(shown, three.then(|| Value::from(value)), "{name}");
        }
    }
    data
}

/// The JSON answer the 3.14 API doc shows right after the line containing `request` (a `curl`
/// line), parsed; `None` when the doc is absent (reported through `promlite_testkit::have`).
#[track_caller]
pub fn doc_example(request: &str) -> Option<Value> {
    if !promlite_testkit::have(Path::new(API_DOC), "../shared/upstream, the Prometheus 3.14 docs") {
        return None;
    }
    let doc = std::fs::read_to_string(API_DOC).unwrap();
    let after = &doc[doc.find(request).unwrap_or_else(|| panic!("{request} not in {API_DOC}"))..];
    let block = after.split("```json").nth(1).and_then(|b| b.split("```").next()).expect("a json block");
    Some(serde_json::from_str(block).unwrap_or_else(|err| panic!("the doc's example of {request}: {err}")))
}

/// Every field of `want` is in `got` with the same value, recursively (arrays element by
/// element, of the same length); the path of the first difference otherwise. For a doc
/// example that shows fewer fields than the 3.14 server writes.
pub fn contains(got: &Value, want: &Value, at: &str) -> Result<(), String> {
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => want.iter().try_for_each(|(key, value)| {
            let here = format!("{at}.{key}");
            got.get(key).map_or(Err(format!("{here} missing")), |g| contains(g, value, &here))
        }),
        (Value::Array(got), Value::Array(want)) if got.len() == want.len() => {
            got.iter().zip(want).enumerate().try_for_each(|(i, (g, w))| contains(g, w, &format!("{at}[{i}]")))
        }
        _ if got == want => Ok(()),
        _ => Err(format!("{at}: {got} where the doc has {want}")),
    }
}
