//! The scrape loop (upstream `scrape/scrape.go` `scrapeLoop`): one task per target.
//!
//! Each tick: GET the target with a timeout and a body limit, parse, label, append, commit, then
//! the report series (`up`, `scrape_duration_seconds`, …). A series that vanished since the last
//! scrape gets a staleness marker; a failed scrape counts as an empty one, so every series of the
//! target goes stale, and so does everything when the loop stops.
//! Invariant: a failing or slow target never delays another; parsing and appending run on the
//! blocking pool, never on a runtime worker.
//! FIXME(#5): no metric relabeling, label limits, or future-timestamp check yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promlite_storage::{Db, Labels, LabelsBuilder, METRIC_NAME, STALE_NAN, SeriesRef};
use tokio::sync::watch;
use tracing::Instrument;

use super::error::ScrapeError;
use super::target::Target;
use super::textparse::{Entry, PromParser};

/// The settings one loop runs with, resolved from its scrape config.
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
    /// More samples than this fails the scrape; 0 means no limit.
    pub sample_limit: u64,
    /// An uncompressed body larger than this fails the scrape; 0 means no limit.
    pub body_size_limit: u64,
    /// Mixed into every target's offset (Prometheus: hostname and external labels).
    pub offset_seed: u64,
}

/// The `Accept` header Prometheus 3 sends for its default protocols, text 0.0.4 first for now.
const ACCEPT: &str = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1";

/// Runs the loop for `target` until `stop` changes.
pub async fn run(
    target: Arc<Target>,
    client: reqwest::Client,
    db: Db,
    options: LoopOptions,
    mut stop: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("scrape_loop", scrape_pool = %target.labels.get("job"), target = %target.url);
    async move {
        let start = first_tick(target.hash ^ options.offset_seed, options.interval);
        let mut ticker = tokio::time::interval_at(start, options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut cache = SeriesCache::default();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            cache = scrape_once(&target, &client, &db, &options, cache).await;
        }
        let now = unix_ms(SystemTime::now());
        tokio::task::spawn_blocking(move || cache.end_of_run_staleness(&db, now));
    }
    .instrument(span)
    .await
}

/// The next instant at which `(now - offset) % interval == 0`, so targets spread over the interval
/// by hash and keep their phase across restarts.
fn first_tick(hash: u64, interval: Duration) -> tokio::time::Instant {
    let interval_ns = interval.as_nanos().max(1) as u64;
    let offset = hash % interval_ns;
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let wait = (offset + interval_ns - now_ns % interval_ns) % interval_ns;
    tokio::time::Instant::now() + Duration::from_nanos(wait)
}

async fn scrape_once(
    target: &Arc<Target>,
    client: &reqwest::Client,
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
        let result = body.and_then(|body| cache.append_scrape(&db, &target, &options, &body, timestamp));
        let duration = started.elapsed();
        let error = result.as_ref().err().map(ToString::to_string);
        if let Some(err) = &error {
            tracing::debug!(error = %err, duration_ms = duration.as_millis() as u64, "scrape failed");
            cache.mark_all_stale(&db, timestamp);
        }
        let counts = result.unwrap_or_default();
        cache.append_report(&db, &target, timestamp, error.is_none(), duration, counts);
        target.report(start, duration, error);
        cache
    });
    handle.await.expect("scrape append task panicked")
}

async fn fetch(client: &reqwest::Client, target: &Target, options: &LoopOptions) -> Result<Vec<u8>, ScrapeError> {
    let request = client
        .get(target.url.clone())
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", options.timeout.as_secs_f64()))
        .timeout(options.timeout);
    let mut response = request.send().await.map_err(ScrapeError::from_reqwest)?;
    if !response.status().is_success() {
        return Err(ScrapeError::Status(response.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ScrapeError::from_reqwest)? {
        body.extend_from_slice(&chunk);
        if options.body_size_limit > 0 && body.len() as u64 > options.body_size_limit {
            return Err(ScrapeError::BodySizeLimit(options.body_size_limit));
        }
    }
    Ok(body)
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

struct CacheEntry {
    series_ref: SeriesRef,
    last_iteration: u64,
}

/// Per-target memory of series: raw series text → head ref, so a known series costs one lookup,
/// and which series the last scrape had, for staleness.
#[derive(Default)]
struct SeriesCache {
    entries: HashMap<String, CacheEntry, foldhash::fast::RandomState>,
    report_refs: Vec<SeriesRef>,
    iteration: u64,
}

impl SeriesCache {
    fn append_scrape(
        &mut self,
        db: &Db,
        target: &Target,
        options: &LoopOptions,
        body: &[u8],
        timestamp: i64,
    ) -> Result<ScrapeCounts, ScrapeError> {
        self.iteration += 1;
        let iteration = self.iteration;
        let mut appender = db.appender();
        let mut counts = ScrapeCounts::default();
        let mut new_entries: Vec<(String, CacheEntry)> = Vec::new();
        for entry in PromParser::new(body) {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    appender.rollback();
                    self.iteration -= 1;
                    return Err(ScrapeError::Parse(err));
                }
            };
            let Entry::Sample(sample) = entry else { continue };
            counts.scraped += 1;
            counts.post_relabel += 1;
            if options.sample_limit > 0 && counts.post_relabel > options.sample_limit {
                appender.rollback();
                self.iteration -= 1;
                return Err(ScrapeError::SampleLimit(options.sample_limit));
            }
            let t = match sample.timestamp {
                Some(t) if options.honor_timestamps => t,
                _ => timestamp,
            };
            if let Some(cached) = self.entries.get_mut(sample.series) {
                appender.append_ref(cached.series_ref, t, sample.value);
                cached.last_iteration = iteration;
                continue;
            }
            let labels = series_labels(target, sample.name, &sample.labels(), options.honor_labels);
            match appender.append(&labels, t, sample.value) {
                Ok(series_ref) => {
                    counts.series_added += 1;
                    new_entries.push((sample.series.to_owned(), CacheEntry { series_ref, last_iteration: iteration }));
                }
                Err(err) => tracing::debug!(series = %labels, error = %err, "sample not appended"),
            }
        }
        for (series, entry) in new_entries {
            self.entries.insert(series, entry);
        }
        for (series_ref, err) in appender.commit() {
            tracing::debug!(?series_ref, error = %err, "sample rejected by the head");
        }
        self.stale_vanished(db, timestamp);
        Ok(counts)
    }

    /// Writes a staleness marker for each series the previous scrape had and this one did not,
    /// and forgets series unseen for longer.
    fn stale_vanished(&mut self, db: &Db, timestamp: i64) {
        let mut appender = db.appender();
        let iteration = self.iteration;
        self.entries.retain(|_, entry| {
            if entry.last_iteration + 1 == iteration {
                appender.append_ref(entry.series_ref, timestamp, STALE_NAN);
            }
            entry.last_iteration == iteration
        });
        appender.commit();
    }

    fn mark_all_stale(&mut self, db: &Db, timestamp: i64) {
        self.iteration += 1;
        self.stale_vanished(db, timestamp);
    }

    fn end_of_run_staleness(mut self, db: &Db, timestamp: i64) {
        self.mark_all_stale(db, timestamp);
        let mut appender = db.appender();
        for series_ref in &self.report_refs {
            appender.append_ref(*series_ref, timestamp, STALE_NAN);
        }
        appender.commit();
    }

    fn append_report(
        &mut self,
        db: &Db,
        target: &Target,
        timestamp: i64,
        up: bool,
        duration: Duration,
        counts: ScrapeCounts,
    ) {
        let values = [
            ("up", if up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", counts.scraped as f64),
            ("scrape_samples_post_metric_relabeling", counts.post_relabel as f64),
            ("scrape_series_added", counts.series_added as f64),
        ];
        let mut appender = db.appender();
        if self.report_refs.is_empty() {
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
        appender.commit();
    }
}

/// Joins scraped labels with the target's (upstream `mutateSampleLabels`). Without
/// honor_labels, a scraped label that clashes with a target label becomes `exported_<name>`
/// (repeatedly, until free) and the target's value wins.
fn series_labels(
    target: &Target,
    name: &str,
    scraped: &[(&str, std::borrow::Cow<'_, str>)],
    honor_labels: bool,
) -> Labels {
    let mut builder = LabelsBuilder::new(&Labels::empty());
    builder.set(METRIC_NAME.to_owned(), name.to_owned());
    for (label, value) in scraped {
        builder.set((*label).to_owned(), value.to_string());
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
