//! Prometheus metrics of the operator, in the text format on `/metrics`.
//!
//! Labels come only from fixed sets (results, action names, error classes, condition
//! reasons), never from object names or error text, so cardinality stays bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

/// The operator's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    calls: Family<CallLabels, Counter>,
    throttled: Family<ActionLabel, Counter>,
    resources: Family<ReasonLabel, Gauge>,
    reasons: Mutex<HashMap<String, String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `swas_image_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("swas_image_operator");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by result (ok or error)",
            reconciles.clone(),
        );
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            duration.clone(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "swas_calls",
            "SWAS calls by action and outcome (ok or error class)",
            calls.clone(),
        );
        let throttled = Family::<ActionLabel, Counter>::default();
        registry.register(
            "swas_throttled",
            "SWAS calls answered with throttling",
            throttled.clone(),
        );
        let resources = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "resources",
            "CustomImages by the reason of their Ready condition",
            resources.clone(),
        );
        Self {
            registry,
            reconciles,
            duration,
            calls,
            throttled,
            resources,
            reasons: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one reconcile and its duration.
    pub fn reconciled(&self, ok: bool, took: Duration) {
        let result = if ok { "ok" } else { "error" };
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts one SWAS call; `outcome` is `ok` or an error class.
    pub fn called(&self, action: &'static str, outcome: &'static str) {
        self.calls
            .get_or_create(&CallLabels { action, outcome })
            .inc();
        if outcome == "throttled" {
            self.throttled.get_or_create(&ActionLabel { action }).inc();
        }
    }

    /// Records the Ready reason of resource `uid` (`None` when it is gone).
    pub fn resource_reason(&self, uid: &str, reason: Option<&str>) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        let previous = match reason {
            Some(reason) => reasons.insert(uid.to_string(), reason.to_string()),
            None => reasons.remove(uid),
        };
        if previous.as_deref() == reason {
            return;
        }
        if let Some(previous) = previous {
            self.resources
                .get_or_create(&ReasonLabel { reason: previous })
                .dec();
        }
        if let Some(reason) = reason {
            self.resources
                .get_or_create(&ReasonLabel {
                    reason: reason.to_string(),
                })
                .inc();
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
