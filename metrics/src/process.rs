//! `process_*`: CPU, memory, file descriptors and start time, read from `/proc/self` at scrape
//! time, as client_golang's process collector does. Off Linux the families are absent.

use crate::encode::{Encoder, MetricType};
use crate::registry::Collector;

// USER_HZ is 100 on every Linux architecture we build for; the kernel fixes it for userspace.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Writes the `process_*` families of this process.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn collect(&self, enc: &mut Encoder) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
        // Fields after the parenthesised command name, which may itself contain spaces.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // Indices are the proc(5) field numbers minus 3 (pid and comm precede `after`).
        let cpu = (field(11) + field(12)) / CLOCK_TICKS_PER_SEC;
        let help = "Total user and system CPU time spent in seconds.";
        enc.single("process_cpu_seconds_total", help, MetricType::Counter, cpu);
        if let Some(fds) = std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count) {
            enc.single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, fds);
        }
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        if let Some(max) = soft_limit(&limits, "Max open files") {
            enc.single("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, max);
        }
        let help = "Virtual memory size in bytes.";
        enc.single("process_virtual_memory_bytes", help, MetricType::Gauge, field(20));
        if let Some(max) = soft_limit(&limits, "Max address space") {
            let help = "Maximum amount of virtual memory available in bytes.";
            enc.single("process_virtual_memory_max_bytes", help, MetricType::Gauge, max);
        }
        if let Some(rss_kb) = status_kb("VmRSS:") {
            let help = "Resident memory size in bytes.";
            enc.single("process_resident_memory_bytes", help, MetricType::Gauge, rss_kb * 1024);
        }
        if let Some(boot) = boot_time() {
            let help = "Start time of the process since unix epoch in seconds.";
            let start = boot + field(19) / CLOCK_TICKS_PER_SEC;
            enc.single("process_start_time_seconds", help, MetricType::Gauge, start);
        }
    }
}

/// The soft limit of a `/proc/self/limits` row; `unlimited` is -1, as client_golang reports it.
fn soft_limit(limits: &str, name: &str) -> Option<f64> {
    let rest = limits.lines().find_map(|l| l.strip_prefix(name))?;
    match rest.split_whitespace().next()? {
        "unlimited" => Some(-1.0),
        n => n.parse().ok(),
    }
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn process_families_have_plausible_values() {
        let mut enc = Encoder::new();
        ProcessCollector.collect(&mut enc);
        let out = enc.finish();
        let value = |name: &str| -> f64 {
            let line =
                out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} in {out}"));
            line[name.len() + 1..].parse().unwrap()
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start <= now + 1.0 && start > now - 86_400.0 * 365.0, "start {start}, now {now}");
        assert!(value("process_resident_memory_bytes") > 1e5);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }

    #[test]
    fn limits_rows_are_read_by_name() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(1024.0));
        assert_eq!(soft_limit(limits, "Max address space"), Some(-1.0));
        assert_eq!(soft_limit(limits, "Max processes"), None);
    }
}
