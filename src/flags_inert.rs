//! Flags Prometheus 3.14 takes (`docs/command-line/prometheus.md`) that promlite accepts without
//! acting on them: Go runtime tuning, agent mode, rule evaluation concurrency, the console
//! templates, UI settings. Deployments pass them (the Helm chart and
//! prometheus-operator do), so refusing them would stop promlite from starting; each one given
//! is logged once at start instead. `--enable-feature` values are parsed the same way: none of
//! Prometheus's feature flags changes promlite's behaviour yet.

/// Declares the inert flags: booleans (`--flag`, `--flag=false`) and flags with a value.
macro_rules! inert_flags {
    (bools: $($bool:literal => $bool_field:ident,)* values: $($value:literal => $value_field:ident,)*) => {
        /// The accepted-but-inert flags; see the module doc.
        #[derive(Debug, Default, clap::Args)]
        #[command(next_help_heading = "Accepted for compatibility with Prometheus; no effect in promlite")]
        pub struct InertFlags {
            $(
                #[arg(long = $bool, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
                      action = clap::ArgAction::Set, hide_possible_values = true)]
                $bool_field: Option<bool>,
            )*
            $(
                #[arg(long = $value, value_name = "VALUE")]
                $value_field: Option<String>,
            )*
            /// Prometheus feature flags (comma-separated, repeatable): parsed and logged, none
            /// acted on yet.
            #[arg(long = "enable-feature", value_name = "FEATURE", value_delimiter = ',', action = clap::ArgAction::Append)]
            pub enable_feature: Vec<String>,
        }

        impl InertFlags {
            /// The inert flags given on the command line, as `--name=value`.
            pub fn given(&self) -> Vec<String> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = self.$bool_field {
                        out.push(format!("--{}={v}", $bool));
                    }
                )*
                $(
                    if let Some(v) = &self.$value_field {
                        out.push(format!("--{}={v}", $value));
                    }
                )*
                out
            }
        }
    };
}

inert_flags! {
    bools:
        "agent" => agent,
        "auto-gomaxprocs" => auto_gomaxprocs,
        "auto-gomemlimit" => auto_gomemlimit,
        "config.auto-reload" => config_auto_reload,
        "storage.agent.checkpoint-from-in-memory-series" => storage_agent_checkpoint_from_in_memory_series,
        "storage.agent.no-lockfile" => storage_agent_no_lockfile,
        "storage.agent.wal-compression" => storage_agent_wal_compression,
        "web.enable-otlp-receiver" => web_enable_otlp_receiver,
    values:
        "auto-gomemlimit.ratio" => auto_gomemlimit_ratio,
        "config.auto-reload-interval" => config_auto_reload_interval,
        "rules.max-concurrent-evals" => rules_max_concurrent_evals,
        "storage.agent.checkpoint-batch-size" => storage_agent_checkpoint_batch_size,
        "storage.agent.path" => storage_agent_path,
        "storage.agent.retention.max-time" => storage_agent_retention_max_time,
        "storage.agent.retention.min-time" => storage_agent_retention_min_time,
        "storage.remote.flush-deadline" => storage_remote_flush_deadline,
        "storage.tsdb.delay-compact-file.path" => storage_tsdb_delay_compact_file_path,
        "storage.tsdb.head-chunks-write-queue-size" => storage_tsdb_head_chunks_write_queue_size,
        "web.console.libraries" => web_console_libraries,
        "web.console.templates" => web_console_templates,
        "web.cors.origin" => web_cors_origin,
        "web.max-notifications-subscribers" => web_max_notifications_subscribers,
        "web.page-title" => web_page_title,
        "web.remote-write-receiver.accepted-protobuf-messages" => web_remote_write_receiver_accepted_protobuf_messages,
        "web.search.max-limit" => web_search_max_limit,
        "web.user-assets" => web_user_assets,
}
