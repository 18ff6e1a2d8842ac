//! The `service` role (upstream `discovery/kubernetes/service.go`), and the service labels the
//! endpoints and endpointslice roles attach to their groups.
//!
//! One group per service (`svc/<namespace>/<name>`), one target per service port addressed by
//! the service's DNS name `<name>.<namespace>.svc:<port>`.

use super::objects::Service;
use super::{Labels, META, Stores, add_namespace_labels, add_object_meta, join_host_port};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// Namespace, name, labels and annotations of a service: all the other roles attach (no ports,
/// no cluster IP).
pub(crate) fn service_labels(service: &Service) -> Labels {
    let mut labels = Labels::from([(format!("{META}namespace"), service.metadata.namespace.clone())]);
    add_object_meta(&mut labels, &service.metadata, "service");
    labels
}

/// The service's target group.
pub(crate) fn build(service: &Service, stores: &Stores, attach: &AttachMetadata) -> TargetGroup {
    let meta = &service.metadata;
    let mut group = TargetGroup {
        source: format!("svc/{}/{}", meta.namespace, meta.name),
        targets: Vec::new(),
        labels: service_labels(service),
    };
    add_namespace_labels(&mut group.labels, stores, attach, &meta.namespace);
    let spec = &service.spec;
    for port in &spec.ports {
        let number = port.port.to_string();
        let mut target = Labels::from([
            ("__address__".to_owned(), join_host_port(&format!("{}.{}.svc", meta.name, meta.namespace), &number)),
            (format!("{META}service_port_name"), port.name.clone()),
            (format!("{META}service_port_number"), number),
            (format!("{META}service_port_protocol"), port.protocol.clone()),
            (format!("{META}service_type"), spec.kind.clone()),
        ]);
        if spec.kind == "ExternalName" {
            target.insert(format!("{META}service_external_name"), spec.external_name.clone());
        } else {
            target.insert(format!("{META}service_cluster_ip"), spec.cluster_ip.clone());
        }
        if spec.kind == "LoadBalancer" {
            target.insert(format!("{META}service_loadbalancer_ip"), spec.load_balancer_ip.clone());
        }
        group.targets.push(target);
    }
    group
}
