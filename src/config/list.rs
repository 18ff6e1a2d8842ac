//! `deserialize_with` helpers for lists whose entries need a position and whose null entries
//! must be reported with Prometheus's message instead of failing the parse, and for label sets.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::error::{Position, Problem, defer};

fn entries<'de, D, T>(deserializer: D, null_message: &str) -> Result<Vec<Spanned<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Option::<Vec<Spanned<Option<T>>>>::deserialize(deserializer)?.unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.value {
            Some(value) => out.push(Spanned::new(value, item.referenced, item.defined)),
            None => defer(Problem::new(Position::from_location(item.referenced), null_message)),
        }
    }
    Ok(out)
}

macro_rules! entry_lists {
    ($($name:ident: $ty:ty => $message:literal;)*) => {
        $(
            pub(crate) fn $name<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Vec<Spanned<$ty>>, D::Error> {
                entries(deserializer, $message)
            }
        )*
    };
}

entry_lists! {
    scrape_configs: super::scrape::ScrapeConfigEntry => "empty or null scrape config section";
    remote_write: super::remote::RawRemoteWriteConfig => "empty or null remote write config section";
    remote_read: super::remote::RawRemoteReadConfig => "empty or null remote read config section";
    static_configs: super::StaticConfig => "empty or null section in static_configs";
    file_sd_configs: super::FileSdConfig => "empty or null section in file_sd_configs";
    kubernetes_sd_configs: super::kubernetes::RawKubernetesSdConfig => "empty or null section in kubernetes_sd_configs";
    target_relabel_configs: crate::relabel::RelabelConfig => "empty or null target relabeling rule in scrape config";
    metric_relabel_configs: crate::relabel::RelabelConfig => "empty or null metric relabeling rule in scrape config";
    write_relabel_configs: crate::relabel::RelabelConfig => "empty or null relabeling rule in remote write config";
    alertmanagers: super::alerting::AlertmanagerEntry => "empty or null section in alertmanagers";
    alert_relabel_configs: crate::relabel::RelabelConfig => "empty or null alert relabeling rule";
    alertmanager_relabel_configs: crate::relabel::RelabelConfig => "empty or null Alertmanager target relabeling rule";
}

/// A label set (`external_labels`, a static config's `labels`). A `!!binary` name or value
/// whose bytes are not UTF-8 is refused as the invalid label name or value it is: Prometheus
/// keeps the bytes and refuses them as such; a Rust `String` cannot hold them.
pub(crate) fn labels<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    Option::<Labels>::deserialize(deserializer).map(|labels| labels.map(|l| l.0))
}

struct Labels(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of label names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let mut labels = BTreeMap::new();
        while let Some(name) = map.next_key::<String>().map_err(|err| not_utf8(err, "name"))? {
            let value = map.next_value::<String>().map_err(|err| not_utf8(err, "value"))?;
            labels.insert(name, value);
        }
        Ok(Labels(labels))
    }
}

fn not_utf8<E: serde::de::Error>(err: E, what: &str) -> E {
    if err.to_string().starts_with("!!binary scalar is not valid UTF-8") {
        return E::custom(format!("not a valid label {what}: the !!binary value is not UTF-8"));
    }
    err
}
