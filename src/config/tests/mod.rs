//! Tests of config loading: small cases run through `load`/`error` and the secret-never-leaks
//! check here; every upstream `config/testdata` file in `upstream.rs`.

use std::path::Path;

use super::*;

mod upstream;
mod upstream_files;

fn load(yaml: &str) -> Config {
    match load_str(yaml, "prometheus.yml") {
        Ok(config) => config,
        Err(err) => panic!("unexpected error:\n{err}"),
    }
}

fn error(yaml: &str) -> String {
    match load_str(yaml, "prometheus.yml") {
        Ok(config) => format!("unexpectedly loaded: {config:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn duration_parse_and_print() {
    let cases = [
        ("0", "0s"),
        ("0s", "0s"),
        ("15s", "15s"),
        ("1m", "1m"),
        ("90s", "1m30s"),
        ("1h30m", "1h30m"),
        ("2d", "2d"),
        ("14d", "2w"),
        ("1w", "1w"),
        ("1y", "1y"),
        ("90d", "90d"),
        ("500ms", "500ms"),
        ("1m500ms", "1m500ms"),
        ("1y2w3d4h5m6s7ms", "382d4h5m6s7ms"),
    ];
    for (text, printed) in cases {
        let duration: Duration = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(duration.to_string(), printed, "{text}");
        assert_eq!(printed.parse::<Duration>(), Ok(duration), "{printed}");
    }
    assert_eq!("1h30m".parse::<Duration>().unwrap().as_std(), std::time::Duration::from_secs(5400));
    assert_eq!("1y".parse::<Duration>().unwrap(), Duration::from_secs(365 * 86400));
}

#[test]
fn duration_rejects_what_prometheus_rejects() {
    for text in ["1.5h", "1", "15", "1m1h", "1s1s", "-1s", "1 s", "s", "1S", "1x", "1h 30m"] {
        assert!(text.parse::<Duration>().is_err(), "{text} should be rejected");
    }
    insta::assert_snapshot!("1.5h".parse::<Duration>().unwrap_err(), @r#"not a valid duration string: "1.5h""#);
    insta::assert_snapshot!("".parse::<Duration>().unwrap_err(), @"empty duration string");
    insta::assert_snapshot!("99999999999y".parse::<Duration>().unwrap_err(), @"duration out of range");
}

#[test]
fn byte_size() {
    assert_eq!("15MB".parse::<ByteSize>(), Ok(ByteSize(15 << 20)));
    assert_eq!("1KiB".parse::<ByteSize>(), Ok(ByteSize(1024)));
    assert_eq!("0".parse::<ByteSize>(), Ok(ByteSize(0)));
    assert_eq!(ByteSize(15 << 20).to_string(), "15MiB");
    assert_eq!(ByteSize(1000).to_string(), "1000B");
    insta::assert_snapshot!("100".parse::<ByteSize>().unwrap_err(), @"units: unknown unit  in 100");
}

#[test]
fn empty_file_is_the_default_config() {
    for yaml in ["", "# nothing\n", "global:\n", "---\n"] {
        let config = load(yaml);
        assert_eq!(config.global, GlobalConfig::default(), "{yaml:?}");
        assert!(config.scrape_configs.is_empty());
    }
}

#[test]
fn scrape_config_defaults() {
    let config = load("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n");
    let global = &config.global;
    assert_eq!(global.scrape_interval, Duration::from_secs(60));
    assert_eq!(global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(global.evaluation_interval, Duration::from_secs(60));
    let job = &config.scrape_configs[0];
    assert_eq!(job.job_name, "node");
    assert_eq!(job.scrape_interval, Duration::from_secs(60));
    assert_eq!(job.scrape_timeout, Duration::from_secs(10));
    assert_eq!(job.metrics_path, "/metrics");
    assert_eq!(job.scheme, "http");
    assert!(!job.honor_labels);
    assert!(job.honor_timestamps);
    assert!(job.enable_compression);
    assert!(job.http_client_config.follow_redirects);
    assert!(job.http_client_config.enable_http2);
    assert_eq!(job.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS.to_vec());
    assert_eq!(job.static_configs, vec![StaticConfig { targets: vec!["a:9100".into()], labels: Default::default() }]);
}

#[test]
fn scrape_config_inherits_global() {
    let config = load(
        "global:\n  scrape_interval: 15s\n  sample_limit: 100\n  external_labels: {a: b}\n\
         scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 5s\n    sample_limit: 7\n\
         \x20 - job_name: c\n    scrape_interval: 1m\n    scrape_timeout: 20s\n",
    );
    let jobs = &config.scrape_configs;
    assert_eq!((jobs[0].scrape_interval, jobs[0].scrape_timeout), (Duration::from_secs(15), Duration::from_secs(10)));
    // The timeout defaults to min(global timeout, the job's interval).
    assert_eq!((jobs[1].scrape_interval, jobs[1].scrape_timeout), (Duration::from_secs(5), Duration::from_secs(5)));
    assert_eq!((jobs[2].scrape_interval, jobs[2].scrape_timeout), (Duration::from_secs(60), Duration::from_secs(20)));
    assert_eq!((jobs[0].sample_limit, jobs[1].sample_limit), (100, 7));
    let config = load("global:\n  scrape_interval: 5s\n");
    assert_eq!(config.global.scrape_timeout, Duration::from_secs(5));
}

#[test]
fn bearer_token_becomes_authorization() {
    let config = load("scrape_configs:\n  - job_name: a\n    bearer_token: tok\n");
    let authorization = config.scrape_configs[0].http_client_config.authorization.clone().unwrap();
    assert_eq!(authorization.kind, "Bearer");
    assert_eq!(authorization.credentials.unwrap().expose(), "tok");
}

#[test]
fn external_labels_expand_environment() {
    let env = |name: &str| if name == "VAR" { "v".to_owned() } else { String::new() };
    let cases = [("${VAR}", "v"), ("x$VAR", "xv"), ("x$${VAR}", "x${VAR}"), ("foo$$bar", "foo$bar"), ("$UNSET", "")];
    for (input, want) in cases {
        assert_eq!(super::expand::expand_with(input, env), want, "{input}");
    }
    // Through a real load, with a variable every environment has.
    let config = load("global:\n  external_labels:\n    path: ${PATH}\n");
    assert_eq!(config.global.external_labels["path"], std::env::var("PATH").unwrap_or_default());
}

#[test]
fn unknown_field_names_line_and_column() {
    let yaml = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n";
    insta::assert_snapshot!(error(yaml), @r#"prometheus.yml:5:5: unknown field "scrape_intervall""#);
    insta::assert_snapshot!(error("globl: {}\n"), @r#"prometheus.yml:1:1: unknown field "globl""#);
    insta::assert_snapshot!(
        error("remote_read:\n  - url: http://a/api/v1/read\n    required_matchers: {job: }\n"),
        @r#"prometheus.yml:3:28: null where a string value is expected (write "" for an empty string)"#
    );
}

#[test]
fn unsupported_sections_say_so() {
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\n    consul_sd_configs:\n      - server: x\n"), @"prometheus.yml:3:5: consul_sd_configs is not supported by promlite yet");
    insta::assert_snapshot!(error("tracing:\n  endpoint: x:4317\n"), @"prometheus.yml:2:3: tracing is not supported by promlite yet");
}

#[test]
fn an_unsupported_sd_does_not_hide_other_problems() {
    // Each defect here is Prometheus's to find without running Consul or DNS discovery.
    let yaml = "\
scrape_configs:
  - job_name: a
    consul_sd_configs:
      - server: x
        bearer_token: t
        bearer_token_file: f
  - job_name: a
    dns_sd_configs:
      - names: [x]
alerting:
  alertmanagers:
    - dns_sd_configs:
        - {names: [am], basic_auth: {username: u}, bearer_token: t}
";
    insta::assert_snapshot!(error(yaml), @r#"
    prometheus.yml:3:5: consul_sd_configs is not supported by promlite yet
    prometheus.yml:4:9: at most one of bearer_token & bearer_token_file must be configured
    prometheus.yml:7:5: found multiple scrape configs with job name "a"
    prometheus.yml:8:5: dns_sd_configs is not supported by promlite yet
    prometheus.yml:12:7: dns_sd_configs is not supported by promlite yet
    prometheus.yml:13:11: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured
    "#);
    // A bad regex stops the parse (as in Prometheus), wherever the unsupported SD is.
    let yaml = "scrape_configs:\n  - job_name: a\n    consul_sd_configs: [{server: x}]\n    \
                relabel_configs: [{source_labels: [x], regex: 'a(', target_label: y}]\n";
    insta::assert_snapshot!(error(yaml), @"prometheus.yml:4:51: error parsing regexp: missing closing ): `a(`");
}

#[test]
fn tracing_and_otlp_are_checked_before_being_refused() {
    let cases = [
        "tracing:\n  endpoint: x:4317\n  client_type: udp\n",
        "tracing:\n  endpoint: x:4317\n  headers: {Authorization: x}\n",
        "tracing:\n  endpoint: x:4317\n  headers: {Content-Type: x}\n",
        "tracing:\n  sampling_fraction: 1\n",
        "tracing:\n  endpoint: x:4317\n  compression: zstd\n",
        "tracing:\n  endpoint: x:4317\n  timeout: soon\n",
        "otlp:\n  translation_strategy: NoTranslation\nglobal:\n  metric_name_validation_scheme: legacy\n",
        "otlp:\n  promote_resource_attributes: [a, ' a', '']\n",
        "otlp:\n  ignore_resource_attributes: [a]\n",
        "otlp:\n  promote_all_resource_attributes: true\n  ignore_resource_attributes: [a, a]\n",
        "otlp:\n  promote_all_resource_attributes: true\n  promote_resource_attributes: [a]\n",
    ];
    let output: Vec<String> = cases.iter().map(|yaml| error(yaml)).collect();
    insta::assert_snapshot!(output.join("\n"), @r#"
    prometheus.yml:2:3: tracing is not supported by promlite yet
    prometheus.yml:2:3: expected tracing client type to be http or grpc, but got udp
    prometheus.yml:2:3: tracing is not supported by promlite yet
    prometheus.yml:2:3: custom authorization header configuration is not yet supported
    prometheus.yml:2:3: tracing is not supported by promlite yet
    prometheus.yml:2:3: Content-Type is a reserved header. It must not be changed
    prometheus.yml:2:3: tracing is not supported by promlite yet
    prometheus.yml:2:3: tracing endpoint must be set
    prometheus.yml:2:3: tracing is not supported by promlite yet
    prometheus.yml:2:3: invalid compression type zstd provided, valid options: gzip
    prometheus.yml:3:12: not a valid duration string: "soon"
    prometheus.yml:2:3: otlp is not supported by promlite yet
    prometheus.yml:2:3: OTLP translation strategy "NoTranslation" is not allowed when UTF8 is disabled
    prometheus.yml:2:3: otlp is not supported by promlite yet
    prometheus.yml:2:3: invalid 'promote_resource_attributes': duplicated promoted OTel resource attribute "a"; empty promoted OTel resource attribute
    prometheus.yml:2:3: otlp is not supported by promlite yet
    prometheus.yml:2:3: 'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true
    prometheus.yml:2:3: otlp is not supported by promlite yet
    prometheus.yml:2:3: invalid 'ignore_resource_attributes': duplicated ignored OTel resource attribute "a"
    prometheus.yml:2:3: otlp is not supported by promlite yet
    prometheus.yml:2:3: 'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously
    "#);
    // An empty section is the default: nothing there promlite would have to run.
    assert_eq!(load("otlp:\n").scrape_configs.len(), 0);
}

#[test]
fn alerting_is_parsed_with_defaults_and_validated() {
    let yaml = "alerting:\n  alert_relabel_configs:\n    - action: labeldrop\n      regex: replica\n  alertmanagers:\n    - static_configs:\n        - targets: ['am:9093']\n";
    let config = load_str(yaml, "prometheus.yml").unwrap();
    let alertmanager = &config.alerting.alertmanagers[0];
    assert_eq!((alertmanager.scheme.as_str(), alertmanager.path_prefix.as_str()), ("http", "/"));
    assert_eq!((alertmanager.timeout.to_string(), alertmanager.api_version.as_str()), ("10s".to_owned(), "v2"));
    assert_eq!(alertmanager.static_configs[0].targets, ["am:9093"]);
    assert_eq!(config.alerting.alert_relabel_configs.len(), 1);
    insta::assert_snapshot!(
        error("alerting:\n  alertmanagers:\n    - api_version: v1\n"),
        @"prometheus.yml:3:7: expected Alertmanager api version to be one of [v2] but got v1"
    );
    insta::assert_snapshot!(error("alerting:\n  alertmanagers:\n    - timout: 5s\n"), @r#"prometheus.yml:3:7: unknown field "timout""#);
}

#[test]
fn value_errors() {
    insta::assert_snapshot!(error("global:\n  scrape_interval: 1.5h\n"), @r#"prometheus.yml:2:20: not a valid duration string: "1.5h""#);
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\n    body_size_limit: 100\n"), @"prometheus.yml:3:22: units: unknown unit  in 100");
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: nope\n"), @r#"prometheus.yml:4:17: unknown relabel action "nope""#);
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\n  - job_name: a\n"), @r#"prometheus.yml:3:5: found multiple scrape configs with job name "a""#);
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\nscrape_configs: []\n"), @"prometheus.yml:3:1: field scrape_configs already set");
}

#[test]
fn validation_errors() {
    let cases = [
        "scrape_configs:\n  - job_name:\n",
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
        "scrape_configs:\n  - job_name: a\n    bearer_token: x\n    basic_auth: {username: u}\n",
        "scrape_configs:\n  - job_name: a\n    bearer_token: x\n    bearer_token_file: f\n",
        "scrape_configs:\n  - job_name: a\n    authorization: {credentials: x}\n    basic_auth: {username: u}\n",
        "scrape_configs:\n  - job_name: a\n    authorization: {type: Basic, credentials: x}\n",
        "scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c}\n",
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['http://bad']\n",
        "scrape_configs:\n  - job_name: a\n    scrape_protocols: [PrometheusProto, prometheusproto]\n",
        "scrape_configs:\n  - job_name: a\n    fallback_scrape_protocol: nope\n",
        "scrape_configs:\n  -\n",
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      -\n",
        "rule_files: ['a/*/b']\n",
        "remote_write:\n  - name: x\n",
        "remote_write:\n  - url: http://a\n    headers: {Content-Type: x}\n",
        "remote_write:\n  - url: http://a\n    queue_config: {min_shards: 0}\n",
        "remote_read:\n  - url: http://a\n    name: q\n  - url: http://b\n    name: q\n",
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - api_server: https://k:443\n        role: pod\n        namespaces: {own_namespace: true}\n",
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: node\n        basic_auth: {username: u}\n",
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: endpoints\n        selectors: [{role: node, label: a=b}]\n",
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - {}\n",
        "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]\n",
    ];
    let output: Vec<String> = cases.iter().map(|yaml| error(yaml)).collect();
    insta::assert_snapshot!(output.join("\n"), @r#"
    prometheus.yml:2:5: job_name is empty
    prometheus.yml:2:5: scrape timeout greater than scrape interval for scrape config with job name "a"
    prometheus.yml:2:3: global scrape timeout greater than scrape interval
    prometheus.yml:2:5: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured
    prometheus.yml:2:5: at most one of bearer_token & bearer_token_file must be configured
    prometheus.yml:2:5: at most one of basic_auth, oauth2 & authorization must be configured
    prometheus.yml:2:5: authorization type cannot be set to "basic", use "basic_auth" instead
    prometheus.yml:2:5: exactly one of key or key_file must be configured when a client certificate is configured
    prometheus.yml:4:9: "http://bad" is not a valid hostname
    prometheus.yml:2:5: duplicated protocol in scrape_protocols, got [PrometheusProto prometheusproto] for scrape config with job name "a"
    prometheus.yml:2:5: invalid fallback_scrape_protocol for scrape config with job name "a": unknown scrape protocol nope, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]
    prometheus.yml:2:4: empty or null scrape config section
    prometheus.yml:4:8: empty or null section in static_configs
    prometheus.yml:1:14: invalid rule file path "a/*/b"
    prometheus.yml:2:5: url for remote_write is empty
    prometheus.yml:2:5: Content-Type is a reserved header. It must not be changed
    prometheus.yml:2:5: remote write queue min_shards must be positive
    prometheus.yml:4:5: found multiple remote read configs with job name "q"
    prometheus.yml:4:9: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously
    prometheus.yml:4:9: to use custom HTTP client configuration please provide the 'api_server' URL explicitly
    prometheus.yml:4:9: endpoints role supports only pod, service, endpoints selectors
    prometheus.yml:4:9: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)
    prometheus.yml:4:9: path name "targets.txt" is not valid for file discovery
    "#);
}

#[test]
fn every_problem_is_reported() {
    let yaml = "\
scrape_configs:
  - job_name: a
    scrape_interval: 5s
    scrape_timeout: 6s
    relabel_configs:
      - action: hashmod
        target_label: x
      - action: labeldrop
        regex: a
        source_labels: [b]
  - job_name: a
    metric_relabel_configs:
      - action: uppercase
";
    insta::assert_snapshot!(error(yaml), @r#"
    prometheus.yml:2:5: scrape timeout greater than scrape interval for scrape config with job name "a"
    prometheus.yml:6:9: relabel configuration for hashmod requires non-zero modulus
    prometheus.yml:8:9: labeldrop action requires only 'regex', and no other fields
    prometheus.yml:11:5: found multiple scrape configs with job name "a"
    prometheus.yml:13:9: relabel configuration for uppercase action requires 'target_label' value
    "#);
}

#[test]
fn missing_file_names_the_file() {
    let err = load_file(Path::new("/nonexistent/promlite.yml")).unwrap_err();
    insta::assert_snapshot!(err, @"/nonexistent/promlite.yml: No such file or directory (os error 2)");
    // Said once: a caller printing the cause chain must not repeat the IO error.
    assert!(std::error::Error::source(&err).is_none());
}

#[test]
fn a_structure_error_is_reported_before_the_value_it_garbles() {
    // The key is folded into the value above it; the value alone would be a duration error.
    let yaml = "global:\n  scrape_interval: 15s\n    evaluation_interval: 15s\n";
    insta::assert_snapshot!(error(yaml), @"prometheus.yml:3:24: mapping values are not allowed in this context");
    insta::assert_snapshot!(error("scrape_configs:\n  - job_name: a\n   metrics_path: /m\n"), @"prometheus.yml:3:4: while parsing a block collection, did not find expected '-' indicator");
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(
        &path,
        "rule_files: ['rules/*.yml', '/abs.rules']\n\
         scrape_configs:\n  - job_name: a\n    authorization: {credentials_file: token}\n    \
         file_sd_configs:\n      - files: ['sd/*.json']\n",
    )
    .unwrap();
    let config = load_file(&path).unwrap();
    let base = dir.path().to_string_lossy().into_owned();
    assert_eq!(config.rule_files, [format!("{base}/rules/*.yml"), "/abs.rules".to_owned()]);
    let job = &config.scrape_configs[0];
    assert_eq!(job.http_client_config.authorization.as_ref().unwrap().credentials_file, format!("{base}/token"));
    assert_eq!(job.file_sd_configs[0].files, [format!("{base}/sd/*.json")]);
    assert_eq!(job.file_sd_configs[0].refresh_interval, Duration::from_secs(300));
}

const SECRETS_YAML: &str = "\
scrape_configs:
  - job_name: a
    basic_auth: {username: u, password: secret-password}
    tls_config: {cert: CERT, key: secret-tls-key}
    proxy_url: http://pu:secret-proxy-url@proxy
    proxy_connect_header: {X-Proxy: [secret-proxy-header]}
    http_headers:
      X-Api: {secrets: [secret-header]}
  - job_name: b
    authorization: {credentials: secret-credentials}
  - job_name: c
    bearer_token: secret-bearer
  - job_name: d
    oauth2:
      client_id: id
      client_secret: secret-oauth
      token_url: http://tu:secret-token-url@t
      proxy_url: http://op:secret-oauth-proxy-url@p
    kubernetes_sd_configs:
      - role: pod
        api_server: https://ku:secret-api-server@k
        authorization: {credentials: secret-kubernetes}
remote_write:
  - url: http://rw:secret-remote-write-url@w
    basic_auth: {username: u, password: secret-remote-write}
remote_read:
  - url: http://rr:secret-remote-read-url@r
    bearer_token: secret-remote-read
";

#[test]
fn secrets_never_leak() {
    let config = load(SECRETS_YAML);
    let yaml = config.to_yaml();
    let debug = format!("{config:?}");
    for shown in [&yaml, &debug] {
        assert!(!shown.contains("secret-"), "a secret leaked:\n{shown}");
    }
    assert_eq!(yaml.matches("<secret>").count(), 10, "{yaml}");
    // Every URL-typed field shows its password as `xxxxx`, as upstream's `config.URL`.
    assert_eq!(yaml.matches(":xxxxx@").count(), 6, "{yaml}");
    assert!(yaml.contains("url: http://rw:xxxxx@w"), "{yaml}");
    // The rendered config loads again and keeps the same structure.
    let again = load(&yaml);
    assert_eq!(again.scrape_configs.len(), config.scrape_configs.len());
    assert_eq!(again.scrape_configs[0].job_name, "a");
}

#[test]
fn errors_about_a_url_hide_its_password() {
    for yaml in [
        "scrape_configs:\n  - job_name: a\n    proxy_url: 'http://u:secret-1@host:port'\n",
        "remote_write:\n  - url: 'http://u:secret-2@host:port/write'\n",
        "remote_read:\n  - url: 'http://u:secret/3@host/read'\n",
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - {role: pod, api_server: 'http://u:secret-4@:1'}\n",
    ] {
        let error = error(yaml);
        assert!(!error.contains("secret"), "{error}");
        assert!(error.contains("u:xxxxx@"), "{error}");
    }
}

#[test]
fn to_yaml_has_defaults_filled_in() {
    let yaml = load("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n").to_yaml();
    for expected in [
        "scrape_interval: 1m",
        "scrape_timeout: 10s",
        "evaluation_interval: 1m",
        "metrics_path: /metrics",
        "scheme: http",
        "honor_timestamps: true",
        "follow_redirects: true",
    ] {
        assert!(yaml.contains(expected), "missing {expected:?} in\n{yaml}");
    }
}

#[test]
fn self_scrape_config() {
    let cases = [
        ("0.0.0.0:9090", "localhost:9090"),
        (":9091", "localhost:9091"),
        ("[::]:9090", "localhost:9090"),
        ("127.0.0.1:9092", "127.0.0.1:9092"),
        ("example.org:80", "example.org:80"),
    ];
    for (listen, target) in cases {
        let config = self_scrape(listen);
        assert_eq!(config.global.scrape_interval, Duration::from_secs(15));
        let job = &config.scrape_configs[0];
        assert_eq!(job.job_name, "promlite");
        assert_eq!(job.metrics_path, "/metrics");
        assert_eq!(job.static_configs[0].targets, [target], "{listen}");
    }
}
