//! `/api/v1/rules` and `/api/v1/alerts`: the rule manager's groups, rules and alerts in
//! Prometheus's shapes and field order, with its filters (`type`, `rule_name[]`,
//! `rule_group[]`, `file[]`, `match[]`, `exclude_alerts`) and pagination (`group_limit`,
//! `group_next_token`).

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use axum::response::Response;
use promlite_storage::Matcher;
use serde::Serialize;

use super::envelope::success;
use super::time::format_rfc3339;
use super::{ApiError, Params};
use crate::AppState;
use crate::rules_view::{AlertSnapshot, RuleGroupSnapshot, RuleSnapshot};

#[derive(Serialize)]
struct RuleDiscovery {
    groups: Vec<Group>,
    #[serde(rename = "groupNextToken", skip_serializing_if = "String::is_empty")]
    group_next_token: String,
}

#[derive(Serialize)]
struct Group {
    name: String,
    file: String,
    rules: Vec<Rule>,
    #[serde(serialize_with = "go_float")]
    interval: f64,
    limit: u64,
    #[serde(rename = "evaluationTime")]
    #[serde(serialize_with = "go_float")]
    evaluation_time: f64,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

#[derive(Serialize)]
struct AlertingRule {
    state: &'static str,
    name: String,
    query: String,
    #[serde(serialize_with = "go_float")]
    duration: f64,
    #[serde(rename = "keepFiringFor")]
    #[serde(serialize_with = "go_float")]
    keep_firing_for: f64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    alerts: Vec<Alert>,
    // Last in both kinds of rule, as upstream's structs have them.
    #[serde(flatten)]
    status: RuleStatus,
}

#[derive(Serialize)]
struct RecordingRule {
    name: String,
    query: String,
    labels: BTreeMap<String, String>,
    // Last in both kinds of rule, as upstream's structs have them.
    #[serde(flatten)]
    status: RuleStatus,
}

/// How a rule's last evaluation went, and its type.
#[derive(Serialize)]
struct RuleStatus {
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "String::is_empty")]
    last_error: String,
    #[serde(rename = "evaluationTime")]
    #[serde(serialize_with = "go_float")]
    evaluation_time: f64,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl RuleStatus {
    fn of(r: &RuleSnapshot, kind: &'static str) -> RuleStatus {
        RuleStatus {
            health: r.health,
            last_error: r.last_error.clone(),
            evaluation_time: r.evaluation_seconds,
            last_evaluation: format_rfc3339(r.last_evaluation),
            kind,
        }
    }
}

#[derive(Serialize)]
struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    state: &'static str,
    #[serde(rename = "activeAt")]
    active_at: String,
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    keep_firing_since: Option<String>,
    value: String,
}

fn alert(a: &AlertSnapshot) -> Alert {
    Alert {
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        state: a.state,
        active_at: format_rfc3339(Some(a.active_at)),
        keep_firing_since: a.keep_firing_since.map(|t| format_rfc3339(Some(t))),
        value: promlite_storage::format_go_e(a.value),
    }
}

/// A float as Go's `encoding/json` writes it: a whole number without a fraction (`3`, not
/// serde's `3.0`).
fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 { s.serialize_i64(*v as i64) } else { s.serialize_f64(*v) }
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub(crate) async fn alerts(State(state): State<AppState>) -> Response {
    #[derive(Serialize)]
    struct AlertDiscovery {
        alerts: Vec<Alert>,
    }
    let alerts = state
        .rules
        .rule_groups()
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| r.alerting.as_ref())
        .flat_map(|a| a.alerts.iter().map(alert))
        .collect();
    success(&AlertDiscovery { alerts }, &[])
}

/// `GET /api/v1/rules`.
pub(crate) async fn rules(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let set = |name: &str| -> HashSet<String> { params.all(name).into_iter().map(str::to_owned).collect() };
    let (rule_names, groups_wanted, files) = (set("rule_name[]"), set("rule_group[]"), set("file[]"));
    let mut matcher_sets: Vec<Vec<Matcher>> = Vec::new();
    for selector in params.all("match[]") {
        matcher_sets.push(promlite_promql::parse_matchers(selector).map_err(ApiError::from)?);
    }
    let kind = params.get("type").unwrap_or("").to_lowercase();
    if !kind.is_empty() && kind != "alert" && kind != "record" {
        return Err(invalid("type", format!("not supported value {kind:?}")));
    }
    let exclude_alerts = match params.get("exclude_alerts").map(str::to_lowercase).as_deref() {
        None | Some("") => false,
        Some(text) => parse_go_bool(text).ok_or_else(|| {
            invalid(
                "exclude_alerts",
                format!("error converting exclude_alerts: strconv.ParseBool: parsing {text:?}: invalid syntax"),
            )
        })?,
    };
    let next_token = params.get("group_next_token").unwrap_or("");
    let max_groups = match params.get("group_limit") {
        None if !next_token.is_empty() => {
            return Err(invalid(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups".to_owned(),
            ));
        }
        None => 0,
        Some(text) => {
            let n: i64 = text.parse().map_err(|_| {
                invalid(
                    "group_limit",
                    format!(
                        "group_limit needs to be a valid number: strconv.ParseInt: parsing {text:?}: invalid syntax"
                    ),
                )
            })?;
            if n <= 0 {
                return Err(invalid("group_limit", "group_limit needs to be greater than 0".to_owned()));
            }
            n as usize
        }
    };
    let mut out = RuleDiscovery { groups: Vec::new(), group_next_token: String::new() };
    let mut found_token = false;
    for group in state.rules.rule_groups() {
        let token = next_group_token(&group);
        if max_groups > 0 && !next_token.is_empty() && !found_token {
            if token != next_token {
                continue;
            }
            found_token = true;
        }
        if (!groups_wanted.is_empty() && !groups_wanted.contains(&group.name))
            || (!files.is_empty() && !files.contains(&group.file))
        {
            continue;
        }
        let rules: Vec<Rule> = group
            .rules
            .iter()
            .filter(|r| rule_names.is_empty() || rule_names.contains(&r.name))
            .filter(|r| matcher_sets.is_empty() || matcher_sets.iter().any(|set| matches(set, &r.labels)))
            .filter_map(|r| rule(r, &kind, exclude_alerts))
            .collect();
        if rules.is_empty() {
            continue;
        }
        if max_groups > 0 && out.groups.len() == max_groups {
            out.group_next_token = token;
            break;
        }
        out.groups.push(Group {
            name: group.name.clone(),
            file: group.file.clone(),
            rules,
            interval: group.interval_seconds,
            limit: group.limit,
            evaluation_time: group.evaluation_seconds,
            last_evaluation: format_rfc3339(group.last_evaluation),
        });
    }
    if max_groups > 0 && !next_token.is_empty() && !found_token {
        return Err(invalid(
            "group_next_token",
            format!("invalid group_next_token '{next_token}'. were rule groups changed?"),
        ));
    }
    Ok(success(&out, &[]))
}

fn rule(r: &RuleSnapshot, kind: &str, exclude_alerts: bool) -> Option<Rule> {
    match &r.alerting {
        Some(a) if kind.is_empty() || kind == "alert" => Some(Rule::Alerting(AlertingRule {
            state: a.state,
            name: r.name.clone(),
            query: r.query.clone(),
            duration: a.duration_seconds,
            keep_firing_for: a.keep_firing_for_seconds,
            labels: r.labels.clone(),
            annotations: a.annotations.clone(),
            alerts: if exclude_alerts { Vec::new() } else { a.alerts.iter().map(alert).collect() },
            status: RuleStatus::of(r, "alerting"),
        })),
        None if kind.is_empty() || kind == "record" => Some(Rule::Recording(RecordingRule {
            name: r.name.clone(),
            query: r.query.clone(),
            labels: r.labels.clone(),
            status: RuleStatus::of(r, "recording"),
        })),
        _ => None,
    }
}

/// Whether a rule's labels match every matcher of `set` (a missing label is the empty value).
fn matches(set: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    set.iter().all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

/// Upstream's token: the hex SHA-256 of `file;group`.
fn next_group_token(group: &RuleGroupSnapshot) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{};{}", group.file, group.name).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::BadData(format!("invalid parameter {name:?}: {message}"))
}
