//! The HTTP API as Grafana's Prometheus datasource uses it: the requests it sends, in GET and
//! POST form, answered in the shapes it parses; every error type with its status code; the route
//! prefix; and no secret in any response.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{FakeTarget, Server, enc, eventually, get_json, http, start, write_config};

/// GET `path?form` and POST `path` with `form` as body must give the same JSON.
fn both(server: &Server, path: &str, form: &str) -> (u16, Value) {
    let (status, got) = get_json(server.addr, &format!("{path}?{form}"));
    let posted = http(server.addr, "POST", path, Some(("application/x-www-form-urlencoded", form)));
    let posted_json: Value = serde_json::from_str(&posted.body).unwrap_or_else(|err| panic!("{path}: {err}"));
    assert_eq!(posted.status, status, "{path}: GET and POST differ");
    // Results that depend on "now" may differ in a timestamp; compare shapes and status.
    assert_eq!(posted_json["status"], got["status"], "{path}");
    (status, got)
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn grafana_datasource_requests_get_prometheus_shaped_answers() {
    let target = FakeTarget::start(|n| {
        format!(
            "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{{code=\"200\"}} {}\n# TYPE temperature gauge\ntemperature 21.5\n",
            n * 10
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "global:\n  external_labels: {{cluster: lab}}\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{}']}}]\n",
            target.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    eventually(Duration::from_secs(20), || {
        let (_, body) = get_json(server.addr, "/api/v1/query?query=count_over_time(up%5B1m%5D)");
        match body["data"]["result"][0]["value"][1].as_str() {
            Some(n) if n.parse::<f64>().unwrap_or(0.0) >= 3.0 => Ok(()),
            _ => Err(body.to_string()),
        }
    });

    // The health check Grafana runs when a datasource is saved.
    let (status, health) = both(&server, "/api/v1/query", "query=1%2B1&time=4");
    assert_eq!(status, 200);
    assert_eq!(health, json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}));

    // A panel: float start/end/step.
    let end = now();
    let form =
        format!("query={}&start={:.3}&end={:.3}&step=1.5", enc("rate(http_requests_total[5s])"), end - 30.0, end);
    let (status, range) = both(&server, "/api/v1/query_range", &form);
    assert_eq!(status, 200, "{range}");
    assert_eq!(range["data"]["resultType"], "matrix");
    let series = &range["data"]["result"][0];
    assert_eq!(series["metric"], json!({"code": "200", "instance": target.addr.to_string(), "job": "app"}));
    for point in series["values"].as_array().unwrap() {
        assert!(point[0].is_number() && point[1].is_string(), "{point}");
    }

    // The metric browser.
    let form = format!("start={:.0}&end={:.0}&limit=40000", end - 3600.0, end);
    let (_, names) = get_json(server.addr, &format!("/api/v1/label/__name__/values?{form}"));
    let names = names["data"].as_array().unwrap();
    for name in ["http_requests_total", "temperature", "up", "scrape_duration_seconds"] {
        assert!(names.contains(&json!(name)), "{name} missing from {names:?}");
    }
    let (_, labels) = both(&server, "/api/v1/labels", &format!("match[]={}", enc("temperature")));
    assert_eq!(labels["data"], json!(["__name__", "instance", "job"]));
    let (_, series) = both(
        &server,
        "/api/v1/series",
        &format!("match[]={}&start={:.0}", enc("{job=\"app\",__name__=\"temperature\"}"), end - 60.0),
    );
    assert_eq!(series["data"], json!([{"__name__": "temperature", "instance": target.addr.to_string(), "job": "app"}]));

    // Metadata, as the query editor's hints read it.
    let (_, metadata) = get_json(server.addr, "/api/v1/metadata?metric=http_requests_total");
    assert_eq!(
        metadata["data"],
        json!({"http_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}]})
    );
    let (_, all) = get_json(server.addr, "/api/v1/metadata?limit=1");
    assert_eq!(all["data"].as_object().unwrap().len(), 1);
    let (_, per_target) = get_json(
        server.addr,
        &format!("/api/v1/targets/metadata?match_target={}&metric=temperature", enc("{job=\"app\"}")),
    );
    assert_eq!(per_target["data"][0]["type"], "gauge");
    assert_eq!(per_target["data"][0]["target"]["job"], "app");
    assert!(per_target["data"][0].get("metric").is_none());

    // Exemplars with millisecond-sized start/end, as Grafana's probe sends them.
    let form =
        format!("query={}&start={}&end={}", enc("http_requests_total"), (end - 60.0) as i64 * 1000, end as i64 * 1000);
    let (status, exemplars) = both(&server, "/api/v1/query_exemplars", &form);
    assert_eq!((status, exemplars["data"].clone()), (200, json!([])));

    // Build info without `features` or `application`, so Grafana treats promlite as Prometheus,
    // and a Prometheus 3 version, so it uses the label values API with match[] (a version below
    // 2.24 makes it list label values through /api/v1/series); rules empty.
    let (_, buildinfo) = get_json(server.addr, "/api/v1/status/buildinfo");
    assert_eq!(buildinfo["data"]["version"], "3.0.0");
    assert_eq!(buildinfo["data"]["promliteVersion"], env!("CARGO_PKG_VERSION"));
    assert!(buildinfo["data"].get("application").is_none());
    assert!(buildinfo["data"].get("features").is_none());
    let (_, rules) = get_json(server.addr, "/api/v1/rules");
    assert_eq!(rules["data"], json!({"groups": []}));
    let (_, alerts) = get_json(server.addr, "/api/v1/alerts");
    assert_eq!(alerts["data"], json!({"alerts": []}));

    // Query tools.
    let (_, formatted) =
        get_json(server.addr, &format!("/api/v1/format_query?query={}", enc("sum(rate(x[5m]))by(job)")));
    assert_eq!(formatted["data"], "sum by (job) (rate(x[5m]))");
    let (_, parsed) = get_json(server.addr, &format!("/api/v1/parse_query?query={}", enc("up{job=\"a\"}")));
    assert_eq!(parsed["data"]["type"], "vectorSelector");

    // Federation: the newest samples, with the external labels.
    let federated = http(server.addr, "GET", &format!("/federate?match[]={}", enc("temperature")), None);
    assert_eq!(federated.status, 200);
    let line =
        federated.body.lines().find(|l| l.starts_with("temperature{")).unwrap_or_else(|| panic!("{}", federated.body));
    assert!(federated.body.contains("# TYPE temperature untyped"), "{}", federated.body);
    assert!(
        line.starts_with(&format!("temperature{{cluster=\"lab\",instance=\"{}\",job=\"app\"}} 21.5 ", target.addr)),
        "{line}"
    );
}

#[test]
fn every_error_type_has_prometheus_status_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "scrape_configs: []\n");
    let server = start(dir.path(), &[&config]);
    let error = |path: &str| {
        let (status, body) = get_json(server.addr, path);
        assert_eq!(body["status"], "error", "{path}: {body}");
        (status, body["errorType"].as_str().unwrap_or("").to_owned(), body["error"].as_str().unwrap_or("").to_owned())
    };
    let (status, kind, _) = error("/api/v1/query?query=rate(");
    assert_eq!((status, kind.as_str()), (400, "bad_data"));
    // A valid query that fails while running: many-to-many matching.
    let many_to_many = "vector(1) + on() (label_replace(vector(1), \"a\", \"1\", \"\", \"\") or label_replace(vector(2), \"a\", \"2\", \"\", \"\"))";
    let (status, kind, text) = error(&format!("/api/v1/query?query={}&time=100", enc(many_to_many)));
    assert_eq!((status, kind.as_str()), (422, "execution"), "{text}");
    assert!(text.contains("many-to-many matching not allowed"), "{text}");
    let (status, kind, text) = error("/api/v1/query_range?query=vector(1)&start=0&end=9999&step=1&timeout=0.000001");
    assert_eq!((status, kind.as_str()), (503, "timeout"), "{text}");
    assert_eq!(http(server.addr, "GET", "/api/v1/admin/tsdb/snapshot", None).status, 405);
    let response = http(server.addr, "POST", "/api/v1/admin/tsdb/snapshot", None);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!((response.status, body["errorType"].as_str()), (503, Some("unavailable")));
    assert_eq!(body["error"], "admin APIs disabled");
    assert_eq!(http(server.addr, "GET", "/api/v1/no_such_endpoint", None).status, 404);
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
