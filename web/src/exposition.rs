//! Writing promlite's own `/metrics` in the text exposition format: the one writer of a
//! family's `# HELP` and `# TYPE` lines, for every part that adds families (TSDB, scrape,
//! discovery, remote storage, the remote-write receiver). Parts write their samples themselves.
//! FIXME(#16): a metrics registry that owns every family (and its label escaping) is the next
//! step; until then this keeps the format in one place.

use std::fmt::Write as _;

/// Writes the `# HELP` and `# TYPE` lines of family `name` of `kind` (`counter`, `gauge`,
/// `histogram`, ...).
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes a family of one unlabelled sample: its HELP and TYPE lines and `name value`.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_as_the_text_format_wants() {
        let mut out = String::new();
        single(&mut out, "up_total", "counter", "Ups.", 3);
        family(&mut out, "q", "histogram", "Q.");
        assert_eq!(out, "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 3\n# HELP q Q.\n# TYPE q histogram\n");
    }
}
