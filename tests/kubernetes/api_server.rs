//! Reaching the API server: RBAC 403s shown in the state until fixed, bearer-token rotation and
//! 401s, TLS with a CA file or a kubeconfig, and 429/5xx answers retried.

use std::time::Duration;

use super::{apply_all, group, start_sd, start_sd_entry, test_options};
use crate::fake_kube::FakeKube;
use crate::util::eventually;

#[test]
fn forbidden_shows_in_state_then_recovers() {
    let fake = FakeKube::start();
    apply_all(&fake);
    fake.set_forbidden("pods", true);
    let sd = start_sd(&fake, "role: endpoints\nnamespaces: {names: [default]}", test_options());
    let message = eventually(Duration::from_secs(60), || {
        let state = sd.state.snapshot();
        let pods = state.informers.iter().find(|i| i.resource == "pods");
        pods.and_then(|p| p.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(
        message.contains("HTTP 403 Forbidden")
            && message.contains("cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{message}"
    );
    // Nothing is published while one of the role's resources cannot sync.
    assert!(sd.groups.lock().unwrap().is_none());
    assert!(!sd.state.snapshot().synced);
    let mut enc = promlite_metrics::Encoder::new();
    sd.state.registry().collect(&mut enc);
    let metrics = enc.finish();
    assert!(
        metrics.contains("promlite_sd_kubernetes_watch_errors_total{reason=\"forbidden\",role=\"pod\"}"),
        "{metrics}"
    );
    // Upstream's total over every role and reason, which its PrometheusKubernetesListWatchFailures alert reads.
    let failures = metrics.lines().find_map(|l| l.strip_prefix("prometheus_sd_kubernetes_failures_total "));
    assert!(failures.is_some_and(|n| n.parse::<f64>().unwrap() >= 1.0), "{metrics}");

    fake.set_forbidden("pods", false);
    let groups = sd.wait("synced after RBAC fix", |g| g.len() == 2);
    assert_eq!(group(&groups, "endpoints/default/web").targets.len(), 4);
    let state = sd.state.snapshot();
    assert!(state.synced && state.informers.iter().all(|i| i.last_error.is_none()), "{state:#?}");
    assert_eq!(state.targets, 5);
}

#[test]
fn rotated_token_is_used_for_the_next_watch() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first\n").unwrap();
    fake.set_tokens(Some(vec!["first"]));
    let sd = start_sd(
        &fake,
        &format!("role: service\nauthorization:\n  credentials_file: {}", token.display()),
        test_options(),
    );
    assert_eq!(sd.synced().len(), 4);

    std::fs::write(&token, "second\n").unwrap();
    fake.set_tokens(Some(vec!["second"]));
    fake.close_watches();
    eventually(Duration::from_secs(60), || {
        let requests = fake.requests();
        let rotated = requests.iter().any(|r| r.is_watch() && r.authorization.as_deref() == Some("Bearer second"));
        if rotated { Ok(()) } else { Err(format!("{requests:#?}")) }
    });
    fake.delete("Service", "db", "pg");
    sd.wait("change seen with the rotated token", |g| g.len() == 3);

    // A wrong token is a 401 whose Status shows up in the state.
    fake.set_tokens(Some(vec!["third"]));
    fake.close_watches();
    let error = eventually(Duration::from_secs(60), || {
        let state = sd.state.snapshot();
        state.informers.first().and_then(|i| i.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(error.contains("HTTP 401 Unauthorized"), "{error}");
}

#[test]
fn tls_api_server_with_ca_file_or_kubeconfig() {
    use base64::Engine as _;
    let (fake, ca) = FakeKube::start_tls();
    apply_all(&fake);
    fake.set_tokens(Some(vec!["tls-token"]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), &ca).unwrap();
    std::fs::write(dir.path().join("token"), "tls-token").unwrap();
    let sd = start_sd(
        &fake,
        &format!(
            "role: node\ntls_config:\n  ca_file: {0}/ca.crt\nauthorization:\n  credentials_file: {0}/token",
            dir.path().display()
        ),
        test_options(),
    );
    assert_eq!(sd.synced()[0].targets[0]["__address__"], "192.168.1.20:10250");

    // The same through a kubeconfig: CA data and a token file relative to the kubeconfig.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: sd}}\nusers:\n- name: sd\n  user: {{token-file: token}}\n",
            fake.url(),
            base64::engine::general_purpose::STANDARD.encode(&ca)
        ),
    )
    .unwrap();
    let sd = start_sd_entry(&format!("role: service\nkubeconfig_file: {}", kubeconfig.display()), test_options());
    assert_eq!(sd.synced().len(), 4);
    assert!(fake.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer tls-token")));

    // Without the CA the server is not trusted, and the state says so.
    let sd = start_sd(&fake, "role: node", test_options());
    let error = eventually(Duration::from_secs(60), || {
        let state = sd.state.snapshot();
        state.informers.first().and_then(|i| i.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(error.contains("certificate"), "{error}");
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let fake = FakeKube::start();
    apply_all(&fake);
    fake.fail_next("services", 429, Some(1));
    fake.fail_next("services", 503, None);
    let sd = start_sd(&fake, "role: service", test_options());
    assert_eq!(sd.synced().len(), 4);
    let lists: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/api/v1/services").collect();
    assert_eq!(lists.iter().filter(|r| !r.is_watch()).count(), 3, "{lists:#?}");
}
