//! Command-line flags with Prometheus's names, defaults and meanings (upstream
//! `cmd/prometheus/main.go`). Both `--flag=value` and `--flag value` work, booleans also as
//! `--flag=false` (kingpin's); an unknown flag is a usage error (exit 2). Every other flag of
//! Prometheus 3.14's table is accepted: those promlite does not act on are in
//! [`crate::flags_inert`] and logged once at start.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use promlite::config::{ByteSize, Duration};

/// A lightweight, Prometheus-compatible scrape server and time-series database.
#[derive(Debug, Parser)]
#[command(name = "promlite", version, about, args_override_self = true)]
pub struct Flags {
    /// Prometheus configuration file path [default: prometheus.yml; when that file does not exist
    /// and this flag is not given, a built-in config scrapes promlite itself].
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", value_name = "ADDRESS", default_value = "0.0.0.0:9090")]
    pub listen_address: String,

    /// Maximum duration before timing out read of the request, and closing idle connections
    /// (0: no timeout).
    #[arg(long = "web.read-timeout", value_name = "DURATION", default_value = "5m")]
    pub read_timeout: Duration,

    /// Maximum number of simultaneous connections across all listeners (at least 1). When all
    /// are taken, the one idle longest is closed for a new one.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// The URL under which promlite is externally reachable (for example, behind a reverse
    /// proxy). Used for links; its path is the default route prefix.
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints [default: path of --web.external-url].
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    pub route_prefix: Option<String>,

    /// Path to a configuration file that can enable TLS or authentication (Prometheus's
    /// exporter-toolkit format: tls_server_config, http_server_config.headers, basic_auth_users).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Enable shutdown and reload via HTTP request (`/-/quit`, `/-/reload`).
    #[arg(long = "web.enable-lifecycle", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false, hide_possible_values = true)]
    pub enable_lifecycle: bool,

    /// Enable API endpoints for admin control actions (not built yet).
    #[arg(long = "web.enable-admin-api", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false, hide_possible_values = true)]
    pub enable_admin_api: bool,

    /// Enable the API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false, hide_possible_values = true)]
    pub enable_remote_write_receiver: bool,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", value_name = "PATH", default_value = "data/")]
    pub storage_path: PathBuf,

    /// How long to retain samples in storage [default: 15d when no size limit is set].
    #[arg(
        long = "storage.tsdb.retention.time",
        value_name = "DURATION",
        default_value = "0s",
        hide_default_value = true
    )]
    pub retention_time: Duration,

    /// Minimum duration of a data block before being persisted (and the head's chunk range).
    #[arg(long = "storage.tsdb.min-block-duration", value_name = "DURATION", default_value = "2h", hide = true)]
    pub min_block_duration: Duration,

    /// Maximum duration compacted blocks may span [default: min(31d, retention/10)].
    #[arg(long = "storage.tsdb.max-block-duration", value_name = "DURATION", hide = true)]
    pub max_block_duration: Option<Duration>,

    /// Do not create a lockfile in the data directory.
    #[arg(long = "storage.tsdb.no-lockfile", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false, hide_possible_values = true)]
    pub no_lockfile: bool,

    /// Compress the tsdb WAL (snappy).
    #[arg(long = "storage.tsdb.wal-compression", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wal_compression: bool,

    /// Maximum number of bytes that can be stored for blocks, e.g. 512MB; 0 means no limit.
    #[arg(long = "storage.tsdb.retention.size", value_name = "SIZE", default_value = "0")]
    pub retention_size: ByteSize,

    /// The maximum lookback duration for retrieving metrics during expression evaluations and
    /// federation.
    #[arg(long = "query.lookback-delta", value_name = "DURATION", default_value = "5m")]
    pub lookback_delta: Duration,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", value_name = "DURATION", default_value = "2m")]
    pub query_timeout: Duration,

    /// Max time to tolerate prometheus outage for restoring "for" state of alert.
    #[arg(long = "rules.alert.for-outage-tolerance", value_name = "DURATION", default_value = "1h")]
    pub for_outage_tolerance: Duration,

    /// Minimum duration between alert and restored "for" state. This is maintained only for
    /// alerts with configured "for" time greater than grace period.
    #[arg(long = "rules.alert.for-grace-period", value_name = "DURATION", default_value = "10m")]
    pub for_grace_period: Duration,

    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", value_name = "DURATION", default_value = "1m")]
    pub resend_delay: Duration,

    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(long = "alertmanager.notification-queue-capacity", value_name = "N", default_value_t = 10_000)]
    pub notification_queue_capacity: usize,

    /// The maximum number of notifications per batch to send to the Alertmanager.
    #[arg(long = "alertmanager.notification-batch-size", value_name = "N", default_value_t = 256)]
    pub notification_batch_size: usize,

    /// Send any outstanding Alertmanager notifications when shutting down. If false, any
    /// outstanding Alertmanager notifications will be dropped when shutting down.
    #[arg(long = "alertmanager.drain-notification-queue-on-shutdown", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true, hide_possible_values = true)]
    pub drain_notification_queue_on_shutdown: bool,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", value_name = "N", default_value_t = 50_000_000, value_parser = count)]
    pub max_samples: usize,

    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", value_name = "N", default_value_t = 20)]
    pub max_concurrency: usize,

    /// Maximum overall number of samples to return via the remote read interface, in a single
    /// query. 0 means no limit. Ignored for the streamed response types, as in Prometheus.
    #[arg(long = "storage.remote.read-sample-limit", value_name = "N", default_value_t = 50_000_000, value_parser = count)]
    pub remote_read_sample_limit: usize,

    /// Maximum number of concurrent remote read calls. 0 means no limit.
    #[arg(long = "storage.remote.read-concurrent-limit", value_name = "N", default_value_t = 10)]
    pub remote_read_concurrent_limit: usize,

    /// Maximum number of bytes in a single frame for streaming remote read response types
    /// before marshalling. Note that the client might have a limit on frame size as well.
    #[arg(long = "storage.remote.read-max-bytes-in-frame", value_name = "BYTES", default_value_t = 1_048_576)]
    pub remote_read_max_bytes_in_frame: usize,

    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,

    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,

    /// Deprecated alias of `--storage.tsdb.retention.time` (Prometheus still takes it, hidden);
    /// used when that flag is not given.
    #[arg(long = "storage.tsdb.retention", value_name = "DURATION", hide = true)]
    pub retention_deprecated: Option<Duration>,

    #[command(flatten)]
    pub inert: crate::flags_inert::InertFlags,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools that run instead of the server.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check resources for validity, like promtool.
    Check {
        #[command(subcommand)]
        what: CheckWhat,
    },
    /// Unit testing, like promtool.
    Test {
        #[command(subcommand)]
        what: TestWhat,
    },
}

/// What `promlite test` tests.
#[derive(Debug, Subcommand)]
pub enum TestWhat {
    /// Unit tests for rules; exits 1 when one fails.
    Rules {
        /// If set, will only run test groups whose names match the regular expression. Can be
        /// specified multiple times.
        #[arg(long = "run", value_name = "REGEX", value_parser = regex_flag)]
        run: Vec<String>,
        /// Enable unit test debugging.
        #[arg(long = "debug")]
        debug: bool,
        /// The unit test files.
        #[arg(required = true, value_name = "TEST-RULE-FILES")]
        files: Vec<PathBuf>,
    },
}

/// A `--run` regex, checked when the flags are read.
fn regex_flag(text: &str) -> Result<String, String> {
    regex::Regex::new(text).map(|_| text.to_owned()).map_err(|err| err.to_string())
}

/// What `promlite check` checks.
#[derive(Debug, Subcommand)]
pub enum CheckWhat {
    /// Check that config files are valid; exits 1 when one is not.
    Config {
        /// Only check the config file's syntax, not the files it refers to (rule files).
        #[arg(long = "syntax-only")]
        syntax_only: bool,
        /// The files to check.
        #[arg(required = true, value_name = "CONFIG-FILES")]
        files: Vec<PathBuf>,
    },
    /// Check that rule files are valid; exits 1 when one is not.
    Rules {
        /// The files to check.
        #[arg(required = true, value_name = "RULE-FILES")]
        files: Vec<PathBuf>,
    },
}

/// A count as Prometheus's flags take one: an integer, or a float's notation of one (the
/// documented default of `--storage.remote.read-sample-limit` is `5e7`).
fn count(text: &str) -> Result<usize, String> {
    if let Ok(n) = text.parse::<usize>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v <= usize::MAX as f64 => Ok(v as usize),
        _ => Err(format!("{text:?} is not a count")),
    }
}

impl Flags {
    /// `--web.external-url`, or `http://<hostname>:<port>/` as Prometheus defaults it.
    pub fn external_url(&self) -> String {
        if let Some(url) = &self.external_url {
            return url.clone();
        }
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".to_owned());
        let port = self.listen_address.rsplit_once(':').map_or("9090", |(_, p)| p);
        format!("http://{}:{port}/", hostname.trim())
    }

    /// The route prefix, normalised: `""` for the root, else `/path` without a trailing slash.
    pub fn route_prefix(&self) -> String {
        let raw = match &self.route_prefix {
            Some(prefix) => prefix.clone(),
            None => url::Url::parse(&self.external_url()).map(|u| u.path().to_owned()).unwrap_or_default(),
        };
        let trimmed = raw.trim_end_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else if trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        }
    }

    /// `--storage.tsdb.retention.time`, or its deprecated alias when only that is given.
    pub fn retention(&self) -> Duration {
        match self.retention_deprecated {
            Some(alias) if self.retention_time.as_millis() == 0 => alias,
            _ => self.retention_time,
        }
    }

    /// Every flag with its effective value, for `/api/v1/status/flags`.
    pub fn as_pairs(&self) -> Vec<(String, String)> {
        let config_file = self.config_file.clone().unwrap_or_else(|| PathBuf::from("prometheus.yml"));
        [
            ("config.file", config_file.display().to_string()),
            ("web.listen-address", self.listen_address.clone()),
            ("web.read-timeout", self.read_timeout.to_string()),
            ("web.max-connections", self.max_connections.to_string()),
            ("web.external-url", self.external_url.clone().unwrap_or_default()),
            ("web.route-prefix", self.route_prefix()),
            ("web.config.file", self.web_config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            ("web.enable-remote-write-receiver", self.enable_remote_write_receiver.to_string()),
            ("storage.tsdb.path", self.storage_path.display().to_string()),
            ("storage.tsdb.retention.time", self.retention().to_string()),
            ("storage.tsdb.retention.size", format!("{}B", self.retention_size.bytes())),
            ("query.lookback-delta", self.lookback_delta.to_string()),
            ("query.timeout", self.query_timeout.to_string()),
            ("rules.alert.for-outage-tolerance", self.for_outage_tolerance.to_string()),
            ("rules.alert.for-grace-period", self.for_grace_period.to_string()),
            ("rules.alert.resend-delay", self.resend_delay.to_string()),
            ("alertmanager.notification-queue-capacity", self.notification_queue_capacity.to_string()),
            ("alertmanager.notification-batch-size", self.notification_batch_size.to_string()),
            (
                "alertmanager.drain-notification-queue-on-shutdown",
                self.drain_notification_queue_on_shutdown.to_string(),
            ),
            ("query.max-samples", self.max_samples.to_string()),
            ("query.max-concurrency", self.max_concurrency.to_string()),
            ("storage.remote.read-sample-limit", self.remote_read_sample_limit.to_string()),
            ("storage.remote.read-concurrent-limit", self.remote_read_concurrent_limit.to_string()),
            ("storage.remote.read-max-bytes-in-frame", self.remote_read_max_bytes_in_frame.to_string()),
            ("log.level", self.log_level.clone()),
            ("log.format", self.log_format.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Sets up `tracing` from `--log.level` and `--log.format`. `RUST_LOG` overrides the level for
/// debugging dependencies.
pub fn init_logging(flags: &Flags) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{},hyper=warn,reqwest=warn", flags.log_level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if flags.log_format == "json" {
        builder.event_format(promlite::log_format::Json).init();
    } else {
        builder.event_format(promlite::log_format::Logfmt).init();
    }
}
