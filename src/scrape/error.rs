//! Why a scrape failed, in words a person can act on.

use super::textparse::ParseError;

/// A failed scrape. Shown on `/targets` and in `/api/v1/targets` as `lastError`.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Nothing listens at the address, or it refused us.
    #[error(
        "connection refused: nothing accepts connections at this address (is the process up, and listening on an address other than 127.0.0.1?)"
    )]
    ConnectionRefused,
    /// The scrape took longer than `scrape_timeout`.
    #[error("context deadline exceeded: the target did not answer within scrape_timeout")]
    Timeout,
    /// Any other transport failure.
    #[error("{0}")]
    Http(String),
    /// A non-2xx status.
    #[error("server returned HTTP status {}", status_text(*.0))]
    Status(u16),
    /// The body was larger than `body_size_limit`.
    #[error("body size limit exceeded: the uncompressed body is larger than {0} bytes")]
    BodySizeLimit(u64),
    /// More samples than `sample_limit`.
    #[error("sample limit exceeded: more than {0} samples after relabeling")]
    SampleLimit(u64),
    /// A series broke `label_limit`, `label_name_length_limit` or `label_value_length_limit`.
    #[error("{0}")]
    LabelLimit(String),
    /// The target's name did not resolve.
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    /// The TLS handshake failed (certificate, CA, server name or protocol).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// A credential file could not be read, or a header is invalid.
    #[error("{0}")]
    Client(#[from] crate::http_client::HttpClientError),
    /// The `Content-Type` names a format promlite cannot parse and no fallback applies.
    #[error("{0}")]
    ContentType(#[from] super::textparse::ContentTypeError),
    /// The body is not valid exposition text.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The TSDB refused the scrape's samples (a full disk, or not ready yet); nothing of the
    /// scrape was stored.
    #[error("storage: {0}")]
    Storage(String),
}

fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()) {
        Some(reason) => format!("{code} {reason}"),
        None => code.to_string(),
    }
}

impl ScrapeError {
    /// Classifies a client error; the full source chain is kept for anything unrecognised.
    pub fn from_reqwest(err: reqwest::Error) -> ScrapeError {
        if err.is_timeout() {
            return ScrapeError::Timeout;
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        let mut text = Vec::new();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                return ScrapeError::ConnectionRefused;
            }
            // rustls errors arrive wrapped in io::Errors (nested ones, too), whose `source` skips
            // the wrapped error, so unwrap them by hand.
            let mut inner: &(dyn std::error::Error + 'static) = cause;
            while let Some(wrapped) = inner.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                inner = wrapped;
            }
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return ScrapeError::Tls(tls.to_string());
            }
            let part = cause.to_string();
            // hyper-util's resolver reports "dns error: <resolver's reason>".
            if let Some(reason) = part.strip_prefix("dns error: ") {
                return ScrapeError::Dns(reason.to_owned());
            }
            if !text.iter().any(|t: &String| t.contains(&part)) {
                text.push(part);
            }
            source = cause.source();
        }
        ScrapeError::Http(text.join(": "))
    }
}
