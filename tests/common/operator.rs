//! An end-to-end environment per test: the shared control plane, a namespace of its own, a
//! SWAS emulator of its own and the controller running in-process, watching that namespace.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use swas_image_operator::controller::context::Settings;
use swas_image_operator::controller::swas_cloud::SwasCloud;
use swas_image_operator::controller::{self, RunOptions};
use swas_image_operator::crd::CustomImage;
use swas_image_operator::emulator::{EmulatorConfig, Running};
use swas_image_operator::swas::credentials::{Credential, StaticProvider};
use swas_image_operator::swas::sign::SystemClock;
use swas_image_operator::swas::{ClientConfig, Endpoint};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::controlplane::{self, apply_crds, namespace};
use super::{AK, SECRET, start};

/// Controller timings for tests: fast polling, long resync.
pub fn test_settings() -> Settings {
    Settings {
        resync: Duration::from_secs(600),
        missing_grace: Duration::from_secs(10),
        poll: Duration::from_millis(300),
        share_audit: None,
    }
}

/// One test's world.
pub struct Env {
    /// Admin client.
    pub client: Client,
    /// The test's namespace.
    pub ns: String,
    /// The test's emulator.
    pub emulator: Running,
    settings: Settings,
    controller: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Env {
    /// Starts everything with the default emulator (images ready after 300 ms).
    pub async fn start(prefix: &str) -> Self {
        let mut config = EmulatorConfig::default();
        config.behaviour.create_delay_ms = 300;
        Self::start_with(prefix, config).await
    }

    /// Starts everything with an emulator of the given configuration.
    pub async fn start_with(prefix: &str, config: EmulatorConfig) -> Self {
        Self::start_tuned(prefix, config, test_settings()).await
    }

    /// Starts everything with an emulator and controller timings of your own.
    pub async fn start_tuned(prefix: &str, config: EmulatorConfig, settings: Settings) -> Self {
        let cp = controlplane::shared();
        apply_crds(cp);
        let client = cp.client().await;
        let ns = namespace(&client, prefix).await;
        let emulator = start(config, Arc::new(SystemClock)).await;
        let mut env = Self {
            client,
            ns,
            emulator,
            settings,
            controller: None,
        };
        env.start_controller();
        env
    }

    /// The emulator's base URL.
    pub fn url(&self) -> String {
        self.emulator.url()
    }

    /// Starts the controller (again).
    pub fn start_controller(&mut self) {
        let config = ClientConfig {
            endpoint: Endpoint::Custom(self.url()),
            read_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let credentials = Arc::new(StaticProvider::new(Credential::new(AK, SECRET)));
        let cloud = Arc::new(SwasCloud::new(config, credentials, 50));
        let options = RunOptions {
            namespace: Some(self.ns.clone()),
            concurrency: 8,
            settings: self.settings.clone(),
            reporter: "swas-image-operator".into(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(controller::run(
            self.client.clone(),
            cloud,
            options,
            controller::Hooks::default(),
            shutdown,
        ));
        self.controller = Some((stop, task));
    }

    /// Kills the controller mid-flight: its task is aborted wherever it is.
    pub fn kill_controller(&mut self) {
        if let Some((_, task)) = self.controller.take() {
            task.abort();
        }
    }

    /// The namespace's CustomImages.
    pub fn images(&self) -> Api<CustomImage> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates a CustomImage from a JSON spec.
    pub async fn create(&self, name: &str, spec: Value) -> CustomImage {
        let object: CustomImage = serde_json::from_value(serde_json::json!({
            "apiVersion": "swas.image-operator.dev/v1alpha1",
            "kind": "CustomImage",
            "metadata": { "name": name },
            "spec": spec,
        }))
        .unwrap();
        self.images()
            .create(&PostParams::default(), &object)
            .await
            .unwrap()
    }

    /// Merge-patches a CustomImage.
    pub async fn patch(&self, name: &str, patch: Value) {
        self.images()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Deletes a CustomImage (the finalizer decides when it goes).
    pub async fn delete(&self, name: &str) {
        self.images()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Waits (at most `seconds`) until `check` holds for the object.
    pub async fn wait_for(
        &self,
        name: &str,
        seconds: u64,
        check: impl Fn(&CustomImage) -> bool,
    ) -> CustomImage {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let current = self.images().get_opt(name).await.unwrap();
            if let Some(object) = current.filter(|o| check(o)) {
                return object;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never reached the expected state; last seen: {:#?}",
                self.images()
                    .get_opt(name)
                    .await
                    .unwrap()
                    .and_then(|o| o.status)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the object is Ready.
    pub async fn wait_ready(&self, name: &str) -> CustomImage {
        self.wait_for(name, 60, |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await
    }

    /// Waits until the object no longer exists.
    pub async fn wait_gone(&self, name: &str, seconds: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while self.images().get_opt(name).await.unwrap().is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} was never released"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The emulator's audit log.
    pub async fn audit(&self) -> Vec<Value> {
        let log = super::admin(&self.url(), "/admin/audit").await;
        log.as_array().cloned().unwrap_or_default()
    }

    /// The sequence number of the last audited call, to read what comes after it.
    pub async fn audit_mark(&self) -> u64 {
        let last = self.audit().await.last().and_then(|e| e["seq"].as_u64());
        last.unwrap_or(0)
    }

    /// The calls audited after `mark`.
    pub async fn audit_since(&self, mark: u64) -> Vec<Value> {
        let log = super::admin(&self.url(), &format!("/admin/audit?since={mark}")).await;
        log.as_array().cloned().unwrap_or_default()
    }

    /// Audit entries of one action.
    pub async fn calls(&self, action: &str) -> Vec<Value> {
        self.audit()
            .await
            .into_iter()
            .filter(|e| e["action"] == action)
            .collect()
    }

    /// The emulator's world (images with `deleted_at`, tokens, servers).
    pub async fn world(&self) -> Value {
        super::admin(&self.url(), "/admin/state").await
    }

    /// Events about one object, oldest first.
    pub async fn events(&self, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let mut events: Vec<Event> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        events.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
        events
    }

    /// The reasons of the events about one object.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events(name)
            .await
            .into_iter()
            .filter_map(|e| e.reason)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill_controller();
    }
}

/// `(status, reason, message)` of a condition.
pub fn condition(object: &CustomImage, kind: &str) -> Option<(String, String, String)> {
    let status = object.status.as_ref()?;
    let c = status.conditions.iter().find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The object's UID.
pub fn uid(object: &CustomImage) -> String {
    object.uid().unwrap_or_default()
}
