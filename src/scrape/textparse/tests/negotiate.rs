//! Content negotiation as Prometheus 3 does it: the Accept header sent, the parser chosen from
//! Content-Type, body and `fallback_scrape_protocol`, and sniffing a body's format.

use super::*;
use crate::config::{DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_PROTOCOLS, ScrapeProtocol};

#[test]
fn accept_header_is_prometheus_3s() {
    assert_eq!(
        accept_header(&DEFAULT_SCRAPE_PROTOCOLS, "allow-utf-8"),
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
         application/openmetrics-text;version=0.0.1;q=0.5,\
         text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
         text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    );
    assert_eq!(
        accept_header(&DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, "underscores"),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
         application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
         application/openmetrics-text;version=0.0.1;q=0.4,\
         text/plain;version=1.0.0;escaping=underscores;q=0.3,\
         text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    assert_eq!(
        accept_header(&[ScrapeProtocol::PrometheusText0_0_4], "allow-utf-8"),
        "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
    );
}

#[test]
fn parser_is_chosen_like_prometheus_3() {
    let text_body = b"# TYPE up gauge\nup 1\n";
    let om_body = b"up 1\n# EOF\n";
    let html = b"<!DOCTYPE html><html><body>Not found</body></html>";
    // Content-Type, body, fallback_scrape_protocol, and the outcome.
    type Case<'a> = (Option<&'a str>, &'a [u8], Option<ScrapeProtocol>, String);
    let cases: Vec<Case<'_>> = vec![
        (Some("text/plain; version=0.0.4; charset=utf-8"), text_body, None, "PrometheusText".into()),
        (Some("TEXT/PLAIN"), text_body, None, "PrometheusText".into()),
        (Some("text/plain;version=1.0.0;escaping=allow-utf-8"), text_body, None, "PrometheusText".into()),
        (Some("application/openmetrics-text; version=1.0.0; charset=utf-8"), om_body, None, "OpenMetrics".into()),
        (
            Some("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"),
            b"",
            None,
            "error: Content-Type application/vnd.google.protobuf (PrometheusProto) is not supported yet; remove PrometheusProto from scrape_protocols and fallback_scrape_protocol".into(),
        ),
        (
            None,
            om_body,
            Some(ScrapeProtocol::PrometheusText0_0_4),
            "PrometheusText, warning: non-compliant scrape target sending blank Content-Type, using fallback_scrape_protocol \"PrometheusText0.0.4\"".into(),
        ),
        (
            Some("text/html"),
            text_body,
            Some(ScrapeProtocol::OpenMetricsText1_0_0),
            "OpenMetrics, warning: received unsupported Content-Type \"text/html\", using fallback_scrape_protocol \"OpenMetricsText1.0.0\"".into(),
        ),
        (
            Some("text/plain; version"),
            text_body,
            Some(ScrapeProtocol::PrometheusText1_0_0),
            "PrometheusText, warning: could not parse received Content-Type \"text/plain; version\", using fallback_scrape_protocol \"PrometheusText1.0.0\"".into(),
        ),
        (
            Some("text/html; charset=utf-8"),
            text_body,
            None,
            "PrometheusText, warning: received unsupported Content-Type \"text/html; charset=utf-8\"; the body looks like text/plain, parsed as such (set fallback_scrape_protocol, or fix the target's Content-Type)".into(),
        ),
        (
            Some(""),
            om_body,
            None,
            "OpenMetrics, warning: non-compliant scrape target sending blank Content-Type; the body looks like application/openmetrics-text, parsed as such (set fallback_scrape_protocol, or fix the target's Content-Type)".into(),
        ),
        (
            Some("text/html"),
            html,
            None,
            "error: received unsupported Content-Type \"text/html\" and no fallback_scrape_protocol specified for target; the body is in no exposition format either".into(),
        ),
        (
            None,
            b"{\"status\":\"ok\"}",
            None,
            "error: non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target; the body is in no exposition format either".into(),
        ),
        (
            None,
            b"",
            Some(ScrapeProtocol::PrometheusProto),
            "error: Content-Type application/vnd.google.protobuf (PrometheusProto) is not supported yet; remove PrometheusProto from scrape_protocols and fallback_scrape_protocol".into(),
        ),
    ];
    for (content_type, body, fallback, expected) in cases {
        let got = match parser_for(content_type, body, fallback) {
            Ok((format, None)) => format!("{format:?}"),
            Ok((format, Some(warning))) => format!("{format:?}, warning: {warning}"),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(got, expected, "Content-Type {content_type:?}");
    }
}

#[test]
fn sniffing_tells_formats_apart() {
    assert_eq!(sniff(b""), Some(Format::PrometheusText));
    assert_eq!(sniff(b"# HELP a b\n# TYPE a gauge\na{b=\"c\"} 1\n"), Some(Format::PrometheusText));
    assert_eq!(sniff(b"a 1\n# EOF\n\n"), Some(Format::OpenMetrics));
    assert_eq!(sniff(b"# EOF"), Some(Format::OpenMetrics));
    assert_eq!(sniff(b"Not Found\n"), None);
    assert_eq!(sniff(b"<html></html>"), None);
    assert_eq!(sniff(b"\x0a\x0b\x00\xff protobuf"), None);
    assert_eq!(sniff(b"a{b=\"1\",b=\"2\"} 1\n"), None);
    // Only the head is read: a bad line far down is the parser's business, not the sniffer's.
    let mut long = "up 1\n".repeat(1000);
    long.push_str("bad line\n");
    assert_eq!(sniff(long.as_bytes()), Some(Format::PrometheusText));
}
