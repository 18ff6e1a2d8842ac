//! What the web layer sees of the notifier: the Alertmanagers it sends to and those relabeling
//! dropped, for `/api/v1/alertmanagers`.

/// The Alertmanagers' URLs (`/api/v2/alerts` endpoints), passwords redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertmanagerUrls {
    /// Discovered and kept, by set in config order, then in discovery order.
    pub active: Vec<String>,
    /// Discovered and dropped by `relabel_configs`, as their labels were before relabeling.
    pub dropped: Vec<String>,
}

/// What the web layer may ask of the notifier.
pub trait AlertmanagersView: Send + Sync {
    /// The current Alertmanagers.
    fn alertmanagers(&self) -> AlertmanagerUrls;
}

/// No notifier: for servers and tests without one.
pub struct NoAlertmanagers;

impl AlertmanagersView for NoAlertmanagers {
    fn alertmanagers(&self) -> AlertmanagerUrls {
        AlertmanagerUrls::default()
    }
}
