//! Server-rendered pages. For now one: `/targets`, every pool with its targets, their health and
//! last error, and every dropped target with the reason it was dropped.
//! FIXME(#8): service discovery, graph and status pages; `/` redirects to `/targets` meanwhile.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::response::{Html, Redirect};
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(root)).route("/targets", get(targets))
}

async fn root(State(state): State<AppState>) -> Redirect {
    Redirect::to(&format!("{}/targets", state.options.route_prefix))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn targets(State(state): State<AppState>) -> Html<String> {
    let active = state.targets.active_targets();
    let dropped = state.targets.dropped_targets();
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Targets - promlite</title><style>\
         body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}\
         td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
         .up{color:#080}.down{color:#b00}.unknown{color:#888}code{font-size:90%}</style></head><body><h1>Targets</h1>",
    );
    for pool in state.targets.scrape_pools() {
        let in_pool: Vec<_> = active.iter().filter(|t| t.scrape_pool == pool).collect();
        let up = in_pool.iter().filter(|t| t.health == crate::TargetHealth::Up).count();
        let _ = write!(page, "<h2>{} ({up}/{} up)</h2>", escape(&pool), in_pool.len());
        let notes = state.targets.discovery_notes(&pool);
        if !notes.is_empty() {
            page.push_str("<ul class=\"notes\">");
            for note in &notes {
                let _ = write!(page, "<li>{}</li>", escape(note));
            }
            page.push_str("</ul>");
        }
        if in_pool.is_empty() {
            let why = dropped.iter().filter(|d| d.scrape_pool == pool).count();
            let _ = write!(
                page,
                "<p>No active targets: {why} discovered target(s) were dropped (see below), and no others were discovered.</p>"
            );
            continue;
        }
        page.push_str("<table><tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Duration</th><th>Error</th></tr>");
        for target in in_pool {
            let health = target.health.as_str();
            let last = target
                .last_scrape
                .and_then(|t| t.elapsed().ok())
                .map(|d| format!("{:.1}s ago", d.as_secs_f64()))
                .unwrap_or_else(|| "never".to_owned());
            let _ = write!(
                page,
                "<tr><td><a href=\"{url}\">{url}</a></td><td class=\"{health}\">{health}</td><td><code>{labels}</code></td><td>{last}</td><td>{dur:.3}s</td><td>{err}</td></tr>",
                url = escape(&crate::redact_url(&target.scrape_url)),
                labels = escape(&target.labels.to_string()),
                dur = target.last_scrape_duration.as_secs_f64(),
                err = escape(&match (&target.last_error, &target.warning) {
                    (error, _) if !error.is_empty() =>
                        crate::redact_password_in(error, &target.scrape_url).into_owned(),
                    (_, Some(warning)) => format!("warning: {warning}"),
                    _ => String::new(),
                }),
            );
        }
        page.push_str("</table>");
    }
    if !dropped.is_empty() {
        page.push_str("<h2>Dropped targets</h2><table><tr><th>Pool</th><th>Discovered labels</th><th>Why</th></tr>");
        for target in &dropped {
            let _ = write!(
                page,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&target.scrape_pool),
                escape(&target.discovered_labels.to_string()),
                escape(&target.reason)
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</body></html>");
    Html(page)
}
