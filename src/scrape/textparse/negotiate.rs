//! Content negotiation (upstream `scrape/scrape.go` `acceptHeader` and `textparse.New`'s
//! media-type choice): the `Accept` header a scrape sends, and the [`Format`] a response is
//! parsed in.
//!
//! Like Prometheus 3: the response's media type decides; when it is blank, unparsable or
//! unknown, `fallback_scrape_protocol` is used with a warning. Beyond Prometheus: where it would
//! fail the scrape (no usable Content-Type and no fallback), the body is sniffed, parsed anyway
//! and a [`Warning`] says so; only a body in neither text format fails.

use std::fmt;

use super::{Entry, Format, Parser};
use crate::config::ScrapeProtocol;

/// The `Accept` header for `protocols` in order of preference, as Prometheus 3 builds it: each
/// protocol's media type with descending q-values, the 1.0.0 text formats carrying
/// `escaping=<escaping>` (the `metric_name_escaping_scheme`), then `*/*`. The first q-value is
/// one more tenth than there are protocols known, however few are offered (upstream
/// `acceptHeader` counts its `ScrapeProtocolsHeaders`): `0.6` for Prometheus 3's five.
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: &str) -> String {
    // The proto-first default offers every protocol there is.
    let mut weight = crate::config::DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS.len() + 1;
    let mut out = String::with_capacity(64 * (protocols.len() + 1));
    for protocol in protocols {
        out.push_str(protocol.header_value());
        if matches!(protocol, ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0) {
            out.push_str(";escaping=");
            out.push_str(escaping);
        }
        out.push_str(&format!(";q=0.{weight},"));
        weight -= 1;
    }
    out.push_str(&format!("*/*;q=0.{weight}"));
    out
}

/// What was wrong with the response's Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentTypeProblem {
    /// No Content-Type header, or an empty one.
    Blank,
    /// A Content-Type that is not a well-formed media type.
    Unparsable(String),
    /// A well-formed media type that is no exposition format (`text/html`).
    Unsupported(String),
}

impl fmt::Display for ContentTypeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentTypeProblem::Blank => f.write_str("non-compliant scrape target sending blank Content-Type"),
            ContentTypeProblem::Unparsable(ct) => write!(f, "could not parse received Content-Type {ct:?}"),
            ContentTypeProblem::Unsupported(ct) => write!(f, "received unsupported Content-Type {ct:?}"),
        }
    }
}

/// The scrape went ahead, but the target should be fixed: record this on the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// The Content-Type was unusable and `fallback_scrape_protocol` chose the format.
    #[error("{problem}, using fallback_scrape_protocol {:?}", protocol.as_str())]
    Fallback {
        /// What was wrong with the Content-Type.
        problem: ContentTypeProblem,
        /// The configured fallback.
        protocol: ScrapeProtocol,
    },
    /// The Content-Type was unusable, no fallback was configured, and the body looked like
    /// `format`.
    #[error(
        "{problem}; the body looks like {}, parsed as such (set fallback_scrape_protocol, or fix the target's Content-Type)",
        format.media_type()
    )]
    Sniffed {
        /// What was wrong with the Content-Type.
        problem: ContentTypeProblem,
        /// The format detected in the body.
        format: Format,
    },
}

/// The response cannot be parsed: the scrape fails with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    /// Protobuf exposition, which promlite does not parse yet.
    #[error(
        "Content-Type application/vnd.google.protobuf (PrometheusProto) is not supported yet; remove PrometheusProto from scrape_protocols and fallback_scrape_protocol"
    )]
    Protobuf,
    /// No usable Content-Type, no fallback, and a body in neither text format.
    #[error(
        "{problem} and no fallback_scrape_protocol specified for target; the body is in no exposition format either"
    )]
    Unrecognized {
        /// What was wrong with the Content-Type.
        problem: ContentTypeProblem,
    },
}

/// Chooses the format of a response: by its Content-Type's media type (`text/plain`,
/// `application/openmetrics-text`); when that is blank, unparsable or unknown, by `fallback`
/// (the job's `fallback_scrape_protocol`) with a warning; without a fallback, by [`sniff`]ing
/// `body`, with a warning.
pub fn parser_for(
    content_type: Option<&str>,
    body: &[u8],
    fallback: Option<ScrapeProtocol>,
) -> Result<(Format, Option<Warning>), ContentTypeError> {
    let problem = match content_type.map(str::trim).filter(|ct| !ct.is_empty()) {
        None => ContentTypeProblem::Blank,
        Some(ct) => match media_type(ct) {
            Some(media) if media == "text/plain" => return Ok((Format::PrometheusText, None)),
            Some(media) if media == "application/openmetrics-text" => return Ok((Format::OpenMetrics, None)),
            Some(media) if media == "application/vnd.google.protobuf" => return Err(ContentTypeError::Protobuf),
            Some(_) => ContentTypeProblem::Unsupported(ct.to_owned()),
            None => ContentTypeProblem::Unparsable(ct.to_owned()),
        },
    };
    if let Some(protocol) = fallback {
        let format = match protocol {
            ScrapeProtocol::PrometheusProto => return Err(ContentTypeError::Protobuf),
            ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0 => Format::PrometheusText,
            ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0 => Format::OpenMetrics,
        };
        return Ok((format, Some(Warning::Fallback { problem, protocol })));
    }
    match sniff(body) {
        Some(format) => Ok((format, Some(Warning::Sniffed { problem, format }))),
        None => Err(ContentTypeError::Unrecognized { problem }),
    }
}

/// The lowercased `type/subtype` of a Content-Type whose parameters are well-formed
/// (`key=token` or `key="quoted"`), or `None` (Go's `mime.ParseMediaType` rejects the same).
fn media_type(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = media.split_once('/')?;
    let is_token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (key, value) = param.split_once('=')?;
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        if !is_token(key.trim()) || !(quoted || is_token(value.trim())) {
            return None;
        }
    }
    Some(media)
}

/// How much of a body [`sniff`] reads, cut back to a line end.
const SNIFF_BYTES: usize = 4096;

/// Guesses a body's format: OpenMetrics when it ends with `# EOF`, the text format when its
/// first lines parse as such (samples with valid labels), `None` otherwise (HTML, JSON,
/// protobuf, an error page).
pub fn sniff(body: &[u8]) -> Option<Format> {
    let end = body.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    let trimmed = &body[..end];
    if trimmed.ends_with(b"# EOF") && (trimmed.len() == 5 || trimmed[trimmed.len() - 6] == b'\n') {
        return Some(Format::OpenMetrics);
    }
    let head = if body.len() <= SNIFF_BYTES {
        body
    } else {
        match memchr::memrchr(b'\n', &body[..SNIFF_BYTES]) {
            Some(i) => &body[..i + 1],
            None => body,
        }
    };
    let mut samples = 0;
    for entry in Parser::new(head, Format::PrometheusText) {
        match entry {
            Err(_) => return None,
            Ok(Entry::Sample(sample)) => {
                sample.labels().ok()?;
                samples += 1;
                if samples == 8 {
                    break;
                }
            }
            Ok(_) => {}
        }
    }
    Some(Format::PrometheusText)
}
