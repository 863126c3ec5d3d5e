//! What every reconcile shares: the Kubernetes client, the cloud, the event recorder, the
//! settings, and per-object memory of failures and recent cloud changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource};

use super::cloud::Cloud;
use crate::crd::CustomImage;
use crate::metrics::Metrics;

/// Controller settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an unchanged resource is observed again (one region listing serves all).
    pub resync: Duration,
    /// How long a recorded image may be missing from listings (eventual consistency) before
    /// the resource is declared stalled.
    pub missing_grace: Duration,
    /// How often a resource whose image is being created or deleted is checked.
    pub poll: Duration,
    /// How often the share accounts of an image shared with accounts are listed to catch
    /// changes made outside the operator that region listings cannot show; `None` never.
    pub share_audit: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(600),
            missing_grace: Duration::from_secs(120),
            poll: Duration::from_secs(2),
            share_audit: Some(Duration::from_secs(3600)),
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// The cloud.
    pub cloud: Arc<dyn Cloud>,
    /// Publishes events.
    pub recorder: Recorder,
    /// Settings.
    pub settings: Settings,
    /// Metrics, when the process exports them.
    pub metrics: Option<Arc<Metrics>>,
    failures: Mutex<HashMap<String, u32>>,
    changed: Mutex<HashMap<String, Instant>>,
    missing: Mutex<HashMap<String, Instant>>,
    holds: Mutex<HashMap<String, Hold>>,
    audited: Mutex<HashMap<String, Instant>>,
}

/// Until when a resource needs no reconcile unless it changes in a way that matters.
#[derive(Clone, Copy, Debug)]
struct Hold {
    until: Instant,
    fingerprint: u64,
}

/// What about an object makes a reconcile worth doing before its requeue time: its spec
/// (generation), deletion, and the pause and reconcile-now annotations. Our own status writes
/// and finalizer patches change none of these, so the watch events they cause cost nothing.
pub fn fingerprint(object: &CustomImage) -> u64 {
    use kube::ResourceExt;
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    object.metadata.generation.hash(&mut hasher);
    object
        .metadata
        .deletion_timestamp
        .is_some()
        .hash(&mut hasher);
    let annotations = object.annotations();
    annotations
        .get(crate::crd::PAUSED_ANNOTATION)
        .hash(&mut hasher);
    annotations
        .get(crate::crd::RECONCILE_ANNOTATION)
        .hash(&mut hasher);
    hasher.finish()
}

impl Context {
    /// A context.
    pub fn new(
        client: Client,
        cloud: Arc<dyn Cloud>,
        recorder: Recorder,
        settings: Settings,
    ) -> Self {
        Self {
            client,
            cloud,
            recorder,
            settings,
            metrics: None,
            failures: Mutex::new(HashMap::new()),
            changed: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashMap::new()),
            holds: Mutex::new(HashMap::new()),
            audited: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes an event on `object`; a failure to publish is logged, never fatal.
    pub async fn event(&self, object: &CustomImage, warning: bool, reason: &str, note: String) {
        let reference: ObjectReference = object.object_ref(&());
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, reason, "cannot publish event");
        }
    }

    /// Counts a failure for `uid` and returns how many in a row.
    pub fn failed(&self, uid: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(uid.to_string()).or_default();
        *count += 1;
        *count
    }

    /// Forgets the failures of `uid`.
    pub fn succeeded(&self, uid: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }

    /// Notes that `uid`'s image just changed in the cloud, so the next observation must be
    /// newer than now.
    pub fn changed(&self, uid: &str) {
        let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        changed.insert(uid.to_string(), Instant::now());
    }

    /// The oldest listing acceptable for `uid`: newer than its last change and than one resync
    /// interval.
    pub fn observe_after(&self, uid: &str) -> Instant {
        let now = Instant::now();
        let resync = now.checked_sub(self.settings.resync).unwrap_or(now);
        let changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        changed.get(uid).map_or(resync, |t| (*t).max(resync))
    }

    /// Requeues `object` after `wait`, and skips the reconciles its unchanged self would get
    /// before then (the watch events of our own writes).
    pub fn requeue(&self, object: &CustomImage, wait: Duration) -> Action {
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let hold = Hold {
            until: Instant::now() + wait,
            fingerprint: fingerprint(object),
        };
        self.holds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid, hold);
        Action::requeue(wait)
    }

    /// How long `object` is still on hold, if it has not changed in a way that matters.
    pub fn held(&self, object: &CustomImage) -> Option<Duration> {
        let uid = object.metadata.uid.as_deref().unwrap_or_default();
        let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        let hold = holds.get(uid)?;
        let left = hold.until.checked_duration_since(Instant::now())?;
        (hold.fingerprint == fingerprint(object) && !left.is_zero()).then_some(left)
    }

    /// How long `uid`'s recorded image has been missing from listings (zero the first time).
    pub fn missing_for(&self, uid: &str) -> Duration {
        let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        missing
            .entry(uid.to_string())
            .or_insert_with(Instant::now)
            .elapsed()
    }

    /// Whether `uid`'s share accounts are due for a listing of their own. The clock starts
    /// when the resource is first seen, so a restart does not list every shared image at once.
    pub fn share_audit_due(&self, uid: &str) -> bool {
        let Some(every) = self.settings.share_audit else {
            return false;
        };
        let mut audited = self.audited.lock().unwrap_or_else(|e| e.into_inner());
        audited
            .entry(uid.to_string())
            .or_insert_with(Instant::now)
            .elapsed()
            >= every
    }

    /// Notes that `uid`'s share accounts were just listed.
    pub fn share_audited(&self, uid: &str) {
        let mut audited = self.audited.lock().unwrap_or_else(|e| e.into_inner());
        audited.insert(uid.to_string(), Instant::now());
    }

    /// Forgets everything about `uid` (its resource is gone).
    pub fn forget(&self, uid: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.resource_reason(uid, None);
        }
        self.succeeded(uid);
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
        self.missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
        self.audited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}
