//! The `ingress` role (upstream `discovery/kubernetes/ingress.go`).
//!
//! One group per Ingress (`ingress/<namespace>/<name>`); per rule, per HTTP path (`/` when the
//! rule has no `http` section, and for an empty path), one target addressed by the rule's host.
//! The scheme is `https` when a TLS entry's host equals the rule's host or is a `*.` wildcard
//! matching it label for label.

use super::objects::Ingress;
use super::{Labels, META, Stores, add_namespace_labels, add_object_meta};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// Whether TLS host `pattern` covers `host`: equal, or `*.rest` where only the first label differs.
fn matches_host_pattern(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.split('.').collect();
    let host_parts: Vec<&str> = host.split('.').collect();
    pattern_parts[0] == "*" && pattern_parts.len() == host_parts.len() && pattern_parts[1..] == host_parts[1..]
}

/// The ingress's target group.
pub(crate) fn build(ingress: &Ingress, stores: &Stores, attach: &AttachMetadata) -> TargetGroup {
    let meta = &ingress.metadata;
    let mut labels = Labels::from([(format!("{META}namespace"), meta.namespace.clone())]);
    if let Some(class) = &ingress.spec.ingress_class_name {
        labels.insert(format!("{META}ingress_class_name"), class.clone());
    }
    add_object_meta(&mut labels, meta, "ingress");
    add_namespace_labels(&mut labels, stores, attach, &meta.namespace);
    let mut group =
        TargetGroup { source: format!("ingress/{}/{}", meta.namespace, meta.name), targets: Vec::new(), labels };
    for rule in &ingress.spec.rules {
        let tls =
            ingress.spec.tls.iter().flat_map(|t| &t.hosts).any(|pattern| matches_host_pattern(pattern, &rule.host));
        let scheme = if tls { "https" } else { "http" };
        // No `http` section: every path. An `http` section without paths: none.
        let paths: Vec<&str> = match &rule.http {
            None => vec!["/"],
            Some(http) => http.paths.iter().map(|p| if p.path.is_empty() { "/" } else { p.path.as_str() }).collect(),
        };
        for path in paths {
            group.targets.push(Labels::from([
                ("__address__".to_owned(), rule.host.clone()),
                (format!("{META}ingress_scheme"), scheme.to_owned()),
                (format!("{META}ingress_host"), rule.host.clone()),
                (format!("{META}ingress_path"), path.to_owned()),
            ]));
        }
    }
    group
}

#[cfg(test)]
mod tests {
    use super::matches_host_pattern;

    #[test]
    fn tls_host_patterns() {
        assert!(matches_host_pattern("a.example.com", "a.example.com"));
        assert!(matches_host_pattern("*.example.com", "a.example.com"));
        assert!(!matches_host_pattern("*.example.com", "a.b.example.com"));
        assert!(!matches_host_pattern("*.example.com", "example.com"));
        assert!(!matches_host_pattern("a.*.com", "a.b.com"));
    }
}
