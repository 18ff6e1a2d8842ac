//! What promlite must say about each of upstream's `config/testdata` files (Prometheus 3.14),
//! read where they live. Data only, shared by the unit tests beside it (`load_file`) and the
//! end-to-end comparison with promtool (`tests/check_config.rs` includes this file by path).
//!
//! The defect each bad file was written for is the one upstream's `config/config_test.go`
//! expects (`expectedErrors`, and `TestScrapeConfigFiles`, `TestOTLPSanitize*`,
//! `TestBadStaticConfigsYML` for the files outside that table), written as promlite words it.

/// The directory of upstream's config test files.
pub const TESTDATA: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/upstream/prometheus-v3.14.0/config/testdata");

/// What promlite's error must say about a bad file.
pub enum Expect {
    /// The error contains this: the file's defect, in promlite's words.
    Defect(&'static str),
    /// The defect is in a field of a service discovery promlite does not model, so promlite
    /// cannot see it: the error says the SD is not supported (and whatever else it finds). To
    /// check those fields promlite would need each SD's configuration model, which it gains
    /// when it runs the SD.
    SdField {
        /// The SD's field name, e.g. `azure_sd_configs`.
        sd: &'static str,
        /// What upstream refuses there, for the reader.
        defect: &'static str,
    },
}

use Expect::{Defect, SdField};

const BEARER_AND_FILE: Expect = Defect("at most one of bearer_token & bearer_token_file must be configured");
const BASIC_AND_BEARER: Expect =
    Defect("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
const LABELDROP: Expect = Defect("labeldrop action requires only 'regex', and no other fields");
const LABELKEEP: Expect = Defect("labelkeep action requires only 'regex', and no other fields");

/// Every `*.bad.yml` file, in name order.
pub const BAD_FILES: [(&str, Expect); 147] = [
    (
        "azure_authentication_method.bad.yml",
        SdField { sd: "azure_sd_configs", defect: "authentication_method is none of Azure's methods" },
    ),
    // Every SD validates the HTTP client settings it embeds (Prometheus 2.48 and later).
    ("azure_bearertoken_basicauth.bad.yml", BASIC_AND_BEARER),
    ("azure_client_id_missing.bad.yml", SdField { sd: "azure_sd_configs", defect: "OAuth without client_id" }),
    ("azure_client_secret_missing.bad.yml", SdField { sd: "azure_sd_configs", defect: "OAuth without client_secret" }),
    ("azure_subscription_id_missing.bad.yml", SdField { sd: "azure_sd_configs", defect: "no subscription_id" }),
    ("azure_tenant_id_missing.bad.yml", SdField { sd: "azure_sd_configs", defect: "OAuth without tenant_id" }),
    ("bearertoken.bad.yml", BEARER_AND_FILE),
    ("bearertoken_basicauth.bad.yml", BASIC_AND_BEARER),
    ("dropequal.bad.yml", Defect("relabel configuration for dropequal action requires 'target_label' value")),
    (
        "dropequal1.bad.yml",
        Defect("dropequal action requires only 'source_labels' and `target_label`, and no other fields"),
    ),
    ("ec2_filters_empty_values.bad.yml", SdField { sd: "ec2_sd_configs", defect: "a filter without values" }),
    ("ec2_token_file.bad.yml", BEARER_AND_FILE),
    ("empty_alert_relabel_config.bad.yml", Defect("3:6: empty or null alert relabeling rule")),
    ("empty_alertmanager_relabel_config.bad.yml", Defect("4:10: empty or null Alertmanager target relabeling rule")),
    ("empty_metric_relabel_config.bad.yml", Defect("4:8: empty or null metric relabeling rule")),
    ("empty_rr_config.bad.yml", Defect("2:4: empty or null remote read config section")),
    ("empty_rw_config.bad.yml", Defect("2:4: empty or null remote write config section")),
    ("empty_rw_relabel_config.bad.yml", Defect("4:8: empty or null relabeling rule in remote write config")),
    ("empty_scrape_config.bad.yml", Defect("2:4: empty or null scrape config section")),
    ("empty_scrape_config_action.bad.yml", Defect("4:17: relabel action cannot be empty")),
    ("empty_static_config.bad.yml", Defect("4:8: empty or null section in static_configs")),
    ("empty_target_relabel_config.bad.yml", Defect("4:8: empty or null target relabeling rule")),
    ("eureka_invalid_server.bad.yml", SdField { sd: "eureka_sd_configs", defect: "server is not a URL" }),
    ("eureka_no_server.bad.yml", SdField { sd: "eureka_sd_configs", defect: "no server" }),
    ("hetzner_role.bad.yml", SdField { sd: "hetzner_sd_configs", defect: "role is neither robot nor hcloud" }),
    ("http_token_file.bad.yml", BEARER_AND_FILE),
    ("http_url_bad_scheme.bad.yml", SdField { sd: "http_sd_configs", defect: "url scheme is ftp" }),
    ("http_url_no_host.bad.yml", SdField { sd: "http_sd_configs", defect: "url without a host" }),
    ("http_url_no_scheme.bad.yml", SdField { sd: "http_sd_configs", defect: "url without a scheme" }),
    ("ionos_datacenter.bad.yml", SdField { sd: "ionos_sd_configs", defect: "empty datacenter_id" }),
    ("jobname.bad.yml", Defect("job_name is empty")),
    ("jobname_dup.bad.yml", Defect(r#"7:5: found multiple scrape configs with job name "prometheus""#)),
    ("keepequal.bad.yml", Defect("relabel configuration for keepequal action requires 'target_label' value")),
    (
        "keepequal1.bad.yml",
        Defect("keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
    ),
    (
        "kubernetes_api_server_with_own_namespace.bad.yml",
        Defect("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"),
    ),
    (
        "kubernetes_authorization_basicauth.bad.yml",
        Defect("at most one of basic_auth, oauth2 & authorization must be configured"),
    ),
    ("kubernetes_bearertoken.bad.yml", BEARER_AND_FILE),
    ("kubernetes_bearertoken_basicauth.bad.yml", BASIC_AND_BEARER),
    (
        "kubernetes_http_config_without_api_server.bad.yml",
        Defect("to use custom HTTP client configuration please provide the 'api_server' URL explicitly"),
    ),
    (
        "kubernetes_kubeconfig_with_apiserver.bad.yml",
        Defect("cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
    ),
    (
        "kubernetes_kubeconfig_with_http_config.bad.yml",
        Defect("cannot use a custom HTTP client configuration together with 'kubeconfig_file'"),
    ),
    (
        "kubernetes_kubeconfig_with_own_namespace.bad.yml",
        Defect("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously"),
    ),
    ("kubernetes_namespace_discovery.bad.yml", Defect(r#"6:11: unknown field "foo""#)),
    ("kubernetes_role.bad.yml", Defect(r#"unknown Kubernetes SD role "vacation""#)),
    ("kubernetes_selectors_duplicated_role.bad.yml", Defect("duplicated selector role: pod")),
    (
        "kubernetes_selectors_endpoints.bad.yml",
        Defect("endpoints role supports only pod, service, endpoints selectors"),
    ),
    (
        "kubernetes_selectors_incorrect_selector.bad.yml",
        Defect("invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'"),
    ),
    ("kubernetes_selectors_ingress.bad.yml", Defect("ingress role supports only ingress selectors")),
    ("kubernetes_selectors_node.bad.yml", Defect("node role supports only node selectors")),
    ("kubernetes_selectors_pod.bad.yml", Defect("pod role supports only pod, node selectors")),
    ("kubernetes_selectors_service.bad.yml", Defect("service role supports only service selectors")),
    ("labeldrop.bad.yml", LABELDROP),
    ("labeldrop2.bad.yml", LABELDROP),
    ("labeldrop3.bad.yml", LABELDROP),
    ("labeldrop4.bad.yml", LABELDROP),
    ("labeldrop5.bad.yml", LABELDROP),
    ("labelkeep.bad.yml", LABELKEEP),
    ("labelkeep2.bad.yml", LABELKEEP),
    ("labelkeep3.bad.yml", LABELKEEP),
    ("labelkeep4.bad.yml", LABELKEEP),
    ("labelkeep5.bad.yml", LABELKEEP),
    ("labelmap.bad.yml", Defect("!!binary value contains invalid base64 data")),
    // Upstream keeps the bytes (\xff) and refuses them as a label name or value.
    ("labelname.bad.yml", Defect("3:5: not a valid label name")),
    ("labelvalue.bad.yml", Defect("3:5: not a valid label value")),
    ("lightsail_token_file.bad.yml", BEARER_AND_FILE),
    ("lowercase.bad.yml", Defect("relabel configuration for lowercase action requires 'target_label' value")),
    ("lowercase3.bad.yml", Defect("'replacement' can not be set for lowercase action")),
    (
        "marathon_authtoken_authorization.bad.yml",
        SdField { sd: "marathon_sd_configs", defect: "auth_token beside authorization" },
    ),
    (
        "marathon_authtoken_authtokenfile.bad.yml",
        SdField { sd: "marathon_sd_configs", defect: "auth_token beside auth_token_file" },
    ),
    (
        "marathon_authtoken_basicauth.bad.yml",
        SdField { sd: "marathon_sd_configs", defect: "auth_token beside basic_auth" },
    ),
    (
        "marathon_authtoken_bearertoken.bad.yml",
        SdField { sd: "marathon_sd_configs", defect: "auth_token beside bearer_token" },
    ),
    ("marathon_no_servers.bad.yml", SdField { sd: "marathon_sd_configs", defect: "no servers" }),
    ("metric_name_validation_scheme.bad.yml", Defect(r#"2:3: unrecognized ValidationScheme: "invalid_scheme""#)),
    ("modulus_missing.bad.yml", Defect("relabel configuration for hashmod requires non-zero modulus")),
    ("oci_authentication_method.bad.yml", SdField { sd: "oci_sd_configs", defect: "auth is none of OCI's methods" }),
    ("openstack_availability.bad.yml", SdField { sd: "openstack_sd_configs", defect: "unknown availability" }),
    ("openstack_role.bad.yml", SdField { sd: "openstack_sd_configs", defect: "unknown role" }),
    ("otlp_allow_utf8.bad.yml", Defect(r#"unsupported OTLP translation strategy "Invalid""#)),
    (
        "otlp_ignore_resource_attributes_without_promote_all.bad.yml",
        Defect("'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true"),
    ),
    (
        "otlp_promote_all_resource_attributes.bad.yml",
        Defect(
            "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
        ),
    ),
    (
        "otlp_sanitize_ignore_resource_attributes.bad.yml",
        Defect(
            r#"invalid 'ignore_resource_attributes': duplicated ignored OTel resource attribute "k8s.job.name"; empty ignored OTel resource attribute"#,
        ),
    ),
    (
        "otlp_sanitize_promote_resource_attributes.bad.yml",
        Defect(
            r#"invalid 'promote_resource_attributes': duplicated promoted OTel resource attribute "k8s.job.name"; empty promoted OTel resource attribute"#,
        ),
    ),
    ("outscale_no_region.bad.yml", SdField { sd: "outscale_sd_configs", defect: "empty region" }),
    (
        "outscale_no_secret.bad.yml",
        SdField { sd: "outscale_sd_configs", defect: "neither secret_key nor secret_key_file" },
    ),
    (
        "outscale_two_secrets.bad.yml",
        SdField { sd: "outscale_sd_configs", defect: "both secret_key and secret_key_file" },
    ),
    (
        "ovhcloud_bad_service.bad.yml",
        SdField { sd: "ovhcloud_sd_configs", defect: "service is neither vps nor dedicated_server" },
    ),
    ("ovhcloud_no_secret.bad.yml", SdField { sd: "ovhcloud_sd_configs", defect: "no application_secret" }),
    ("puppetdb_bad_url.bad.yml", SdField { sd: "puppetdb_sd_configs", defect: "url without a host" }),
    ("puppetdb_no_query.bad.yml", SdField { sd: "puppetdb_sd_configs", defect: "no query" }),
    ("puppetdb_no_scheme.bad.yml", SdField { sd: "puppetdb_sd_configs", defect: "url scheme is ftp" }),
    ("puppetdb_no_url.bad.yml", SdField { sd: "puppetdb_sd_configs", defect: "no url" }),
    ("puppetdb_token_file.bad.yml", BEARER_AND_FILE),
    ("regex.bad.yml", Defect("4:16: error parsing regexp: missing closing ): `abc(def`")),
    ("remote_read_dup.bad.yml", Defect(r#"4:5: found multiple remote read configs with job name "queue1""#)),
    (
        "remote_read_header.bad.yml",
        Defect("x-prometheus-remote-write-version is a reserved header. It must not be changed"),
    ),
    ("remote_read_url_missing.bad.yml", Defect("url for remote_read is empty")),
    (
        "remote_write_authorization_header.bad.yml",
        Defect(
            "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter",
        ),
    ),
    ("remote_write_dup.bad.yml", Defect(r#"4:5: found multiple remote write configs with job name "queue1""#)),
    (
        "remote_write_header.bad.yml",
        Defect("x-prometheus-remote-write-version is a reserved header. It must not be changed"),
    ),
    ("remote_write_queue_capacity_zero.bad.yml", Defect("remote write queue capacity must be positive")),
    (
        "remote_write_queue_max_backoff_less_than_min.bad.yml",
        Defect("remote write queue max_backoff must not be less than min_backoff"),
    ),
    (
        "remote_write_queue_max_samples_per_send_zero.bad.yml",
        Defect("remote write queue max_samples_per_send must be positive"),
    ),
    ("remote_write_queue_max_shards_zero.bad.yml", Defect("remote write queue max_shards must be positive")),
    (
        "remote_write_queue_min_shards_greater_than_max.bad.yml",
        Defect("remote write queue min_shards must not be greater than max_shards"),
    ),
    ("remote_write_queue_min_shards_zero.bad.yml", Defect("remote write queue min_shards must be positive")),
    ("remote_write_url_missing.bad.yml", Defect("url for remote_write is empty")),
    (
        "remote_write_wrong_msg.bad.yml",
        Defect(
            "invalid protobuf_message value: unknown type for remote write protobuf message io.prometheus.writet.v2.Request",
        ),
    ),
    ("rules.bad.yml", Defect(r#"3:5: invalid rule file path "my/*/rule""#)),
    (
        "scaleway_no_secret.bad.yml",
        SdField { sd: "scaleway_sd_configs", defect: "neither secret_key nor secret_key_file" },
    ),
    ("scaleway_role.bad.yml", SdField { sd: "scaleway_sd_configs", defect: "role is neither baremetal nor instance" }),
    (
        "scaleway_two_secrets.bad.yml",
        SdField { sd: "scaleway_sd_configs", defect: "both secret_key and secret_key_file" },
    ),
    ("scrape_body_size_limit.bad.yml", Defect("3:22: units: unknown unit  in 100")),
    // The file other tests include; loaded itself, it has the same defect.
    (
        "scrape_config_files.bad.yml",
        Defect(r#"scrape timeout greater than scrape interval for scrape config with job name "prometheus""#),
    ),
    (
        "scrape_config_files_double_import.bad.yml",
        Defect(
            r#"scrape_config_files.good.yml:2:5: found multiple scrape configs with job name "prometheus", first found in "/"#,
        ),
    ),
    (
        "scrape_config_files_duplicate.bad.yml",
        Defect(
            r#"scrape_config_files.good.yml:2:5: found multiple scrape configs with job name "prometheus", first found in main config file"#,
        ),
    ),
    (
        "scrape_config_files_fallback_scrape_protocol1.bad.yml",
        Defect(
            r#"invalid fallback_scrape_protocol for scrape config with job name "node": unknown scrape protocol prometheusproto"#,
        ),
    ),
    // A list where one protocol goes (upstream: "unmarshal errors").
    ("scrape_config_files_fallback_scrape_protocol2.bad.yml", Defect("3:31: expected string")),
    ("scrape_config_files_glob.bad.yml", Defect(r#"invalid scrape config file path "scrape_configs/*/*""#)),
    (
        "scrape_config_files_global.bad.yml",
        Defect(
            r#"scrape_config_files.bad.yml:2:5: scrape timeout greater than scrape interval for scrape config with job name "prometheus""#,
        ),
    ),
    (
        "scrape_config_files_global_duplicate.bad.yml",
        Defect(
            r#"scrape_config_files.good.yml:2:5: found multiple scrape configs with job name "prometheus", first found in main config file"#,
        ),
    ),
    (
        "scrape_config_files_scrape_protocols.bad.yml",
        Defect(
            r#"scrape_protocols: unknown scrape protocol prometheusproto, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0] for scrape config with job name "node""#,
        ),
    ),
    (
        "scrape_config_files_scrape_protocols2.bad.yml",
        Defect(
            r#"duplicated protocol in scrape_protocols, got [OpenMetricsText1.0.0 PrometheusProto OpenMetricsText1.0.0] for scrape config with job name "node""#,
        ),
    ),
    (
        "scrape_config_utf8_conflicting.bad.yml",
        Defect("utf8 metric names requested but validation scheme is not set to UTF8"),
    ),
    ("scrape_interval.bad.yml", Defect("scrape timeout greater than scrape interval")),
    ("section_key_dup.bad.yml", Defect("4:1: field scrape_configs already set")),
    ("stackit_endpoint.bad.yml", SdField { sd: "stackit_sd_configs", defect: "endpoint is not a URL" }),
    // Upstream reads this one as a target group (`TestBadStaticConfigsYML`, the defect being
    // its non-UTF-8 label name); as a config file, its first key is not a config field.
    ("static_config.bad.yml", Defect(r#"1:1: unknown field "targets""#)),
    (
        "target_label_hashmod_missing.bad.yml",
        Defect("relabel configuration for hashmod action requires 'target_label' value"),
    ),
    ("target_label_missing.bad.yml", Defect("relabel configuration for replace action requires 'target_label' value")),
    (
        "tracing_invalid_authorization_header.bad.yml",
        Defect("custom authorization header configuration is not yet supported"),
    ),
    ("tracing_invalid_compression.bad.yml", Defect("invalid compression type foo provided, valid options: gzip")),
    (
        "tracing_invalid_header.bad.yml",
        Defect("x-prometheus-remote-write-version is a reserved header. It must not be changed"),
    ),
    ("tracing_missing_endpoint.bad.yml", Defect("tracing endpoint must be set")),
    (
        "tsdb_chunk_encoding_floats.bad.yml",
        Defect(
            r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "xor3""#,
        ),
    ),
    (
        "tsdb_chunk_encoding_floats_wrong_case.bad.yml",
        Defect(
            r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "XOR""#,
        ),
    ),
    (
        "tsdb_chunk_encoding_floats_wrong_case_xor2.bad.yml",
        Defect(
            r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "XOR2""#,
        ),
    ),
    (
        "tsdb_retention_percentage.bad.yml",
        Defect("'storage.tsdb.retention.percentage' must be in the range [0, 100], got 101"),
    ),
    (
        "tsdb_retention_percentage_negative.bad.yml",
        Defect("'storage.tsdb.retention.percentage' must be in the range [0, 100], got -1"),
    ),
    (
        "tsdb_retention_size.bad.yml",
        Defect("4:13: 'storage.tsdb.retention.size' must be greater than or equal to 0, got -1GB"),
    ),
    ("tsdb_retention_time.bad.yml", Defect(r#"4:13: not a valid duration string: "-1h""#)),
    ("unknown_attr.bad.yml", Defect(r#"19:5: unknown field "consult_sd_configs""#)),
    ("unknown_global_attr.bad.yml", Defect(r#"2:3: unknown field "nonexistent_field""#)),
    ("uppercase.bad.yml", Defect("relabel configuration for uppercase action requires 'target_label' value")),
    ("uppercase3.bad.yml", Defect("'replacement' can not be set for uppercase action")),
    ("url_in_targetgroup.bad.yml", Defect(r#"4:9: "http://bad" is not a valid hostname"#)),
    ("uyuni_no_server.bad.yml", SdField { sd: "uyuni_sd_configs", defect: "no server" }),
    ("uyuni_token_file.bad.yml", BEARER_AND_FILE),
];

/// Good files promlite refuses, each only for what it does not run (every problem is "… is not
/// supported by promlite yet"), with what that is. Every other `*.good.yml` loads.
pub const REFUSED_GOOD_FILES: [(&str, &str); 14] = [
    ("conf.good.yml", "every SD but static, file and Kubernetes; otlp; tracing"),
    ("otlp_allow_keep_identifying_resource_attributes.good.yml", "otlp"),
    ("otlp_allow_utf8.good.yml", "otlp"),
    ("otlp_convert_histograms_to_nhcb.good.yml", "otlp"),
    ("otlp_label_underscore_sanitization_defaults.good.yml", "otlp"),
    ("otlp_label_underscore_sanitization_disabled.good.yml", "otlp"),
    ("otlp_label_underscore_sanitization_enabled.good.yml", "otlp"),
    ("otlp_no_translation.good.yml", "otlp"),
    ("otlp_promote_scope_metadata.good.yml", "otlp"),
    ("otlp_sanitize_ignore_resource_attributes.good.yml", "otlp"),
    ("otlp_sanitize_promote_resource_attributes.good.yml", "otlp"),
    ("otlp_sanitize_resource_attributes_promote_all.good.yml", "otlp"),
    (
        "roundtrip.good.yml",
        "azure, consul, digitalocean, docker, dockerswarm, dns, ec2, kuma, marathon, nerve, openstack and triton SDs",
    ),
    ("scrape_interval_larger.good.yml", "dns_sd_configs"),
];
