//! The scrape loop (upstream `scrape/scrape.go` `scrapeLoop`): one task per target.
//!
//! Each tick: GET the target with a timeout and a body limit, parse, label (target labels,
//! `honor_labels`), metric-relabel, check the label limits and `sample_limit`, append, commit, then
//! the report series (`up`, `scrape_duration_seconds`, …), which are never metric-relabeled.
//! Staleness markers go to every series that vanished since the last scrape, to every series when a
//! scrape fails (a failed scrape counts as an empty one), and to everything when the loop ends.
//! On a reload the loop hands its [`SeriesCache`] to its successor instead, so an unchanged target
//! keeps its series refs, its phase and its staleness state.
//! Invariant: a failing or slow target never delays another; parsing and appending run on the
//! blocking pool, never on a runtime worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promlite_storage::{AppendError, Db, Labels, LabelsBuilder, METRIC_NAME, STALE_NAN, SeriesRef};
use tokio::sync::watch;
use tracing::Instrument;

use super::error::ScrapeError;
use super::metrics::ScrapeMetrics;
use super::target::{MetadataMap, MetricMetadata, Target};
use super::textparse::{self, Entry, Parser};
use crate::config::ScrapeProtocol;
use crate::http_client::HttpClient;
use crate::relabel::{self, RelabelConfig};

/// Samples further ahead of the scraper's clock than this are rejected (upstream `maxAheadTime`).
const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The settings one loop runs with, resolved from its target and scrape config.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Time between scrapes.
    pub interval: Duration,
    /// Per-scrape timeout, at most `interval`.
    pub timeout: Duration,
    /// Scraped labels win over target labels.
    pub honor_labels: bool,
    /// Use timestamps from the body.
    pub honor_timestamps: bool,
    /// More samples than this (after metric relabeling) fails the scrape; 0 means no limit.
    pub sample_limit: u64,
    /// An uncompressed body larger than this fails the scrape; 0 means no limit.
    pub body_size_limit: u64,
    /// More labels than this on one series fails the scrape; 0 means no limit.
    pub label_limit: u64,
    /// A label name longer than this fails the scrape; 0 means no limit.
    pub label_name_length_limit: u64,
    /// A label value longer than this fails the scrape; 0 means no limit.
    pub label_value_length_limit: u64,
    /// Also write `scrape_timeout_seconds`, `scrape_sample_limit`, `scrape_body_size_bytes`.
    pub extra_scrape_metrics: bool,
    /// `metric_relabel_configs`, applied to every scraped series before it is stored.
    pub metric_relabel_configs: Arc<[RelabelConfig]>,
    /// Mixed into every target's offset (Prometheus: hostname and external labels).
    pub offset_seed: u64,
    /// The `Accept` header, built from `scrape_protocols` as Prometheus 3 builds it.
    pub accept: Arc<str>,
    /// The parser for a missing or unusable `Content-Type`.
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// The manager's scrape metrics.
    pub metrics: Arc<ScrapeMetrics>,
}

/// What the pool tells a running loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep scraping.
    Run,
    /// The target is gone: end, and write staleness markers for its series once the next
    /// scrape would have been (unless the server shuts down meanwhile).
    Stop,
    /// A successor takes over: end without staleness and return the cache.
    Handover,
    /// The server shuts down: end without staleness markers, as Prometheus does ("we presume
    /// the server is shutting down and will restart where it was"), so a restart leaves no gap.
    Shutdown,
}

/// Runs the loop for `target` until told to stop; returns the cache on [`Control::Handover`].
pub async fn run(
    target: Arc<Target>,
    client: HttpClient,
    db: Db,
    options: LoopOptions,
    mut control: watch::Receiver<Control>,
    cache: Option<SeriesCache>,
) -> Option<SeriesCache> {
    let span = tracing::info_span!("scrape_loop", scrape_pool = %target.labels.get("job"), target = %target.url);
    async move {
        let start = first_tick(target.hash ^ options.offset_seed, options.interval);
        let mut ticker = tokio::time::interval_at(start, options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut cache = cache.unwrap_or_default();
        let interval_length = options.metrics.interval_length(options.interval);
        let mut last_tick: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let now = tokio::time::Instant::now();
                    if let Some(last) = last_tick.replace(now) {
                        interval_length.observe(now.duration_since(last).as_secs_f64());
                    }
                }
                changed = control.changed() => {
                    let command = if changed.is_ok() { *control.borrow() } else { Control::Stop };
                    match command {
                        Control::Run => continue,
                        Control::Handover => return Some(cache),
                        Control::Stop => break,
                        Control::Shutdown => return None,
                    }
                }
            }
            cache = scrape_once(&target, &client, &db, &options, cache).await;
        }
        // Never scraped: nothing to mark.
        last_tick?;
        let stale_at = end_of_run_wait(&mut ticker, &mut control, options.interval).await?;
        let stale_ms = unix_ms(stale_at);
        let _ = tokio::task::spawn_blocking(move || cache.end_of_run_staleness(&db, stale_ms)).await;
        None
    }
    .instrument(span)
    .await
}

/// Upstream's `endOfRunStaleness` wait for a target that went away: the staleness time is the
/// next scrape that would have been; the markers are written one more interval and a tenth
/// later, so a restart or a successor has the chance to scrape first. `None` when the server
/// shuts down meanwhile: no markers then.
async fn end_of_run_wait(
    ticker: &mut tokio::time::Interval,
    control: &mut watch::Receiver<Control>,
    interval: Duration,
) -> Option<SystemTime> {
    tokio::select! {
        _ = ticker.tick() => {}
        () = shutdown(control) => return None,
    }
    let stale_at = SystemTime::now();
    tokio::select! {
        _ = ticker.tick() => {}
        () = shutdown(control) => return None,
    }
    tokio::select! {
        () = tokio::time::sleep(interval / 10) => Some(stale_at),
        () = shutdown(control) => None,
    }
}

/// Resolves when the pool says [`Control::Shutdown`]; never when the pool is gone.
async fn shutdown(control: &mut watch::Receiver<Control>) {
    loop {
        if control.changed().await.is_err() {
            return std::future::pending().await;
        }
        if *control.borrow() == Control::Shutdown {
            return;
        }
    }
}

/// The next instant at which `(now - offset) % interval == 0`, so targets spread over the interval
/// by hash and keep their phase across restarts and reloads.
fn first_tick(hash: u64, interval: Duration) -> tokio::time::Instant {
    let interval_ns = interval.as_nanos().max(1) as u64;
    let offset = hash % interval_ns;
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let wait = (offset + interval_ns - now_ns % interval_ns) % interval_ns;
    tokio::time::Instant::now() + Duration::from_nanos(wait)
}

async fn scrape_once(
    target: &Arc<Target>,
    client: &HttpClient,
    db: &Db,
    options: &LoopOptions,
    cache: SeriesCache,
) -> SeriesCache {
    let start = SystemTime::now();
    let started = Instant::now();
    let body = fetch(client, target, options).await;
    let target = Arc::clone(target);
    let db = db.clone();
    let options = options.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let mut cache = cache;
        let timestamp = unix_ms(start);
        let body_size = body.as_ref().map_or(-1.0, |fetched| fetched.body.len() as f64);
        let result = body.and_then(|fetched| cache.append_scrape(&db, &target, &options, &fetched, timestamp));
        let duration = started.elapsed();
        let error = result.as_ref().err().map(ToString::to_string);
        if let Err(err) = &result {
            options.metrics.count_refused(err);
        }
        if let Some(err) = &error {
            tracing::debug!(error = %err, duration_ms = duration.as_millis() as u64, "scrape failed");
            cache.mark_all_stale(&db, timestamp);
        }
        let counts = result.unwrap_or_default();
        let report = Report { up: error.is_none(), duration, counts, body_size };
        cache.append_report(&db, &target, &options, timestamp, report);
        target.report(start, duration, error);
        cache
    });
    match handle.await {
        Ok(cache) => cache,
        Err(err) => {
            // Never expected; but a bug must cost one scrape, not the target's loop forever.
            tracing::error!(error = %err, "appending a scrape failed unexpectedly; the next scrape starts afresh");
            SeriesCache::default()
        }
    }
}

/// A scrape's response: the body and its `Content-Type`.
struct Fetched {
    body: Vec<u8>,
    content_type: Option<String>,
}

async fn fetch(client: &HttpClient, target: &Target, options: &LoopOptions) -> Result<Fetched, ScrapeError> {
    let request = client
        .get(target.url.clone())
        .map_err(ScrapeError::Client)?
        .header(reqwest::header::ACCEPT, options.accept.as_ref())
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", options.timeout.as_secs_f64()))
        .timeout(options.timeout);
    let mut response = request.send().await.map_err(ScrapeError::from_reqwest)?;
    if !response.status().is_success() {
        return Err(ScrapeError::Status(response.status().as_u16()));
    }
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ScrapeError::from_reqwest)? {
        body.extend_from_slice(&chunk);
        if options.body_size_limit > 0 && body.len() as u64 > options.body_size_limit {
            return Err(ScrapeError::BodySizeLimit(options.body_size_limit));
        }
    }
    Ok(Fetched { body, content_type })
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Sample counts of one scrape, for the report series.
#[derive(Debug, Default, Clone, Copy)]
struct ScrapeCounts {
    scraped: u64,
    post_relabel: u64,
    series_added: u64,
}

impl ScrapeCounts {
    /// Counts one sample that survived metric relabeling, failing past `sample_limit` (0: none).
    fn admit(&mut self, sample_limit: u64) -> Result<(), ScrapeError> {
        self.post_relabel += 1;
        if sample_limit > 0 && self.post_relabel > sample_limit {
            return Err(ScrapeError::SampleLimit(sample_limit));
        }
        Ok(())
    }
}

/// What the report series say about one scrape.
struct Report {
    up: bool,
    duration: Duration,
    counts: ScrapeCounts,
    /// Uncompressed body bytes, or -1 when there was no body.
    body_size: f64,
}

struct CacheEntry {
    /// `None` for a series that metric relabeling drops: it costs a lookup, not a relabel.
    series_ref: Option<SeriesRef>,
    last_iteration: u64,
}

/// Per-target memory of series: raw series text → head ref, so a known series costs one lookup,
/// and which series the last scrape had, for staleness. Entries unseen for two scrapes go.
/// Keys are the xxh3-128 of the series text, not the text: a 16-byte key keeps the table small
/// and cache-friendly on 100k-series pages (textparse measured the `String`-keyed lookup as the
/// bottleneck), and a 128-bit collision is not a practical risk.
#[derive(Default)]
pub struct SeriesCache {
    entries: HashMap<u128, CacheEntry, foldhash::fast::RandomState>,
    report_refs: Vec<SeriesRef>,
    iteration: u64,
}

impl SeriesCache {
    fn append_scrape(
        &mut self,
        db: &Db,
        target: &Target,
        options: &LoopOptions,
        fetched: &Fetched,
        timestamp: i64,
    ) -> Result<ScrapeCounts, ScrapeError> {
        let body = fetched.body.as_slice();
        let (format, warning) =
            textparse::parser_for(fetched.content_type.as_deref(), body, options.fallback_scrape_protocol)?;
        target.set_warning(warning.map(|w| w.to_string()));
        let iteration = self.iteration + 1;
        let mut appender = db.appender();
        let mut counts = ScrapeCounts::default();
        let mut out_of_bounds = 0u64;
        let mut metadata = MetadataMap::new();
        // Series resolved in this scrape join the cache only if it succeeds, so a failed scrape
        // never marks (as stale) a series it alone introduced.
        let mut new_entries: Vec<(u128, Option<SeriesRef>)> = Vec::new();
        let fail = |appender: promlite_storage::Appender, err: ScrapeError| {
            appender.rollback();
            Err(err)
        };
        for entry in Parser::new(body, format) {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => return fail(appender, ScrapeError::Parse(err)),
            };
            let sample = match entry {
                Entry::Sample(sample) => sample,
                Entry::Type { name, kind } => {
                    metadata.entry(name.into_owned()).or_insert_with(unknown_metadata).kind = kind.as_str();
                    continue;
                }
                Entry::Help { name, text } => {
                    metadata.entry(name.into_owned()).or_insert_with(unknown_metadata).help = text.into_owned();
                    continue;
                }
                Entry::Unit { name, unit } => {
                    metadata.entry(name.into_owned()).or_insert_with(unknown_metadata).unit = unit.to_owned();
                    continue;
                }
            };
            counts.scraped += 1;
            let t = match sample.timestamp {
                Some(t) if options.honor_timestamps => t,
                _ => timestamp,
            };
            if t > timestamp + MAX_AHEAD_MS {
                out_of_bounds += 1;
                continue;
            }
            let key = xxhash_rust::xxh3::xxh3_128(sample.series.as_bytes());
            let series_ref = match self.entries.get_mut(&key) {
                Some(cached) => {
                    cached.last_iteration = iteration;
                    cached.series_ref
                }
                None => {
                    let parsed = match sample.labels() {
                        Ok(parsed) => parsed,
                        Err(err) => return fail(appender, ScrapeError::Parse(err)),
                    };
                    let labels = series_labels(target, &parsed.name, &parsed.labels, options.honor_labels);
                    let Some(labels) = relabel::process(&labels, &options.metric_relabel_configs) else {
                        new_entries.push((key, None));
                        continue;
                    };
                    if let Err(err) = check_label_limits(&labels, options) {
                        return fail(appender, err);
                    }
                    match appender.append_owned(labels, t, sample.value) {
                        Ok(series_ref) => {
                            counts.series_added += 1;
                            new_entries.push((key, Some(series_ref)));
                            if let Err(err) = counts.admit(options.sample_limit) {
                                return fail(appender, err);
                            }
                        }
                        Err(err) => {
                            options.metrics.count_rejected(&err);
                            tracing::debug!(error = %err, "sample not appended");
                        }
                    }
                    // `append` queued this sample already.
                    continue;
                }
            };
            let Some(series_ref) = series_ref else { continue };
            if let Err(err) = counts.admit(options.sample_limit) {
                return fail(appender, err);
            }
            appender.append_ref(series_ref, t, sample.value);
        }
        if out_of_bounds > 0 {
            options.metrics.count_out_of_bounds(out_of_bounds);
            tracing::debug!(samples = out_of_bounds, "samples more than 10m in the future rejected as out of bounds");
        }
        // A failed commit stored nothing, and the refs of series it would have created mean
        // nothing: the cache learns them only from a commit that worked.
        let rejected = appender.commit().map_err(|err| ScrapeError::Storage(err.to_string()))?;
        let mut unknown = Vec::new();
        for (series_ref, err) in rejected {
            options.metrics.count_rejected(&err);
            tracing::debug!(?series_ref, error = %err, "sample rejected by the head");
            if matches!(err, AppendError::UnknownSeriesRef(_)) {
                unknown.push(series_ref);
            }
        }
        if !unknown.is_empty() {
            // Head truncation garbage-collected these series (they had no sample newer than the
            // last block, e.g. a frozen exposed timestamp): forget them, so the next scrape
            // creates them anew rather than losing their samples for as long as they are seen.
            self.entries.retain(|_, entry| !entry.series_ref.is_some_and(|r| unknown.contains(&r)));
        }
        for (key, series_ref) in new_entries {
            self.entries.insert(key, CacheEntry { series_ref, last_iteration: iteration });
        }
        self.iteration = iteration;
        self.stale_vanished(db, timestamp);
        target.set_metadata(metadata);
        Ok(counts)
    }

    /// Writes a staleness marker for each series the previous scrape had and this one did not,
    /// and forgets series unseen for longer.
    fn stale_vanished(&mut self, db: &Db, timestamp: i64) {
        let mut appender = db.appender();
        let iteration = self.iteration;
        self.entries.retain(|_, entry| {
            if entry.last_iteration + 1 == iteration
                && let Some(series_ref) = entry.series_ref
            {
                appender.append_ref(series_ref, timestamp, STALE_NAN);
            }
            entry.last_iteration + 1 >= iteration
        });
        commit_markers(appender);
    }

    /// After a failed scrape (or at the end of the run): a staleness marker for every series
    /// that was live, then an empty cache. Entries a failed scrape touched count as live; the
    /// next scrape re-resolves its series (one label parse each), which keeps this simple.
    fn mark_all_stale(&mut self, db: &Db, timestamp: i64) {
        let mut appender = db.appender();
        for entry in self.entries.values() {
            if entry.last_iteration >= self.iteration
                && let Some(series_ref) = entry.series_ref
            {
                appender.append_ref(series_ref, timestamp, STALE_NAN);
            }
        }
        commit_markers(appender);
        self.entries.clear();
        self.iteration += 1;
    }

    fn end_of_run_staleness(mut self, db: &Db, timestamp: i64) {
        self.mark_all_stale(db, timestamp);
        let mut appender = db.appender();
        for series_ref in &self.report_refs {
            appender.append_ref(*series_ref, timestamp, STALE_NAN);
        }
        commit_markers(appender);
    }

    fn append_report(&mut self, db: &Db, target: &Target, options: &LoopOptions, timestamp: i64, report: Report) {
        let mut values = vec![
            ("up", if report.up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", report.duration.as_secs_f64()),
            ("scrape_samples_scraped", report.counts.scraped as f64),
            ("scrape_samples_post_metric_relabeling", report.counts.post_relabel as f64),
            ("scrape_series_added", report.counts.series_added as f64),
        ];
        if options.extra_scrape_metrics {
            values.push(("scrape_timeout_seconds", options.timeout.as_secs_f64()));
            values.push(("scrape_sample_limit", options.sample_limit as f64));
            values.push(("scrape_body_size_bytes", report.body_size));
        }
        let mut appender = db.appender();
        if self.report_refs.len() != values.len() {
            self.report_refs.clear();
            for (name, value) in values {
                let mut builder = LabelsBuilder::new(&target.labels);
                builder.set(METRIC_NAME.to_owned(), name.to_owned());
                let labels = builder.labels();
                match appender.append(&labels, timestamp, value) {
                    Ok(series_ref) => self.report_refs.push(series_ref),
                    Err(err) => tracing::debug!(series = %labels, error = %err, "report sample not appended"),
                }
            }
        } else {
            for (series_ref, (_, value)) in self.report_refs.iter().zip(values) {
                appender.append_ref(*series_ref, timestamp, value);
            }
        }
        match appender.commit() {
            // Garbage-collected by head truncation (no report for longer than the head keeps,
            // say a 4h scrape interval): look them up again next time.
            Ok(rejected) if rejected.iter().any(|(_, err)| matches!(err, AppendError::UnknownSeriesRef(_))) => {
                self.report_refs.clear();
            }
            Ok(_) => {}
            Err(err) => {
                // The scrape's own commit failed the same way and the target shows it; the refs of
                // report series this batch would have created are void.
                tracing::debug!(error = %err, "report series not stored");
                self.report_refs.clear();
            }
        }
    }
}

/// Commits staleness markers. A failure (a full disk) is shown by the target's next scrape,
/// which fails the same way; the markers are lost, as the samples they end were not stored.
fn commit_markers(appender: promlite_storage::Appender) {
    if let Err(err) = appender.commit() {
        tracing::debug!(error = %err, "staleness markers not stored");
    }
}

fn unknown_metadata() -> MetricMetadata {
    MetricMetadata { kind: "unknown", ..MetricMetadata::default() }
}

/// The label limits of a scrape config (upstream `verifyLabelLimits`), checked once per new series.
fn check_label_limits(labels: &Labels, options: &LoopOptions) -> Result<(), ScrapeError> {
    let metric = labels.get(METRIC_NAME);
    if options.label_limit > 0 && labels.len() as u64 > options.label_limit {
        return Err(ScrapeError::LabelLimit(format!(
            "label_limit exceeded (metric: {metric:.50}, number of labels: {}, limit: {})",
            labels.len(),
            options.label_limit
        )));
    }
    for label in labels {
        if options.label_name_length_limit > 0 && label.name.len() as u64 > options.label_name_length_limit {
            return Err(ScrapeError::LabelLimit(format!(
                "label_name_length_limit exceeded (metric: {metric:.50}, label name: {:.50}, length: {}, limit: {})",
                label.name,
                label.name.len(),
                options.label_name_length_limit
            )));
        }
        if options.label_value_length_limit > 0 && label.value.len() as u64 > options.label_value_length_limit {
            return Err(ScrapeError::LabelLimit(format!(
                "label_value_length_limit exceeded (metric: {metric:.50}, label name: {:.50}, value: {:.50}, length: {}, limit: {})",
                label.name,
                label.value,
                label.value.len(),
                options.label_value_length_limit
            )));
        }
    }
    Ok(())
}

/// Joins scraped labels with the target's (upstream `mutateSampleLabels`). Without
/// honor_labels, a scraped label that clashes with a target label becomes `exported_<name>`
/// (repeatedly, until free) and the target's value wins.
fn series_labels(
    target: &Target,
    name: &str,
    scraped: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
    honor_labels: bool,
) -> Labels {
    let mut builder = LabelsBuilder::new(&Labels::empty());
    builder.set(METRIC_NAME.to_owned(), name.to_owned());
    for (label, value) in scraped {
        builder.set(label.to_string(), value.to_string());
    }
    for label in &target.labels {
        let existing = builder.get(&label.name).to_owned();
        if honor_labels {
            if existing.is_empty() {
                builder.set(label.name.clone(), label.value.clone());
            }
            continue;
        }
        if !existing.is_empty() {
            let mut exported = format!("exported_{}", label.name);
            while !builder.get(&exported).is_empty() {
                exported = format!("exported_{exported}");
            }
            builder.set(exported, existing);
        }
        builder.set(label.name.clone(), label.value.clone());
    }
    builder.labels()
}
