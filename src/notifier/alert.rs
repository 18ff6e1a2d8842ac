//! Alerts on their way out (upstream `notifier/alert.go`, `notifier/util.go`): external labels
//! and `alert_relabel_configs` applied, then the body of Alertmanager's `POST /api/v2/alerts`
//! (its OpenAPI `postableAlerts`: `labels`, `annotations`, `startsAt`, `endsAt`,
//! `generatorURL`, times in RFC 3339 with milliseconds, UTC).
//! Invariant: an alert is never changed in place; relabeling that changes it makes a new one,
//! so alerts queued for several Alertmanagers share one copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use promlite_storage::{Labels, LabelsBuilder};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::relabel::{self, RelabelConfig};
use crate::rules::OutgoingAlert;

/// Adds the external labels an alert lacks (or has empty), then applies `rules`; alerts the
/// rules drop are gone. Upstream `relabelAlerts`.
pub(crate) fn relabel_alerts(
    alerts: Vec<Arc<OutgoingAlert>>,
    external_labels: &[(String, String)],
    rules: &[RelabelConfig],
) -> Vec<Arc<OutgoingAlert>> {
    if external_labels.is_empty() && rules.is_empty() {
        return alerts;
    }
    alerts
        .into_iter()
        .filter_map(|alert| {
            let mut builder = LabelsBuilder::new(&alert.labels);
            for (name, value) in external_labels {
                if alert.labels.get(name).is_empty() {
                    builder.set(name.clone(), value.clone());
                }
            }
            let labels = relabel::process(&builder.labels(), rules)?;
            if labels == alert.labels {
                return Some(alert);
            }
            Some(Arc::new(OutgoingAlert { labels, ..(*alert).clone() }))
        })
        .collect()
}

/// One element of the request body, fields in the order Alertmanager's Go client writes them.
#[derive(Serialize)]
struct PostableAlert<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "endsAt")]
    ends_at: String,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: LabelSet<'a>,
}

/// Labels as a JSON object (they are sorted by name, so the keys are too).
struct LabelSet<'a>(&'a Labels);

impl Serialize for LabelSet<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for label in self.0 {
            map.serialize_entry(&label.name, &label.value)?;
        }
        map.end()
    }
}

/// The JSON body of one `POST /api/v2/alerts`.
pub(crate) fn encode_alerts(alerts: &[Arc<OutgoingAlert>]) -> Vec<u8> {
    let body: Vec<PostableAlert<'_>> = alerts
        .iter()
        .map(|alert| PostableAlert {
            annotations: &alert.annotations,
            ends_at: rfc3339_millis(alert.ends_at),
            starts_at: rfc3339_millis(alert.starts_at),
            generator_url: &alert.generator_url,
            labels: LabelSet(&alert.labels),
        })
        .collect();
    serde_json::to_vec(&body).expect("alerts serialize: string maps and strings only")
}

/// Unix nanoseconds as go-openapi's `strfmt.DateTime` writes them: `2006-01-02T15:04:05.000Z`.
fn rfc3339_millis(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    format!("{}.{millis:03}Z", promlite_promql::calendar::format_date_time(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)]) -> Arc<OutgoingAlert> {
        Arc::new(OutgoingAlert {
            labels: Labels::from_pairs(labels.iter().copied()),
            annotations: BTreeMap::from([("summary".to_owned(), "too hot".to_owned())]),
            starts_at: 1_700_000_000_123_456_789,
            ends_at: 1_700_000_240_000_000_000,
            generator_url: "http://prom:9090/graph?g0.expr=up".to_owned(),
        })
    }

    fn rules(yaml: &str) -> Vec<RelabelConfig> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn labels_of(alerts: &[Arc<OutgoingAlert>]) -> Vec<String> {
        alerts
            .iter()
            .map(|a| a.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect::<Vec<_>>().join(","))
            .collect()
    }

    #[test]
    fn external_labels_fill_only_what_an_alert_lacks() {
        let external = [("cluster".to_owned(), "eu".to_owned()), ("severity".to_owned(), "info".to_owned())];
        let alerts = vec![alert(&[("alertname", "A"), ("severity", "page")]), alert(&[("alertname", "B")])];
        let out = relabel_alerts(alerts, &external, &[]);
        assert_eq!(labels_of(&out), ["alertname=A,cluster=eu,severity=page", "alertname=B,cluster=eu,severity=info"]);
    }

    #[test]
    fn relabeling_sees_external_labels_and_can_drop() {
        let external = [("cluster".to_owned(), "eu".to_owned())];
        let rules = rules(
            "- {source_labels: [alertname], regex: Drop.*, action: drop}\n\
             - {source_labels: [cluster], target_label: region, replacement: 'r-$1'}\n",
        );
        let alerts = vec![alert(&[("alertname", "DropMe")]), alert(&[("alertname", "Keep")])];
        let out = relabel_alerts(alerts, &external, &rules);
        assert_eq!(labels_of(&out), ["alertname=Keep,cluster=eu,region=r-eu"]);
    }

    #[test]
    fn an_unchanged_alert_is_shared_not_copied() {
        let original = alert(&[("alertname", "A")]);
        let rules = rules("- {source_labels: [alertname], regex: A, action: keep}\n");
        let out = relabel_alerts(vec![Arc::clone(&original)], &[], &rules);
        assert!(Arc::ptr_eq(&out[0], &original));
    }

    #[test]
    fn the_body_is_alertmanagers_postable_alerts() {
        let mut bare = (*alert(&[("alertname", "B"), ("a", "x\"y")])).clone();
        bare.annotations.clear();
        bare.generator_url.clear();
        bare.starts_at = 0;
        let body = encode_alerts(&[alert(&[("alertname", "A"), ("job", "j")]), Arc::new(bare)]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"[{"annotations":{"summary":"too hot"},"endsAt":"2023-11-14T22:17:20.000Z","#,
                r#""startsAt":"2023-11-14T22:13:20.123Z","generatorURL":"http://prom:9090/graph?g0.expr=up","#,
                r#""labels":{"alertname":"A","job":"j"}},"#,
                r#"{"endsAt":"2023-11-14T22:17:20.000Z","startsAt":"1970-01-01T00:00:00.000Z","#,
                r#""labels":{"a":"x\"y","alertname":"B"}}]"#,
            )
        );
    }
}
