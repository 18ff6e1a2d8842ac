//! File-based service discovery end to end: targets appear, change and vanish as their files do.

use std::time::Duration;

use crate::util::{FakeTarget, eventually, get_json, start};

#[test]
fn file_sd_targets_follow_their_files() {
    let first = FakeTarget::start(|_| "from_file 1\n".to_owned());
    let second = FakeTarget::start(|_| "from_file 2\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let targets_dir = dir.path().join("targets");
    std::fs::create_dir(&targets_dir).unwrap();
    std::fs::write(
        targets_dir.join("a.json"),
        format!(r#"[{{"targets": ["{}"], "labels": {{"env": "prod"}}}}]"#, first.addr),
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: files\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['targets/*.json', 'targets/*.yml']\n",
    )
    .unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config.display())]);

    let active = |want: usize| {
        eventually(Duration::from_secs(15), || {
            let (_, body) = get_json(server.addr, "/api/v1/targets?state=active");
            let active = body["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
            if active.len() == want && active.iter().all(|t| t["health"] == "up") {
                Ok(active)
            } else {
                Err(body.to_string())
            }
        })
    };
    let targets = active(1);
    assert_eq!(targets[0]["labels"]["env"], "prod");
    assert_eq!(targets[0]["discoveredLabels"]["__meta_filepath"], targets_dir.join("a.json").display().to_string());

    // A second file adds a target; rewriting the first moves its target.
    std::fs::write(targets_dir.join("b.yml"), format!("- targets: ['{}']\n", second.addr)).unwrap();
    assert_eq!(active(2).len(), 2);
    std::fs::write(targets_dir.join("a.json"), "[]").unwrap();
    let targets = active(1);
    assert_eq!(targets[0]["labels"]["instance"], second.addr.to_string());

    // A broken file keeps its last good targets (once the error is logged, it has been read).
    std::fs::write(targets_dir.join("b.yml"), "- targets: ['unterminated\n").unwrap();
    eventually(Duration::from_secs(10), || {
        let log = server.log.lock().unwrap();
        if log.iter().any(|l| l.contains("error reading file_sd file") && l.contains("b.yml")) {
            Ok(())
        } else {
            Err(log.join("\n"))
        }
    });
    assert_eq!(active(1)[0]["labels"]["instance"], second.addr.to_string());
}
