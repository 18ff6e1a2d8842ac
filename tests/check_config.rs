//! `promlite check config` against `promtool check config` (Prometheus 2.42, Debian's package)
//! on every upstream `config/testdata` file: the same files accepted, and for a file both
//! refuse, the same defect (the same message, or the same field or YAML error on the same
//! line). Also the check's output for the inputs of issue #16 item 5: a bad regex, a key
//! indented too far, a missing file.
//!
//! promtool runs with `--syntax-only`: without it, it also checks that rule and credential
//! files a config names exist, which `promlite check config` does not (nor do the test files
//! ship them). Where 2.42 and 3.14 differ, the tables below say how, and the test fails when an
//! entry stops being needed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::upstream_files::{BAD_FILES, Expect, REFUSED_GOOD_FILES, TESTDATA};
use crate::util::binary;

/// Debian's promtool (package prometheus).
const PROMTOOL: &str = "/usr/bin/promtool";

/// Fields Debian's promtool 2.42 does not know, with why: 2.42 refuses a file using one as an
/// unknown field, which says nothing about the file's defect under 3.14.
const NOT_IN_PROMTOOL_2_42: [(&str, &str); 32] = [
    ("kubernetes_sd_configs", "Debian builds 2.42 without Kubernetes discovery"),
    ("consul_sd_configs", "Debian builds 2.42 without Consul discovery"),
    ("kuma_sd_configs", "Debian builds 2.42 without Kuma discovery"),
    ("nomad_sd_configs", "Debian builds 2.42 without Nomad discovery"),
    ("linode_sd_configs", "Debian builds 2.42 without Linode discovery"),
    ("scrape_config_files", "added in 2.43"),
    ("body_size_limit", "global limits: added in 2.43"),
    ("sample_limit", "global limits: added in 2.43"),
    ("target_limit", "global limits: added in 2.43"),
    ("label_limit", "global limits: added in 2.43"),
    ("label_name_length_limit", "global limits: added in 2.43"),
    ("label_value_length_limit", "global limits: added in 2.43"),
    ("scrape_protocols", "added in 2.49"),
    ("enable_compression", "added in 2.49"),
    ("runtime", "added in 2.53"),
    ("protobuf_message", "remote write 2.0: added in 2.54"),
    ("otlp", "added after 2.42 (in config.go from 2.55)"),
    ("metric_name_validation_scheme", "added in 2.55"),
    ("scrape_failure_log_file", "added in 2.55"),
    ("fallback_scrape_protocol", "added in 3.0"),
    ("always_scrape_classic_histograms", "added in 3.0"),
    ("convert_classic_histograms_to_nhcb", "added in 3.0"),
    ("http_headers", "prometheus/common's HTTP client headers, newer than 2.42's"),
    ("metric_name_escaping_scheme", "added in 3.4"),
    ("stackit_sd_configs", "added in 3.5"),
    ("retention", "storage.tsdb.retention: added in 3.8"),
    ("scrape_native_histograms", "added in 3.8"),
    ("extra_scrape_metrics", "added in 3.10"),
    ("stale_series_compaction_threshold", "added in 3.10"),
    ("outscale_sd_configs", "added in 3.12"),
    ("chunk_encoding", "added in 3.13"),
    ("oci_sd_configs", "added in 3.14"),
];

/// Files on which promtool 2.42 and promlite (as Prometheus 3.14) differ for another reason
/// than a field 2.42 lacks or an SD promlite does not run, with the reason.
const DIFFERENCES: [(&str, &str); 15] = [
    ("azure_bearertoken_basicauth.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("ec2_token_file.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("http_token_file.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("lightsail_token_file.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("puppetdb_token_file.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("uyuni_token_file.bad.yml", "an SD's HTTP client settings are validated since 2.48; 2.42 accepts"),
    ("remote_write_queue_capacity_zero.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    ("remote_write_queue_max_backoff_less_than_min.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    ("remote_write_queue_max_samples_per_send_zero.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    ("remote_write_queue_max_shards_zero.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    ("remote_write_queue_min_shards_greater_than_max.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    ("remote_write_queue_min_shards_zero.bad.yml", "queue_config is validated since 3.12; 2.42 accepts"),
    (
        "remote_write_authorization_header.bad.yml",
        "3.x's message also names azuread and google_iam, which 2.42 does not have",
    ),
    // Go keeps the bytes and prints them; a Rust String cannot hold them (same defect, other words).
    ("labelname.bad.yml", r#"2.42: "\xff" is not a valid label name; promlite: not a valid label name (not UTF-8)"#),
    ("labelvalue.bad.yml", r#"2.42: "\xff" is not a valid label value; promlite: not a valid label value (not UTF-8)"#),
];

/// What a checker said about one file.
struct Verdict {
    accepted: bool,
    /// promtool: its defects; promlite: `(line, message)` per problem.
    output: String,
}

fn promtool(dir: &Path, args: &[&str]) -> Verdict {
    let output = Command::new(PROMTOOL)
        .current_dir(dir)
        .args(["check", "config", "--syntax-only"])
        .args(args)
        .output()
        .expect("running promtool");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    Verdict { accepted: output.status.success(), output: text }
}

fn promlite(dir: &Path, args: &[&str]) -> Verdict {
    let output =
        Command::new(binary()).current_dir(dir).args(["check", "config", "--syntax-only"]).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{args:?}: {text}");
    Verdict { accepted: output.status.success(), output: text }
}

/// One defect as promtool states it, normalised for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Defect {
    /// `line N: field X not found in type T`.
    UnknownField { line: u32, field: String },
    /// `line N: field X already set in type T`.
    AlreadySet { line: u32, field: String },
    /// A YAML error on a line (`yaml: line N: …`, `line N: cannot unmarshal …`).
    Line(u32),
    /// Any other message, as Prometheus words it.
    Message(String),
}

/// promtool's defects: what follows `FAILED: parsing YAML file NAME: `, one per YAML error.
fn promtool_defects(output: &str) -> Vec<Defect> {
    let Some(failed) = output.split_once("FAILED: ").map(|(_, rest)| rest) else {
        return Vec::new();
    };
    let message =
        failed.split_once(": ").filter(|(head, _)| head.starts_with("parsing YAML file")).map_or(failed, |x| x.1);
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim();
    if first == "yaml: unmarshal errors:" {
        return lines.map(str::trim).filter(|l| !l.is_empty()).map(unmarshal_error).collect();
    }
    if let Some(rest) = first.strip_prefix("yaml: line ") {
        let line = rest.split(':').next().unwrap_or_default().parse().unwrap_or(0);
        return vec![Defect::Line(line)];
    }
    vec![Defect::Message(first.strip_prefix("yaml: ").unwrap_or(first).to_owned())]
}

/// One line of Go's `yaml: unmarshal errors:` list.
fn unmarshal_error(text: &str) -> Defect {
    let rest = text.strip_prefix("line ").unwrap_or(text);
    let (line, what) = rest.split_once(": ").unwrap_or((rest, ""));
    let line = line.parse().unwrap_or(0);
    let field = || what.strip_prefix("field ").and_then(|f| f.split(' ').next()).unwrap_or_default().to_owned();
    if what.contains(" not found in type ") {
        Defect::UnknownField { line, field: field() }
    } else if what.contains(" already set in type ") {
        Defect::AlreadySet { line, field: field() }
    } else {
        Defect::Line(line)
    }
}

/// promlite's problems as `(line, message)`, from its `FILE:LINE:COL: message` lines.
fn promlite_problems(output: &str) -> Vec<(u32, String)> {
    let failed = output.split_once("FAILED: ").map_or("", |(_, rest)| rest);
    failed
        .lines()
        .map(str::trim)
        .filter_map(|line| {
            let (place, message) = line.split_once(": ")?;
            let mut parts = place.rsplitn(3, ':');
            let _column = parts.next()?;
            let line = parts.next()?.parse().ok()?;
            Some((line, message.to_owned()))
        })
        .collect()
}

/// Whether promlite reports `defect`.
fn reports(problems: &[(u32, String)], defect: &Defect) -> bool {
    problems.iter().any(|(line, message)| match defect {
        Defect::UnknownField { line: at, field } => {
            *line == *at
                && (*message == format!("unknown field {field:?}")
                    || *message == format!("{field} is not supported by promlite yet"))
        }
        Defect::AlreadySet { line: at, field } => *line == *at && *message == format!("field {field} already set"),
        Defect::Line(at) => *line == *at,
        Defect::Message(text) => same_message(text, message),
    })
}

/// Equal, or the same regex error: Go quotes the fragment it refused, inside its anchoring
/// group (`^(?:…)$` in 2.42), promlite the whole pattern as written.
fn same_message(go: &str, ours: &str) -> bool {
    if go == ours {
        return true;
    }
    let (Some(go), Some(ours)) =
        (go.strip_prefix("error parsing regexp: "), ours.strip_prefix("error parsing regexp: "))
    else {
        return false;
    };
    let (Some((go_code, go_fragment)), Some((our_code, our_pattern))) = (go.split_once(": `"), ours.split_once(": `"))
    else {
        return false;
    };
    let go_fragment = go_fragment.trim_end_matches('`');
    let go_fragment = go_fragment.strip_prefix("^(?:").unwrap_or(go_fragment);
    let go_fragment = go_fragment.strip_suffix(")$").unwrap_or(go_fragment);
    go_code == our_code && our_pattern.trim_end_matches('`').contains(go_fragment)
}

fn have_dependencies() -> bool {
    if !promlite_testkit::have(Path::new(PROMTOOL), "Debian package prometheus") {
        return false;
    }
    if !Path::new(TESTDATA).is_dir() {
        promlite_testkit::missing(&format!("upstream testdata at {TESTDATA} (../shared/upstream)"));
        return false;
    }
    true
}

#[test]
fn check_config_agrees_with_promtool_on_every_upstream_file() {
    if !have_dependencies() {
        return;
    }
    let dir = Path::new(TESTDATA);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".good.yml") || name.ends_with(".bad.yml"))
        .collect();
    names.sort();
    assert!(names.len() >= 200, "only {} files: was the directory misread?", names.len());
    let not_in_2_42 = |defect: &Defect| matches!(defect, Defect::UnknownField { field, .. } if NOT_IN_PROMTOOL_2_42.iter().any(|(f, _)| f == field));
    let mut used_fields = BTreeSet::new();
    let mut used_differences = BTreeSet::new();
    let (mut agreed, mut lacking) = (0, 0);
    let mut not_run = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        // Absolute paths, as the unit tests load them: an error about an included file names
        // it as it was found.
        let path = dir.join(name).display().to_string();
        let theirs = promtool(dir, &[&path]);
        let ours = promlite(dir, &[&path]);
        // The real binary says what the unit tests expect of `load_file`.
        match BAD_FILES.iter().find(|(bad, _)| bad == name).map(|(_, expect)| expect) {
            Some(Expect::Defect(defect)) if !ours.output.contains(defect) => {
                failures.push(format!("{name}: promlite does not say {defect:?}:\n  {}", ours.output.trim()));
            }
            Some(Expect::SdField { sd, .. })
                if !ours.output.contains(&format!("{sd} is not supported by promlite yet")) =>
            {
                failures.push(format!("{name}: promlite does not refuse {sd}:\n  {}", ours.output.trim()));
            }
            _ => {}
        }
        let defects = promtool_defects(&theirs.output);
        let problems = promlite_problems(&ours.output);
        // What 2.42 refuses only because it predates a field, it cannot judge.
        let judged: Vec<&Defect> = defects.iter().filter(|d| !not_in_2_42(d)).collect();
        if !theirs.accepted && judged.is_empty() {
            for defect in &defects {
                if let Defect::UnknownField { field, .. } = defect {
                    used_fields.insert(field.clone());
                }
            }
            lacking += 1;
            continue;
        }
        let agrees = match (theirs.accepted, ours.accepted) {
            (true, true) => true,
            // promlite stops at the first YAML error, Go lists them all: the first must match.
            (false, false) => reports(&problems, judged[0]),
            _ => false,
        };
        if agrees {
            agreed += 1;
            continue;
        }
        // promlite refuses, for an SD (or section) it does not run, a file promtool accepts or
        // refuses for that SD's own fields.
        let not_run_here = BAD_FILES
            .iter()
            .find_map(|(bad, expect)| match expect {
                Expect::SdField { sd, defect } if bad == name => Some(format!("{defect}, in {sd}")),
                _ => None,
            })
            .or_else(|| REFUSED_GOOD_FILES.iter().find(|(good, _)| good == name).map(|(_, what)| what.to_string()));
        if let Some(what) = not_run_here.filter(|_| !ours.accepted) {
            not_run.push(format!("{name} ({what})"));
            continue;
        }
        if DIFFERENCES.iter().any(|(file, _)| file == name) {
            used_differences.insert(name.clone());
            continue;
        }
        failures.push(format!(
            "{name}:\n  promtool 2.42: {}\n  promlite: {}",
            theirs.output.trim(),
            ours.output.trim()
        ));
    }
    for (field, reason) in NOT_IN_PROMTOOL_2_42 {
        if !used_fields.contains(field) {
            failures.push(format!("NOT_IN_PROMTOOL_2_42 lists {field} ({reason}), which no file needs"));
        }
    }
    for (file, reason) in DIFFERENCES {
        if !used_differences.contains(file) {
            failures.push(format!("DIFFERENCES lists {file} ({reason}), on which promlite and promtool now agree"));
        }
    }
    let _ = writeln_summary(names.len(), agreed, lacking, &not_run, used_differences.len());
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    // Most files must be comparable, or the test says little.
    assert!(agreed >= 60, "only {agreed} files agreed");
}

/// The tally, on stderr so that it shows with `--nocapture`.
fn writeln_summary(
    files: usize,
    agreed: usize,
    lacking: usize,
    not_run: &[String],
    listed: usize,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    writeln!(
        stderr,
        "{files} files: {agreed} agree with promtool 2.42, {lacking} use what 2.42 lacks, {} need what promlite \
         does not run, {listed} differ as listed",
        not_run.len()
    )?;
    for file in not_run {
        writeln!(stderr, "  not run: {file}")?;
    }
    Ok(())
}

/// Writes `yaml` to `name` in a new temporary directory.
fn file(name: &str, yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), yaml).unwrap();
    dir
}

/// Issue #16 item 5: a bad regex shows as written (promtool prints the pattern inside Go's
/// anchoring group, with the backslashes the user typed), with Go's error code.
#[test]
fn bad_regexes_read_as_written_with_promtools_error_code() {
    if !have_dependencies() {
        return;
    }
    // In YAML single quotes a backslash is itself; `"a\\d(b"` is the same pattern double-quoted.
    let patterns = [r"a\d(b", "a)", "[a", "*a", r"(?<!a)b", r"\8", "[z-a]", r"\p{Foo}", "(?P<>a)", "x{2,1}", r"a\"];
    for pattern in patterns {
        let yaml = format!(
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {{source_labels: [x], target_label: y, regex: '{pattern}'}}\n"
        );
        let dir = file("regex.yml", &yaml);
        let theirs = promtool(dir.path(), &["regex.yml"]);
        let ours = promlite(dir.path(), &["regex.yml"]);
        let [Defect::Message(go)] = &promtool_defects(&theirs.output)[..] else {
            panic!("{pattern}: promtool said {}", theirs.output);
        };
        let (code, _) = go.strip_prefix("error parsing regexp: ").and_then(|m| m.split_once(": `")).unwrap();
        let problems = promlite_problems(&ours.output);
        let want = format!("error parsing regexp: {code}: `{pattern}`");
        assert_eq!(problems, [(4, want)], "{pattern}: promtool said {go}");
    }
    let dir =
        file("regex.yml", "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: \"a\\\\d(b\"\n");
    let theirs = promtool(dir.path(), &["regex.yml"]);
    assert!(theirs.output.contains(r"`^(?:a\d(b)$`"), "{}", theirs.output);
    let ours = promlite(dir.path(), &["regex.yml"]);
    assert_eq!(promlite_problems(&ours.output), [(4, r"error parsing regexp: missing closing ): `a\d(b`".to_owned())]);
}

/// Issue #16 item 5: a key indented too far is the YAML error promtool reports (its message,
/// at the key's line), not an error about the value the key was folded into.
#[test]
fn an_over_indented_key_is_a_yaml_error_like_promtools() {
    if !have_dependencies() {
        return;
    }
    // Each with the line of the key indented too far.
    let cases = [
        ("global:\n  scrape_interval: 15s\n    evaluation_interval: 15s\n", 3),
        ("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n      scrape_timeout: 1s\n", 4),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['x:1']\n          labels: {a: b}\n",
            5,
        ),
    ];
    for (yaml, key_line) in cases {
        let dir = file("indent.yml", yaml);
        let theirs = promtool(dir.path(), &["indent.yml"]);
        let ours = promlite(dir.path(), &["indent.yml"]);
        assert!(!theirs.accepted && !ours.accepted, "{yaml}");
        let go = theirs.output.split_once("yaml: line ").map(|(_, rest)| rest.trim());
        let (go_line, go_message) =
            go.and_then(|go| go.split_once(": ")).unwrap_or_else(|| panic!("{}", theirs.output));
        // libyaml names the line of the key, or of the block it was parsing when it failed.
        assert!(go_line.parse::<u32>().unwrap() <= key_line, "{yaml}\npromtool: {}", theirs.output);
        let [(line, message)] = &promlite_problems(&ours.output)[..] else {
            panic!("{yaml}\npromlite: {}", ours.output);
        };
        assert_eq!(*line, key_line, "{yaml}\npromlite: {message}");
        assert!(message.contains(go_message), "{yaml}\npromtool: {go_message}\npromlite: {message}");
    }
}

/// Issue #16 item 5: a missing file fails the check like promtool's (exit 1, the path named),
/// and the reason is said once.
#[test]
fn a_missing_file_is_said_once() {
    if !have_dependencies() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let theirs = promtool(dir.path(), &["missing.yml"]);
    let ours = promlite(dir.path(), &["missing.yml"]);
    assert!(!theirs.accepted && !ours.accepted);
    assert_eq!(theirs.output.matches("missing.yml").count(), 1, "{}", theirs.output);
    let failed = ours.output.lines().find(|l| l.contains("FAILED")).unwrap_or_else(|| panic!("{}", ours.output));
    assert_eq!(failed.trim(), "FAILED: missing.yml: No such file or directory (os error 2)", "{}", ours.output);
}
