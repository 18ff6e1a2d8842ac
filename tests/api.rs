//! The HTTP API as Grafana's Prometheus datasource uses it, against Debian's Prometheus 2.42
//! scraping the same target with the same config: the requests Grafana sends, in GET and POST
//! form, and every error type with its status code and text, answered as Prometheus answers
//! (normalised only where the 3.14 docs say 3.x differs, see `api_oracle`); then the route
//! prefix, and no secret in any response.

use std::time::Duration;

use serde_json::json;

use crate::api_oracle::{
    Answer, Pair, both, buildinfo_fields, contains, doc_example, get, normalised_targets, per_scraper_target, post,
};
use crate::remote_util::{External, PROMETHEUS, have, now_ms};
use crate::util::{FakeTarget, enc, eventually, get_json, http, points, start, write_config};

#[test]
fn grafana_datasource_requests_answer_as_prometheus_does() {
    if !have(PROMETHEUS) {
        return;
    }
    // The counter carries its own timestamps, one second apart from `base_ms` on, and grows 10
    // per scrape of each server: both store the same samples whenever they scrape, so a range
    // query over them has one answer, known from the input. Two minutes back, whole seconds.
    let base_ms = (now_ms() / 1000 - 120) * 1000;
    let target = per_scraper_target(move |n| {
        format!(
            "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n\
             http_requests_total{{code=\"200\"}} {} {}\n# TYPE temperature gauge\ntemperature 21.5\n",
            n * 10,
            base_ms + n as i64 * 1000
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  external_labels: {{cluster: lab}}\nscrape_configs:\n  - job_name: app\n    scrape_interval: 250ms\n    scrape_timeout: 250ms\n    static_configs: [{{targets: ['{}']}}]\n",
        target.addr
    );
    // The same external URL, so that both show the same `globalUrl`.
    let external_url = "--web.external-url=http://example-prometheus:9090/";
    let prometheus = External::prometheus(dir.path(), &config, &[external_url]);
    let config_flag = format!("--config.file={}", dir.path().join("prometheus.yml").display());
    let promlite = start(dir.path(), &[&config_flag, external_url]);

    // Both hold the ninth scrape, the last the range query below reads.
    let ninth = format!("/api/v1/query?query=http_requests_total&time={}", (base_ms + 9750) as f64 / 1000.0);
    for addr in [prometheus.addr, promlite.addr] {
        eventually(Duration::from_secs(60), || {
            let answer = get(addr, &ninth);
            match answer.json["data"]["result"][0]["value"][1].as_str() {
                Some("90") => Ok(()),
                _ => Err(format!("{addr}: {answer:?}")),
            }
        });
    }
    let mut pair = Pair::new(prometheus.addr, promlite.addr);

    // The health check Grafana runs when a datasource is saved.
    let health = pair.same("health check", "/api/v1/query", "query=1%2B1&time=4");
    assert_eq!(health.json, json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}));

    // A panel: float start/end/step. Each step's window (t-5s, t] holds five of the counter's
    // samples, 10 apart (no sample on its left end, where 2.42's windows are still closed); the
    // first is 0.25 s or 0.75 s after the window's start and the last as far from its end, both
    // under 1.1 sample intervals, and the counter would reach zero at least a second before the
    // first: rate() extrapolates to the whole window, 40 * (5/4) / 5 = 10 per second.
    let start_s = base_ms as f64 / 1000.0 + 5.25;
    let form = format!("query={}&start={start_s}&end={}&step=1.5", enc("rate(http_requests_total[5s])"), start_s + 4.5);
    let range = pair.same("panel", "/api/v1/query_range", &form);
    assert_eq!(range.json["data"]["resultType"], "matrix");
    let series = &range.json["data"]["result"];
    assert_eq!(series.as_array().map(Vec::len), Some(1), "{series}");
    assert_eq!(series[0]["metric"], json!({"code": "200", "instance": target.addr.to_string(), "job": "app"}));
    let want: Vec<(i64, f64)> = (0..4).map(|k| (base_ms + 5250 + k * 1500, 10.0)).collect();
    assert_eq!(points(&series[0]["values"]), want);

    // The metric browser.
    let end = now_ms() / 1000;
    let form = format!("start={}&end={end}&limit=40000", end - 3600);
    let names = pair.same_get("metric names", "/api/v1/label/__name__/values", &form);
    for name in ["http_requests_total", "temperature", "up", "scrape_duration_seconds"] {
        assert!(names.json["data"].as_array().unwrap().contains(&json!(name)), "{name} missing from {names:?}");
    }
    let labels = pair.same("label names", "/api/v1/labels", &format!("match[]={}", enc("temperature")));
    assert_eq!(labels.json["data"], json!(["__name__", "instance", "job"]));
    let selector = enc("{job=\"app\",__name__=\"temperature\"}");
    let series = pair.same("series", "/api/v1/series", &format!("match[]={selector}&start={}", end - 60));
    let temperature = json!({"__name__": "temperature", "instance": target.addr.to_string(), "job": "app"});
    assert_eq!(series.json["data"], json!([temperature]));

    // Metadata, as the query editor's hints read it.
    let metadata = pair.same_get("metadata of one metric", "/api/v1/metadata", "metric=http_requests_total");
    assert_eq!(metadata.json["data"]["http_requests_total"][0]["help"], "Requests served.");
    let all = pair.same_get("all metadata", "/api/v1/metadata", "");
    assert_eq!(all.json["data"].as_object().map(|m| m.len()), Some(2), "{all:?}");
    // Which metric a limit keeps is not defined (Prometheus iterates a Go map): one of them.
    let one = get(promlite.addr, "/api/v1/metadata?limit=1");
    let (name, entry) = one.json["data"].as_object().and_then(|m| m.iter().next()).expect("one metric");
    assert_eq!((one.json["data"].as_object().unwrap().len(), entry), (1, &all.json["data"][name]));
    let match_target = enc("{job=\"app\"}");
    pair.same_get(
        "target metadata",
        "/api/v1/targets/metadata",
        &format!("match_target={match_target}&metric=temperature"),
    );
    // A target's metadata comes in no defined order (a Go map again): sorted by metric.
    let by_metric = |mut answer: Answer| {
        answer.json["data"].as_array_mut().unwrap().sort_by_key(|m| m["metric"].to_string());
        answer
    };
    let (want, got) = (
        by_metric(get(prometheus.addr, &format!("/api/v1/targets/metadata?match_target={match_target}"))),
        by_metric(get(promlite.addr, &format!("/api/v1/targets/metadata?match_target={match_target}"))),
    );
    pair.compare("all target metadata", &want, &got);
    assert_eq!(got.json["data"].as_array().map(Vec::len), Some(2), "{got:?}");

    // Exemplars with millisecond-sized start/end, as Grafana's probe sends them.
    let form = format!("query={}&start={}&end={}", enc("http_requests_total"), (end - 60) * 1000, end * 1000);
    let exemplars = pair.same("exemplars", "/api/v1/query_exemplars", &form);
    assert_eq!(exemplars.json["data"], json!([]));
    for path in ["/api/v1/rules", "/api/v1/alerts", "/api/v1/scrape_pools"] {
        pair.same_get(path, path, "");
    }

    // Query tools: every query as Prometheus prints it.
    for query in [
        "sum(rate(x[5m]))by(job)",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"api\",code=~\"5..\"}[5m])))",
        "a/on(x)group_left(y)b",
        "-x^2 + y offset -5m",
        "x{a=\"b\"}[5m:1m] @ 100",
        "sum without (a,b) (x) > bool 0",
        "(a + b) / c # comment",
    ] {
        pair.same(&format!("format_query {query}"), "/api/v1/format_query", &format!("query={}", enc(query)));
    }
    // parse_query is newer than 2.42 (its 404): the 3.14 doc's example instead, whose fields
    // 3.14 writes all of, and more (`translate_ast.go` adds offsetExpr, anchored, fillValues).
    assert_eq!(get(prometheus.addr, "/api/v1/parse_query?query=up").status, 404);
    if let Some(want) = doc_example("parse_query?query=foo/bar") {
        let got = both(promlite.addr, "/api/v1/parse_query", "query=foo%2Fbar");
        if let Err(diff) = contains(&got.json, &want, "") {
            pair.differ.push(format!("parse_query foo/bar as the 3.14 doc shows it: {diff}"));
        }
    }

    // Build info: Prometheus's fields, so Grafana treats promlite as Prometheus (no `features`
    // or `application`), and a Prometheus 3 version, so it uses the label values API with
    // match[] (a version below 2.24 makes it list label values through /api/v1/series).
    let (want, got) =
        (get(prometheus.addr, "/api/v1/status/buildinfo"), get(promlite.addr, "/api/v1/status/buildinfo"));
    assert_eq!(buildinfo_fields(&got.json["data"]), buildinfo_fields(&want.json["data"]));
    assert_eq!((got.status, &got.content_type), (want.status, &want.content_type));
    assert_eq!(got.json["data"]["version"], promlite_web::PROMETHEUS_COMPATIBLE_VERSION);
    assert_eq!(got.json["data"]["promliteVersion"], env!("CARGO_PKG_VERSION"));

    // Targets, as the datasource's "Targets" link shows them: until both servers' last scrapes
    // went alike (on a loaded machine one may time out now and then, and show it).
    let targets = eventually(Duration::from_secs(60), || {
        let (want, got) = (get(prometheus.addr, "/api/v1/targets"), get(promlite.addr, "/api/v1/targets"));
        let normalised = |answer: &Answer, three| {
            (answer.status, answer.content_type.clone(), normalised_targets(answer.json["data"].clone(), three))
        };
        let (want, got) = (normalised(&want, false), normalised(&got, true));
        if want == got { Ok(got.2) } else { Err(format!("targets:\n  Prometheus {want:?}\n  promlite   {got:?}")) }
    });
    let global_url = format!("http://example-prometheus:{}/metrics", target.addr.port());
    assert_eq!(targets["activeTargets"][0]["globalUrl"], global_url);

    // Federation: the newest samples with the external labels, the timestamps being each
    // server's own scrape times; again until both last scrapes went alike (a failed one makes
    // the series stale, and federation leaves it out).
    let federated = |addr| {
        let response = http(addr, "GET", &format!("/federate?match[]={}", enc("temperature")), None);
        let lines = response.body.lines();
        let lines = lines.map(|l| l.rsplit_once(' ').filter(|_| !l.starts_with('#')).map_or(l, |(s, _)| s).to_owned());
        (response.status, lines.collect::<Vec<_>>())
    };
    let federated = eventually(Duration::from_secs(60), || {
        let (want, got) = (federated(prometheus.addr), federated(promlite.addr));
        if want == got { Ok(got.1) } else { Err(format!("federate:\n  Prometheus {want:?}\n  promlite   {got:?}")) }
    });
    let line = format!("temperature{{instance=\"{}\",job=\"app\",cluster=\"lab\"}} 21.5", target.addr);
    assert_eq!(federated, ["# TYPE temperature untyped".to_owned(), line]);
    pair.assert_no_difference();
}

#[test]
fn errors_answer_as_prometheus_does() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prometheus = External::prometheus(dir.path(), "scrape_configs: []\n", &[]);
    let promlite = start(dir.path(), &[&format!("--config.file={}", dir.path().join("prometheus.yml").display())]);
    // Where 3.14 words an error differently from 2.42, Prometheus's answer is brought to 3.14's
    // wording (from 3.14's web/api/v1/api.go; the doc does not give error texts).
    let as_3_14 = |path: &str, mut answer: Answer| {
        if let Some(text) = answer.json["error"].as_str() {
            // parseTimeParam: "invalid time value for '%s'", lower case since 2.42's "Invalid".
            let mut text = text.replacen("Invalid time value for", "invalid time value for", 1);
            // An empty query has no position in 3.x (promql/parser/posrange/posrange.go,
            // StartPosInput: "unknown position"); 2.42 said 1:1.
            text = text.replacen(
                "\"query\": 1:1: parse error: no expression found",
                "\"query\": unknown position: parse error: no expression found",
                1,
            );
            // NewRangeQuery's type check, wrapped by invalidParamError(err, "query") in 3.x.
            if path.starts_with("/api/v1/query_range") && text.starts_with("invalid expression type") {
                text = format!("invalid parameter \"query\": {text}");
            }
            answer.json["error"] = json!(text);
        }
        answer
    };
    let many_to_many = enc(
        "vector(1) + on() (label_replace(vector(1), \"a\", \"1\", \"\", \"\") or label_replace(vector(2), \"a\", \"2\", \"\", \"\"))",
    );
    let paths = [
        "/api/v1/query?query=rate(".to_owned(),
        "/api/v1/query?query=rate(%20%20".to_owned(),
        "/api/v1/query?query=up%20%2B%0A".to_owned(),
        "/api/v1/query".to_owned(),
        format!("/api/v1/query?query={many_to_many}&time=100"),
        "/api/v1/query?query=up&time=yesterday".to_owned(),
        "/api/v1/query?query=up&timeout=soon".to_owned(),
        "/api/v1/query_range?query=up&start=10&end=5&step=1".to_owned(),
        "/api/v1/query_range?query=up&start=x&end=2&step=1".to_owned(),
        "/api/v1/query_range?query=up&start=1&end=2".to_owned(),
        "/api/v1/query_range?query=up&start=1&end=2&step=0".to_owned(),
        "/api/v1/query_range?query=up&start=0&end=100000&step=1".to_owned(),
        "/api/v1/query_range?query=up%5B1m%5D&start=1&end=2&step=1".to_owned(),
        "/api/v1/series".to_owned(),
        "/api/v1/series?match[]=up%7B".to_owned(),
        "/api/v1/series?match[]=up&start=x".to_owned(),
        "/api/v1/labels?match[]=up%7B".to_owned(),
        "/api/v1/labels?end=x".to_owned(),
        "/api/v1/label/job/values?match[]=up%7B".to_owned(),
        "/api/v1/query_exemplars?query=up%7B".to_owned(),
        "/api/v1/format_query?query=up%7B".to_owned(),
        "/api/v1/rules?type=neither".to_owned(),
    ];
    let mut pair = Pair::new(prometheus.addr, promlite.addr);
    for path in &paths {
        let (want, got) = (as_3_14(path, get(prometheus.addr, path)), get(promlite.addr, path));
        assert_eq!(want.json["status"], "error", "{path}: Prometheus {want:?}");
        pair.compare(path, &want, &got);
    }
    let (want, got) = (
        post(prometheus.addr, "/api/v1/admin/tsdb/snapshot", ""),
        post(promlite.addr, "/api/v1/admin/tsdb/snapshot", ""),
    );
    pair.compare("snapshot with the admin API disabled", &want, &got);
    // A query that runs out of time: the stage it was in when the deadline passed may differ.
    let path = "/api/v1/query_range?query=vector(1)&start=0&end=9999&step=1&timeout=0.000001";
    let (want, got) = (get(prometheus.addr, path), get(promlite.addr, path));
    let kind = |a: &Answer| {
        (
            a.status,
            a.json["errorType"].clone(),
            a.json["error"].as_str().is_some_and(|e| e.starts_with("query timed out in ")),
        )
    };
    assert_eq!(kind(&got), kind(&want), "{path}: Prometheus {want:?}, promlite {got:?}");
    assert_eq!(kind(&got), (503, json!("timeout"), true));
    // Outside the API's handlers only the status is Prometheus's.
    for (method, path) in [("GET", "/api/v1/admin/tsdb/snapshot"), ("GET", "/api/v1/no_such_endpoint")] {
        let (want, got) =
            (http(prometheus.addr, method, path, None).status, http(promlite.addr, method, path, None).status);
        assert_eq!(got, want, "{method} {path}");
    }
    pair.assert_no_difference();

    // Newer than 2.42, which ignores `limit` here: 3.14's parseLimitParam passes strconv.Atoi's
    // error on (web/api/v1/api.go).
    let (status, body) = get_json(promlite.addr, "/api/v1/labels?limit=x");
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"))
    );
    let (status, body) = get_json(promlite.addr, "/api/v1/labels?limit=-1");
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid parameter \"limit\": limit must be non-negative"))
    );
}

#[test]
fn route_prefix_from_external_url_serves_everything_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.external-url=http://example/prom"]);
    let (status, body) = get_json(server.addr, "/prom/api/v1/query?query=1&time=1");
    assert_eq!((status, body["status"].as_str()), (200, Some("success")));
    assert_eq!(http(server.addr, "GET", "/prom/-/healthy", None).status, 200);
    assert_eq!(http(server.addr, "GET", "/api/v1/query?query=1", None).status, 404);
    for root in ["/prom", "/prom/"] {
        let response = http(server.addr, "GET", root, None);
        assert!(
            response.headers.to_ascii_lowercase().contains("location: /prom/targets"),
            "{root}: {}",
            response.headers
        );
    }
    let (_, flags) = get_json(server.addr, "/prom/api/v1/status/flags");
    assert_eq!(flags["data"]["web.external-url"], "http://example/prom");
    assert_eq!(flags["data"]["web.route-prefix"], "/prom");
}

/// A distinct password in the userinfo of every URL-typed config field, each of which upstream
/// shows as `xxxxx` (`config.URL` marshals as `URL.Redacted`).
const URL_PASSWORDS: [&str; 7] = [
    "scrape-proxy-PW1",
    "token-url-PW2",
    "oauth2-proxy-PW3",
    "api-server-PW4",
    "alertmanager-proxy-PW5",
    "remote-write-url-PW6",
    "remote-read-url-PW7",
];

#[test]
fn no_secret_appears_in_any_response() {
    let target = FakeTarget::start(|_| "x 1\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "token-from-file-S3CR3T").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:
  - job_name: basic
    basic_auth: {{username: u, password: password-S3CR3T}}
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: bearer
    authorization: {{credentials: bearer-S3CR3T}}
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: file
    authorization: {{credentials_file: token}}
    tls_config: {{key: key-S3CR3T, cert: cert-public, insecure_skip_verify: true}}
    scheme: https
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: proxied
    scrape_interval: 1s
    proxy_url: 'http://pu:{p1}@127.0.0.1:1'
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: oauth
    oauth2: {{client_id: id, client_secret: oauth-S3CR3T, token_url: 'http://tu:{p2}@127.0.0.1:1/token', proxy_url: 'http://op:{p3}@127.0.0.1:1'}}
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: kube
    kubernetes_sd_configs:
      - role: pod
        api_server: 'http://ku:{p4}@127.0.0.1:1'
  - job_name: userinfo
    scrape_interval: 1s
    static_configs: [{{targets: ['au:address-PW9@{addr}']}}]
    relabel_configs: [{{target_label: instance, replacement: userinfo-target}}]
alerting:
  alertmanagers:
    - proxy_url: 'http://ap:{p5}@127.0.0.1:1'
      static_configs: [{{targets: ['127.0.0.1:1']}}]
remote_write:
  - url: 'http://rw:{p6}@127.0.0.1:1/write'
    basic_auth: {{username: u, password: rw-S3CR3T}}
remote_read:
  - url: 'http://rr:{p7}@127.0.0.1:1/read'
",
            addr = target.addr,
            p1 = URL_PASSWORDS[0],
            p2 = URL_PASSWORDS[1],
            p3 = URL_PASSWORDS[2],
            p4 = URL_PASSWORDS[3],
            p5 = URL_PASSWORDS[4],
            p6 = URL_PASSWORDS[5],
            p7 = URL_PASSWORDS[6],
        ),
    );
    let server = start(dir.path(), &[&config]);
    // Let every part use its URL once: a scrape through the proxy fails, one with userinfo
    // succeeds, and a query asks the remote read endpoint.
    eventually(Duration::from_secs(20), || {
        let (_, targets) = get_json(server.addr, "/api/v1/targets");
        let active = targets["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        let pool = |name: &str| active.iter().find(|t| t["scrapePool"] == name).cloned().unwrap_or_default();
        match (pool("proxied")["health"].as_str(), pool("userinfo")["health"].as_str()) {
            (Some("down"), Some("up")) => Ok(()),
            _ => Err(targets.to_string()),
        }
    });
    let paths = [
        "/api/v1/status/config",
        "/api/v1/status/flags",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/buildinfo",
        "/api/v1/targets",
        "/api/v1/scrape_pools",
        "/api/v1/metadata",
        "/api/v1/targets/metadata",
        "/api/v1/labels",
        "/api/v1/label/job/values",
        "/api/v1/query?query=up",
        "/metrics",
        "/targets",
        "/federate?match[]=%7Bjob%3D~%22.%2B%22%7D",
    ];
    // Every leak at once: which secret, and where.
    let mut leaks = Vec::new();
    let before = |text: &str, at: usize, secret: &str| {
        let start = (0..=at.saturating_sub(120)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        format!("{secret} in {:?}", &text[start..at + secret.len()])
    };
    for path in paths {
        let body = http(server.addr, "GET", path, None).body;
        for secret in URL_PASSWORDS.iter().chain(&["S3CR3T"]) {
            if let Some(at) = body.find(secret) {
                leaks.push(format!("{path}: {}", before(&body, at, secret)));
            }
        }
    }
    let log = server.log.lock().unwrap().join("\n");
    for secret in URL_PASSWORDS.iter().chain(&["S3CR3T", "address-PW9"]) {
        if let Some(at) = log.find(secret) {
            leaks.push(format!("the log: {}", before(&log, at, secret)));
        }
    }
    assert!(leaks.is_empty(), "secrets leak:\n{}", leaks.join("\n"));
    let (_, config) = get_json(server.addr, "/api/v1/status/config");
    let yaml = config["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("<secret>"));
    for shown in ["pu:xxxxx@", "tu:xxxxx@", "op:xxxxx@", "ku:xxxxx@", "ap:xxxxx@", "rw:xxxxx@", "rr:xxxxx@"] {
        assert!(yaml.contains(shown), "{shown} missing from the config:\n{yaml}");
    }
    assert!(http(server.addr, "GET", "/metrics", None).body.contains("rw:xxxxx@127.0.0.1:1"));

    // A password in a target's address reaches the scrape URL; every URL shown is redacted.
    // The address itself is a label: `discoveredLabels` shows it as Prometheus does.
    let (_, targets) = get_json(server.addr, "/api/v1/targets?scrapePool=userinfo");
    let shown = &targets["data"]["activeTargets"][0];
    for field in ["scrapeUrl", "globalUrl", "lastError", "labels"] {
        assert!(!shown[field].to_string().contains("address-PW9"), "{field} leaks the address password: {shown}");
    }
    assert!(shown["scrapeUrl"].as_str().unwrap().starts_with("http://au:xxxxx@127.0.0.1:"), "{shown}");
    let page = http(server.addr, "GET", "/targets", None).body;
    assert!(!page.contains("address-PW9") && page.contains("au:xxxxx@127.0.0.1"), "{page}");
}

#[test]
fn responses_are_gzipped_when_asked() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let ask = |encoding: &str| {
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        let request = format!(
            "GET /api/v1/status/flags HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase()
    };
    assert!(ask("gzip").contains("content-encoding: gzip"));
    assert!(!ask("identity").contains("content-encoding"));
}
