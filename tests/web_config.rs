//! `--web.config.file`: HTTPS with a certificate from a test CA, basic auth against a bcrypt
//! hash, extra response headers, and clear start-up errors for bad files.

use crate::util::{start, start_fails};

/// Status, `www-authenticate` and `x-frame-options` of an HTTPS GET through reqwest.
fn https_get(ca_pem: &str, port: u16, path: &str, auth: Option<(&str, &str)>) -> Result<(u16, String, String), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        let client = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
        let mut request = client.get(format!("https://localhost:{port}{path}"));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|err| format!("{err:?}"))?;
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        Ok((response.status().as_u16(), header("www-authenticate"), header("x-frame-options")))
    })
}

#[test]
fn tls_and_basic_auth_protect_every_endpoint() {
    let certificates = crate::util::test_certificates(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.crt"), &certificates.cert_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), &certificates.key_pem).unwrap();
    let hash = bcrypt::hash("s3cret-pass", 4).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  admin: '{hash}'\n"
        ),
    )
    .unwrap();
    let server = start(dir.path(), &[&format!("--web.config.file={}", dir.path().join("web.yml").display())]);
    let port = server.addr.port();
    let ca = certificates.ca_pem.clone();

    let (status, challenge, frame) = https_get(&ca, port, "/api/v1/query?query=1", None).unwrap();
    assert_eq!((status, challenge.as_str(), frame.as_str()), (401, "Basic", "deny"));
    let (status, _, _) = https_get(&ca, port, "/metrics", Some(("admin", "wrong"))).unwrap();
    assert_eq!(status, 401);
    let (status, _, frame) = https_get(&ca, port, "/api/v1/query?query=1", Some(("admin", "s3cret-pass"))).unwrap();
    assert_eq!((status, frame.as_str()), (200, "deny"));
    let (status, _, _) = https_get(&ca, port, "/-/healthy", Some(("admin", "s3cret-pass"))).unwrap();
    assert_eq!(status, 200);

    // Plain HTTP on the TLS port gets no answer.
    let plain = crate::util::try_http(server.addr, "GET", "/-/healthy");
    assert!(plain.as_ref().is_none_or(|r| r.status != 200), "plain HTTP must not be served: {plain:?}");
    assert!(!server.log.lock().unwrap().join("\n").contains("s3cret-pass"));
}

#[test]
fn a_bad_web_config_file_stops_start_up_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, "tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fil: c\n").unwrap();
    let flag = format!("--web.config.file={}", path.display());
    let stderr = start_fails(dir.path(), &[&flag, "--web.listen-address=127.0.0.1:0"]);
    // One log line, its message quoted as Go's logfmt quotes it.
    assert!(stderr.contains(&format!("{}:4:3: unknown field \\\"cert_fil\\\"", path.display())), "{stderr}");
    std::fs::write(&path, "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n").unwrap();
    let stderr = start_fails(dir.path(), &[&flag, "--web.listen-address=127.0.0.1:0"]);
    assert!(stderr.contains("cert_file") && stderr.contains("missing.crt"), "{stderr}");
}
