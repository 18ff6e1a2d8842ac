//! The `promlite` binary: parses Prometheus's flags, installs the TLS provider, opens storage,
//! starts scraping and serving, and waits for signals. It only wires; the parts live in the lib,
//! `promlite-storage`, `promlite-promql` and `promlite-web`.

#![deny(unsafe_code)]

mod flags;
mod flags_inert;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::Context as _;
use clap::Parser as _;
use promlite::config::{self, Config};
use promlite::notifier::{Notifier, NotifierOptions};
use promlite::scrape::Manager;
use promlite_promql::{Engine, EngineOptions};
use promlite_storage::{Db, Options};
use promlite_web::{AppState, ReloadError, WebOptions};

use flags::{Command, Flags};

/// Says once, at start, which given flags promlite accepts without acting on them.
fn log_inert_flags(flags: &Flags) {
    let inert = flags.inert.given();
    if !inert.is_empty() {
        tracing::info!(flags = %inert.join(" "), "accepted, has no effect in promlite");
    }
    if !flags.inert.enable_feature.is_empty() {
        let features = flags.inert.enable_feature.join(",");
        tracing::info!(features = %features, "--enable-feature accepted; no feature flag changes promlite's behaviour yet");
    }
    if flags.retention_deprecated.is_some() {
        tracing::warn!("--storage.tsdb.retention is deprecated, use --storage.tsdb.retention.time");
    }
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    match &flags.command {
        Some(Command::Check { what: flags::CheckWhat::Config { files, syntax_only } }) => {
            return check_config(files, *syntax_only);
        }
        Some(Command::Check { what: flags::CheckWhat::Rules { files } }) => {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            return if check_rule_files(&files, "") { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
        Some(Command::Test { what: flags::TestWhat::Rules { files, run, debug } }) => {
            return test_rules(files, run, *debug);
        }
        None => {}
    }
    flags::init_logging(&flags);
    log_inert_flags(&flags);
    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("no other rustls provider is installed before main");
    // PromQL is parsed, evaluated and formatted on the runtime's threads (workers and the
    // blocking pool), recursing once per level of the expression; QUERY_STACK_SIZE is what the
    // deepest expression the parser accepts needs. Tokio's default of 2 MiB is not enough.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(promlite_promql::QUERY_STACK_SIZE)
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Logged once: the log goes to stderr already.
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `promlite check config [--syntax-only] FILE...`, like `promtool check config`: the config,
/// then (unless `--syntax-only`) each of its rule files.
fn check_config(files: &[PathBuf], syntax_only: bool) -> ExitCode {
    let mut failed = false;
    for file in files {
        println!("Checking {}", file.display());
        match config::load_file(file) {
            Ok(_) if syntax_only => {
                println!(" SUCCESS: {} is valid prometheus config file syntax\n", file.display());
            }
            Ok(config) => {
                let Some(rule_files) = resolve_rule_files(&config.rule_files) else {
                    println!();
                    failed = true;
                    continue;
                };
                if !rule_files.is_empty() {
                    println!("  SUCCESS: {} rule files found", rule_files.len());
                }
                println!(" SUCCESS: {} is valid prometheus config file syntax\n", file.display());
                // promtool indents each rule problem of a config's rule file by five spaces.
                failed |= !check_rule_files(&rule_files, "     ");
            }
            Err(err) => {
                // One problem a line, indented like promtool's continuation lines.
                println!("  FAILED: {}\n", err.to_string().replace('\n', "\n  "));
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// `promlite test rules [--run REGEX]... [--debug] FILE...`, like `promtool test rules`:
/// exits 1 when a test fails or a file does not exist (said as kingpin says it).
fn test_rules(files: &[PathBuf], run: &[String], debug: bool) -> ExitCode {
    if let Some(missing) = files.iter().find(|f| !f.exists()) {
        eprintln!("promlite: error: path '{}' does not exist, try --help", missing.display());
        return ExitCode::FAILURE;
    }
    // The flag's values were checked one by one; joined, they are one valid regex.
    let run = (!run.is_empty()).then(|| regex::Regex::new(&run.join("|")).expect("checked --run regexes"));
    let options = promlite::rules::unittest::TestOptions { run, debug };
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let ok =
        promlite::rules::unittest::test_rule_files(&files, &options, &mut std::io::stdout(), &mut std::io::stderr());
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The files a config's `rule_files` name, as `promtool check config` resolves them: a
/// pattern matching nothing is fine, a plain path that does not exist is an error (said on
/// stderr; `None` then).
fn resolve_rule_files(patterns: &[String]) -> Option<Vec<String>> {
    let mut files = Vec::new();
    for pattern in patterns {
        match promlite::rules::file::expand_rule_files(std::slice::from_ref(pattern)) {
            Ok(found) if found.is_empty() && !pattern.contains(['*', '?', '[']) => {
                eprintln!("  FAILED: {pattern:?} does not point to an existing file");
                return None;
            }
            Ok(found) => files.extend(found),
            Err(err) => {
                eprintln!("  FAILED: {err}");
                return None;
            }
        }
    }
    Some(files)
}

/// `promlite check rules FILE...` (and the rule files of `check config`), printed as promtool
/// prints them: `Checking F`, then the rule count or `FAILED:` and each problem on stderr,
/// prefixed by `indent`. False when a file has a problem.
fn check_rule_files(files: &[String], indent: &str) -> bool {
    let templates = promlite::rules::template::engine();
    let check = |name: &str, text: &str| templates.check(name, text);
    let mut ok = true;
    for file in files {
        println!("Checking {file}");
        match promlite::rules::file::load(file, &check) {
            Ok(loaded) => {
                let rules: usize = loaded.groups.iter().map(|g| g.rules.len()).sum();
                println!("  SUCCESS: {rules} rules found\n");
            }
            Err(errors) => {
                println!();
                eprintln!("  FAILED:");
                for error in errors {
                    eprintln!("{indent}{error}");
                }
                ok = false;
            }
        }
    }
    ok
}

/// Loads the config file the flags name, or `./prometheus.yml`; `None` when neither was given
/// nor exists, which means the built-in self-scrape config.
fn load_config(flags: &Flags) -> anyhow::Result<Option<(Config, PathBuf)>> {
    let path = flags.config_file.clone().unwrap_or_else(|| PathBuf::from("prometheus.yml"));
    if flags.config_file.is_none() && !path.exists() {
        return Ok(None);
    }
    // The error names the file (and each problem's line:col) itself.
    let config = config::load_file(&path).context("loading the config file")?;
    Ok(Some((config, path)))
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let start_time = SystemTime::now();
    raise_fd_limit(flags.max_connections);
    let loaded = load_config(&flags)?;
    let security = match &flags.web_config_file {
        Some(path) => {
            let web_config = config::load_web_config(path).context("loading --web.config.file")?;
            promlite::http_server::server_security(&web_config)
                .with_context(|| format!("setting up the web server from {}", path.display()))?
        }
        None => promlite_web::ServerSecurity::default(),
    };
    let listen: SocketAddr = flags
        .listen_address
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&flags.listen_address)
                .map(|mut a| a.next())
                .ok()
                .flatten()
                .ok_or(())
        })
        .map_err(|()| anyhow::anyhow!("invalid --web.listen-address {:?}: expected host:port", flags.listen_address))?;
    let listener = promlite_web::bind(listen)
        .with_context(|| format!("listening on {listen} (--web.listen-address): is another server using the port?"))?;
    let local_addr = listener.local_addr()?;
    let (config, config_path) = match loaded {
        Some((config, path)) => (config, Some(path)),
        None => {
            tracing::info!(
                target = %local_addr,
                "no --config.file given and ./prometheus.yml does not exist: using the built-in config that scrapes promlite itself every 15s"
            );
            (config::self_scrape(&local_addr.to_string()), None)
        }
    };

    // The WAL is replayed below, while the HTTP server already answers `/-/ready` with 503.
    let db = Db::open_deferred(
        &flags.storage_path,
        Options {
            retention_ms: flags.retention().as_millis() as i64,
            retention_bytes: flags.retention_size.bytes(),
            wal_compression: flags.wal_compression,
            min_block_duration_ms: flags.min_block_duration.as_millis() as i64,
            max_block_duration_ms: flags.max_block_duration.map_or(0, |d| d.as_millis() as i64),
            no_lockfile: flags.no_lockfile,
            ..Options::default()
        },
    )
    .with_context(|| format!("opening TSDB at {}", flags.storage_path.display()))?;
    let engine = Arc::new(Engine::new(EngineOptions {
        lookback_delta_ms: flags.lookback_delta.as_millis() as i64,
        max_samples: flags.max_samples,
        timeout: flags.query_timeout.as_std(),
        // FIXME: a reload that changes `evaluation_interval` does not change this until restart.
        default_subquery_step_ms: config.global.evaluation_interval.as_millis() as i64,
    }));
    // The process's one metrics registry: each part registers its families as it is built.
    let registry = Arc::new(promlite_metrics::Registry::new());
    registry.register(Arc::new(promlite_metrics::ProcessCollector));
    let server_metrics = Arc::new(promlite_web::metrics::ServerMetrics::new(&registry, flags.max_concurrency.max(1)));
    let manager = Arc::new(Manager::new(db.clone(), offset_seed(&config), &registry));
    let notifier = Arc::new(Notifier::new(
        NotifierOptions {
            queue_capacity: flags.notification_queue_capacity,
            // Upstream takes a batch size of 0 as its default.
            batch_size: if flags.notification_batch_size == 0 { 256 } else { flags.notification_batch_size },
            drain_on_shutdown: flags.drain_notification_queue_on_shutdown,
        },
        &registry,
    ));
    let rules = promlite::rules::RuleManager::new(
        db.clone(),
        Arc::clone(&engine),
        promlite::rules::template::engine(),
        Arc::clone(&notifier) as Arc<dyn promlite::rules::Notify>,
        promlite::rules::RuleOptions {
            external_url: flags.external_url(),
            resend_delay: flags.resend_delay.as_std(),
            outage_tolerance: flags.for_outage_tolerance.as_std(),
            grace_period: flags.for_grace_period.as_std(),
        },
        &registry,
    );
    let metadata_source: promlite::remote::metadata::MetadataSource = {
        let manager = Arc::clone(&manager);
        Arc::new(move || {
            promlite_web::TargetsView::metadata(manager.as_ref())
                .into_iter()
                .map(|m| promlite::remote::prompb::MetricMetadata {
                    r#type: promlite::remote::metadata::metric_type(&m.kind),
                    metric_family_name: m.metric,
                    help: m.help,
                    unit: m.unit,
                })
                .collect()
        })
    };
    let remote = Arc::new(promlite::remote::RemoteStorage::new(
        db.clone(),
        flags.storage_path.join("wal"),
        Some(metadata_source),
    ));
    let replay_db = db.clone();
    let close_db = db.clone();

    let config_yaml = Arc::new(RwLock::new(config.to_yaml()));
    let ready = Arc::new(AtomicBool::new(false));
    let external_labels = Arc::new(RwLock::new(config.global.external_label_pairs()));
    let config_reloads = Arc::new(promlite_web::ConfigReloads::new(start_time));
    let reload: Arc<dyn Fn() -> Result<(), ReloadError> + Send + Sync> = {
        let running = Running {
            manager: Arc::clone(&manager),
            rules: Arc::clone(&rules),
            notifier: Arc::clone(&notifier),
            remote: Arc::clone(&remote),
            config_yaml: Arc::clone(&config_yaml),
            external_labels: Arc::clone(&external_labels),
        };
        let reloads = Arc::clone(&config_reloads);
        Arc::new(move || {
            let result = reload_config(config_path.as_deref(), &running);
            reloads.record(result.is_ok());
            result
        })
    };
    let quit = Arc::new(tokio::sync::Notify::new());
    let state = AppState {
        remote_write: Arc::default(),
        config_reloads,
        db,
        engine,
        targets: manager.clone(),
        rules: rules.clone(),
        alertmanagers: notifier.clone(),
        options: Arc::new(WebOptions {
            route_prefix: flags.route_prefix(),
            external_url: flags.external_url(),
            listen_address: flags.listen_address.clone(),
            enable_lifecycle: flags.enable_lifecycle,
            enable_admin_api: flags.enable_admin_api,
            enable_remote_write_receiver: flags.enable_remote_write_receiver,
            remote_read_sample_limit: flags.remote_read_sample_limit,
            remote_read_max_bytes_in_frame: flags.remote_read_max_bytes_in_frame,
            flags: flags.as_pairs(),
        }),
        config_yaml: Arc::clone(&config_yaml),
        ready: Arc::clone(&ready),
        query_slots: Arc::new(tokio::sync::Semaphore::new(flags.max_concurrency.max(1))),
        remote_read_slots: (flags.remote_read_concurrent_limit > 0)
            .then(|| Arc::new(tokio::sync::Semaphore::new(flags.remote_read_concurrent_limit))),
        start_time,
        reload: Arc::clone(&reload),
        quit: Arc::clone(&quit),
        external_labels,
        registry: Arc::clone(&registry),
        metrics: server_metrics,
    };
    registry.register(Arc::new(promlite_web::metrics::StateCollector::new(&state)));
    registry.register(Arc::clone(&manager) as Arc<dyn promlite_metrics::Collector>);
    registry.register(Arc::clone(&remote) as Arc<dyn promlite_metrics::Collector>);
    registry.register(Arc::clone(&notifier) as Arc<dyn promlite_metrics::Collector>);
    let limits = promlite_web::ConnectionLimits {
        max_connections: flags.max_connections,
        read_timeout: flags.read_timeout.as_std(),
    };
    let server =
        tokio::spawn(promlite_web::serve(listener, state, security, limits, wait_for_shutdown(move || reload(), quit)));
    tracing::info!(address = %local_addr, "serving HTTP; /-/ready answers 503 until the WAL replay is done");
    tokio::task::spawn_blocking(move || replay_db.replay_wal())
        .await
        .context("replaying the WAL")?
        .with_context(|| format!("replaying the WAL in {}", flags.storage_path.display()))?;
    close_db.start_compactor();
    // Scraping starts only now: nothing may append before the replay is done.
    // A part that cannot start is logged here, once; the others run, as in Prometheus.
    // Remote write tails the WAL and sends what is committed from now on: started before the
    // first scrape, as in Prometheus, so it sends every scraped sample.
    for err in remote.apply_config(&config) {
        tracing::error!(error = %err, "remote write queue not started");
    }
    for err in remote.apply_read_config(&config) {
        tracing::error!(error = %err, "remote read client not started");
    }
    // Before the rules, so their first alerts have somewhere to go.
    for err in notifier.apply_config(&config) {
        tracing::error!(error = %err, "cannot send alerts to these Alertmanagers");
    }
    if let Err(errors) = rules.apply_config(&config) {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("error loading rules:\n{}", errors.join("\n"));
    }
    for err in manager.apply_config(&config) {
        tracing::error!(error = %err, "cannot scrape this job");
    }
    ready.store(true, Ordering::Release);
    tracing::info!(address = %local_addr, "server is ready to receive web requests");

    server.await.context("HTTP server task")?.context("serving HTTP")?;
    tracing::info!("stopping scrape pools");
    rules.stop();
    // The rules send nothing more: the notifier drains its queues while the scrape loops stop.
    tokio::join!(
        notifier.stop(std::time::Duration::from_secs(10)),
        manager.shutdown(std::time::Duration::from_secs(10)),
    );
    close_db.close().with_context(|| format!("closing the TSDB in {}", flags.storage_path.display()))?;
    tracing::info!("see you next time!");
    Ok(())
}

/// Raises the soft limit of open files to the hard limit, as Go programs (Prometheus among
/// them) do at start since Go 1.19: a soft limit of 1024 would leave little room for
/// `--web.max-connections`, scrape connections and TSDB files together.
fn raise_fd_limit(max_connections: u32) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(soft, |(_, hard)| hard);
            tracing::info!(soft, hard, "fd limits");
            // Connections, scrapes, remote endpoints and TSDB files all need descriptors.
            if soft < u64::from(max_connections) + 256 {
                tracing::warn!(
                    soft,
                    max_connections,
                    "the open files limit leaves little room beyond --web.max-connections; raise it (ulimit -n) or lower the flag"
                );
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot raise the open files limit"),
    }
}

/// The parts of the server a reload updates.
struct Running {
    manager: Arc<Manager>,
    rules: Arc<promlite::rules::RuleManager>,
    notifier: Arc<Notifier>,
    remote: Arc<promlite::remote::RemoteStorage>,
    config_yaml: Arc<RwLock<String>>,
    external_labels: Arc<RwLock<Vec<(String, String)>>>,
}

/// Re-reads the config file and applies it; a file that does not load leaves the running config
/// untouched. Logs nothing on failure: the caller (`/-/reload` or SIGHUP) logs the error.
fn reload_config(path: Option<&Path>, running: &Running) -> Result<(), ReloadError> {
    let Some(path) = path else {
        tracing::info!("reload requested, but the built-in config is in use: nothing to reload");
        return Ok(());
    };
    let file = path.display().to_string();
    let config = config::load_file(path).map_err(|err| ReloadError::Load { file: file.clone(), source: err.into() })?;
    let mut errors: Vec<Box<dyn std::error::Error + Send + Sync>> = Vec::new();
    // Rules first: rule files that do not load fail the reload before anything else changes.
    running.rules.apply_config(&config).map_err(|errs| ReloadError::Apply {
        file: file.clone(),
        errors: errs.into_iter().map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).collect(),
    })?;
    errors.extend(running.manager.apply_config(&config).into_iter().map(Into::into));
    errors.extend(running.notifier.apply_config(&config).into_iter().map(Into::into));
    errors.extend(running.remote.apply_config(&config).into_iter().map(Into::into));
    errors.extend(running.remote.apply_read_config(&config).into_iter().map(Into::into));
    *running.config_yaml.write().expect("config lock") = config.to_yaml();
    *running.external_labels.write().expect("external labels lock") = config.global.external_label_pairs();
    if !errors.is_empty() {
        return Err(ReloadError::Apply { file, errors });
    }
    tracing::info!(file = %path.display(), "completed loading of configuration file");
    Ok(())
}

/// Resolves on SIGTERM, Ctrl-C or `/-/quit`; reloads on SIGHUP meanwhile.
async fn wait_for_shutdown(reload: impl Fn() -> Result<(), ReloadError>, quit: Arc<tokio::sync::Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("installing the SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = quit.notified() => break,
            _ = hup.recv() => {
                if let Err(err) = reload() {
                    tracing::error!(error = %err, "error reloading config (SIGHUP)");
                }
            }
        }
    }
    tracing::info!("received a termination signal, shutting down gracefully");
}

/// Prometheus mixes the hostname and external labels into target offsets, so two replicas
/// scrape out of phase while each keeps its phase across restarts.
fn offset_seed(config: &Config) -> u64 {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut seed = xxhash_rust::xxh3::xxh3_64(hostname.trim().as_bytes());
    for (name, value) in &config.global.external_labels {
        seed ^= xxhash_rust::xxh3::xxh3_64(format!("{name}\u{ff}{value}").as_bytes());
    }
    seed
}
