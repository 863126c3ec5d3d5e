//! Why this file exists: the other end-to-end tests run the controller in-process, so nothing
//! else checks what only the real `swas-image-operator run` process does: leader election on a
//! Lease between replicas (one reconciles, the other waits; a killed leader is replaced and its
//! pending deletion finished; SIGTERM hands the Lease over at once and exits 0), the Prometheus
//! series on `/metrics`, the probes, and that no secret reaches the logs (at debug level),
//! events, statuses or the cloud's audit log. Each test starts the binary as child processes
//! against the shared kube-apiserver and an emulator of its own; a guard kills every child when
//! the test ends, passes or panics.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use base64::Engine;
use common::controlplane::{self, ControlPlane, apply_crds, namespace};
use common::operator::{condition, uid};
use common::process::{Launch, Operator};
use common::{REGION, start_fast};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use swas_image_operator::crd::{CustomImage, FINALIZER};
use swas_image_operator::emulator::Running;
use tempfile::TempDir;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One test's world: the shared control plane, a namespace, an emulator whose images are ready
/// at once, and a directory for the operators' output.
struct World {
    cp: &'static ControlPlane,
    client: Client,
    ns: String,
    emulator: Running,
    dir: TempDir,
}

impl World {
    async fn start(prefix: &str) -> Self {
        let cp = controlplane::shared();
        apply_crds(cp);
        let client = cp.client().await;
        let ns = namespace(&client, prefix).await;
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        Self {
            cp,
            client,
            ns,
            emulator: start_fast().await,
            dir,
        }
    }

    fn url(&self) -> String {
        self.emulator.url()
    }

    /// One operator without leader election.
    fn single(&self, name: &str) -> Operator {
        Launch::single(name, &self.ns, &self.url(), self.dir.path()).spawn(self.cp)
    }

    /// One replica electing its leader on `lease`.
    fn replica(&self, name: &str, lease: &str) -> Operator {
        Launch::replica(name, &self.ns, &self.url(), lease, self.dir.path()).spawn(self.cp)
    }

    fn images(&self) -> Api<CustomImage> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn create(&self, name: &str, spec: Value) -> CustomImage {
        let object: CustomImage = serde_json::from_value(json!({
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

    async fn patch(&self, name: &str, patch: Value) {
        self.images()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Waits at most `seconds` until `check` holds for the object.
    async fn wait_for(
        &self,
        name: &str,
        seconds: u64,
        check: impl Fn(&CustomImage) -> bool,
    ) -> CustomImage {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let current = self.images().get_opt(name).await.unwrap();
            if let Some(object) = current.as_ref().filter(|o| check(o)) {
                return object.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached the expected state; last seen: {:#?}",
                current.and_then(|o| o.status)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the object is Ready for its current generation.
    async fn wait_ready(&self, name: &str) -> CustomImage {
        self.wait_for(name, 60, |o| {
            let observed = o.status.as_ref().and_then(|s| s.observed_generation);
            let current = observed == o.metadata.generation;
            current && condition(o, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await
    }

    /// Waits until the object is Stalled with `reason`.
    async fn wait_stalled(&self, name: &str, reason: &str) -> CustomImage {
        self.wait_for(name, 60, |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == reason)
        })
        .await
    }

    /// Waits at most `seconds` until the object no longer exists.
    async fn wait_gone(&self, name: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while self.images().get_opt(name).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "{name} was never released");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn audit(&self) -> Vec<Value> {
        let log = common::admin(&self.url(), "/admin/audit").await;
        log.as_array().cloned().unwrap_or_default()
    }

    async fn calls(&self, action: &str) -> Vec<Value> {
        let mut calls = self.audit().await;
        calls.retain(|e| e["action"] == action);
        calls
    }

    /// The holder of a Lease in the namespace.
    async fn holder(&self, lease: &str) -> Option<String> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.ns);
        api.get_opt(lease)
            .await
            .unwrap()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    }

    /// Waits until `deadline` for the Lease to be held by `identity`.
    async fn wait_holder(&self, lease: &str, identity: &str, deadline: Instant) {
        loop {
            let holder = self.holder(lease).await;
            if holder.as_deref() == Some(identity) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{identity} did not take the Lease in time; holder: {holder:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Output of kubectl in the namespace.
    fn kubectl(&self, args: &[&str]) -> String {
        let output = self.cp.kubectl().args(["-n", &self.ns]).args(args).output();
        let output = output.unwrap();
        assert!(
            output.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

/// A spec that creates an image named `name` from the first seeded server.
fn source_spec(name: &str) -> Value {
    json!({
        "regionId": REGION,
        "source": {
            "instanceId": format!("{REGION}-server-1"),
            "systemSnapshotId": format!("s-{REGION}-sys-1"),
        },
        "imageName": name,
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(rand::random::<[u8; 3]>()))
}

/// One sample of the text exposition: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition (label values here never hold quotes or escapes).
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closed labels")),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').expect("key=value");
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                (key.to_string(), value.expect("a quoted value").to_string())
            })
            .collect();
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    samples
}

/// The value of the sample `name` whose labels include `labels`, if there is one.
fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    });
    found.map(|s| s.value)
}

async fn scrape(operator: &Operator) -> String {
    let (status, body) = operator.get("/metrics").await.expect("/metrics answers");
    assert_eq!(status, 200);
    body
}

/// The sum of every SWAS call a process counted.
fn swas_calls(samples: &[Sample]) -> f64 {
    let calls = samples.iter().filter(|s| s.name == CALLS);
    calls.map(|s| s.value).sum()
}

const RECONCILES: &str = "swas_image_operator_reconciles_total";
const CALLS: &str = "swas_image_operator_swas_calls_total";
const THROTTLED: &str = "swas_image_operator_swas_throttled_total";
const RESOURCES: &str = "swas_image_operator_resources";
const DURATION_COUNT: &str = "swas_image_operator_reconcile_duration_seconds_count";

/// Lines that show a process reconciling.
const RECONCILE_MARKS: &[&str] = &[
    "starting the CustomImage controller",
    "reconciling object",
    "created image",
    "deleted image",
    "listed region",
];

fn assert_idle(operator: &Operator) {
    let log = operator.log();
    for mark in RECONCILE_MARKS {
        assert!(
            !log.contains(mark),
            "the standby {} logged {mark:?}",
            operator.name
        );
    }
    assert!(!log.contains("became the leader"), "{}", operator.name);
}

// ---------------------------------------------------------------------------------------------
// Leader election
// ---------------------------------------------------------------------------------------------

/// Two replicas: one leads and does every SWAS call; killed with SIGKILL right after a
/// deletion was requested, it is replaced within 15 s and the pending deletion finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_from_a_killed_leader_and_finishes_its_deletion() {
    let world = World::start("op-lead").await;
    let lease = unique("lease");
    let mut a = world.replica("replica-a", &lease);
    let mut b = world.replica("replica-b", &lease);
    a.wait_ok("/healthz", 30).await;
    b.wait_ok("/healthz", 30).await;

    // Exactly one holds the Lease and says so; the other waits.
    let deadline = Instant::now() + Duration::from_secs(20);
    let holder = loop {
        if let Some(holder) = world.holder(&lease).await {
            break holder;
        }
        assert!(Instant::now() < deadline, "nobody took the Lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (mut leader, mut standby) = match holder.as_str() {
        "replica-a" => (a, b),
        "replica-b" => (b, a),
        other => panic!("unexpected holder {other}"),
    };
    leader.wait_log("became the leader", 10).await;
    standby.wait_log("waiting for leadership", 10).await;
    standby.wait_ok("/readyz", 10).await;

    // The leader reconciles; every SWAS call is its own.
    world.create("first", source_spec("first")).await;
    let first = world.wait_ready("first").await;
    world.create("second", source_spec("second")).await;
    let second = world.wait_ready("second").await;
    leader.wait_log("created image", 10).await;
    let audit = world.audit().await;
    let leader_calls = swas_calls(&parse_metrics(&scrape(&leader).await));
    let standby_metrics = parse_metrics(&scrape(&standby).await);
    assert_eq!(leader_calls, audit.len() as f64, "{audit:#?}");
    assert_eq!(swas_calls(&standby_metrics), 0.0);
    assert_eq!(metric(&standby_metrics, RECONCILES, &[]), None);
    let leader_log = leader.log();
    for mark in RECONCILE_MARKS.iter().filter(|m| **m != "deleted image") {
        assert!(
            leader_log.contains(mark),
            "the leader never logged {mark:?}"
        );
    }
    assert_idle(&standby);
    assert_eq!(world.calls("CreateCustomImage").await.len(), 2);

    // Delete, and kill the leader before it can finish.
    world
        .images()
        .delete("second", &DeleteParams::default())
        .await
        .unwrap();
    leader.signal(libc::SIGKILL);
    let killed = Instant::now();
    let status = leader.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    let pending = world.images().get_opt("second").await.unwrap();
    let pending = pending.expect("the deletion is pending");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(pending.finalizers().iter().any(|f| f == FINALIZER));

    // The standby takes over within 15 s and finishes the deletion.
    let takeover = killed + Duration::from_secs(15);
    world.wait_holder(&lease, &standby.name, takeover).await;
    standby.wait_log("became the leader", 2).await;
    eprintln!("takeover after SIGKILL: {:?}", killed.elapsed());
    world.wait_gone("second", 30).await;

    let image_id = second.status.as_ref().unwrap().image_id.clone().unwrap();
    let deletes = world.calls("DeleteCustomImages").await;
    assert!(!deletes.is_empty());
    for call in &deletes {
        assert_eq!(call["clientToken"], uid(&second), "{deletes:#?}");
        assert_eq!(call["params"]["ImageIds"], format!("[\"{image_id}\"]"));
    }
    assert!(deletes.iter().any(|c| c["outcome"] == "ok"), "{deletes:#?}");
    let state = common::admin(&world.url(), "/admin/state").await;
    let image = &state["images"][&image_id];
    assert!(
        image.is_null() || image["deleted_at"].is_string(),
        "the image is deleted: {image}"
    );
    // The other image is untouched and still Ready under the new leader.
    let first_id = first.status.as_ref().unwrap().image_id.clone().unwrap();
    assert!(
        state["images"][&first_id]["deleted_at"].is_null(),
        "{state:#}"
    );
    assert!(world.images().get("first").await.is_ok());
    assert!(standby.exited().is_none(), "the new leader keeps running");
}

/// SIGTERM to the leader: it exits 0 having released the Lease, and the standby takes over
/// well before the lease duration (6 s) would have run out. The signal comes just after the
/// standby's lease manager looked at the Lease, the worst moment: on its own, the manager looks
/// again only at the expiry it saw, about 4 s later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_lease_and_the_standby_takes_over_at_once() {
    let world = World::start("op-term").await;
    let lease = unique("lease");
    let mut a = world.replica("replica-a", &lease);
    a.wait_ok("/healthz", 30).await;
    world
        .wait_holder(
            &lease,
            "replica-a",
            Instant::now() + Duration::from_secs(20),
        )
        .await;
    a.wait_log("became the leader", 10).await;
    let mut b = world.replica("replica-b", &lease);
    b.wait_ok("/healthz", 30).await;
    b.wait_log("waiting for leadership", 10).await;
    b.wait_ok("/readyz", 10).await;
    world.create("web", source_spec("web")).await;
    world.wait_ready("web").await;

    let looked = "lease is actually locked by other identity";
    b.wait_count(looked, b.count(looked), 10).await;
    a.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let status = a.wait_exit(Duration::from_secs(5)).await;
    let status = status.expect("the leader exits within 5 s of SIGTERM");
    assert!(status.success(), "{status}\n{}", a.tail(20));
    let holder = world.holder(&lease).await;
    assert_ne!(
        holder.as_deref(),
        Some("replica-a"),
        "the Lease is released"
    );

    world
        .wait_holder(&lease, "replica-b", signalled + Duration::from_secs(3))
        .await;
    eprintln!("takeover after SIGTERM: {:?}", signalled.elapsed());
    b.wait_log("became the leader", 2).await;
    assert!(b.exited().is_none());
}

// ---------------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------------

/// `/readyz`: a standby is ready once its role is known; a leader, and a replica without
/// leader election, once the controller's cache holds its first listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_once_the_role_is_known_and_the_cache_is_synced() {
    let world = World::start("op-ready").await;
    let lease = unique("lease");
    let mut single = world.single("single");
    let mut leader = world.replica("leader", &lease);
    single.wait_ok("/healthz", 30).await;
    leader.wait_ok("/healthz", 30).await;
    world
        .wait_holder(&lease, "leader", Instant::now() + Duration::from_secs(20))
        .await;
    let mut standby = world.replica("standby", &lease);
    standby.wait_ok("/healthz", 30).await;
    standby.wait_log("waiting for leadership", 10).await;
    standby.wait_ok("/readyz", 10).await;
    for operator in [&single, &leader] {
        operator
            .wait_log("starting the CustomImage controller", 10)
            .await;
    }
    // The caches of an empty namespace sync in well under a second.
    single.wait_ok("/readyz", 10).await;
    leader.wait_ok("/readyz", 10).await;
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// The series on `/metrics` after a create (its first listing throttled) and a share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_reconciles_calls_throttling_and_reasons() {
    let world = World::start("op-metrics").await;
    // The first ListCustomImages (the first reconcile's listing) is throttled.
    common::next_fault(&world.url(), "ListCustomImages", "throttle").await;
    let mut operator = world.single("metrics");
    operator.wait_ok("/healthz", 30).await;

    let name = "metrics-probe-q7";
    world.create(name, source_spec(name)).await;
    world.wait_ready(name).await;
    world
        .patch(name, json!({ "spec": { "shareToEcs": true } }))
        .await;
    let shared = world.wait_ready(name).await;
    assert!(shared.status.as_ref().unwrap().in_share);

    let text = scrape(&operator).await;
    let samples = parse_metrics(&text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        metric(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}:\n{text}"))
    };
    assert!(value(RECONCILES, &[("result", "ok")]) > 0.0);
    let created = value(CALLS, &[("action", "CreateCustomImage"), ("outcome", "ok")]);
    assert_eq!(created, 1.0);
    let shares = value(
        CALLS,
        &[("action", "ModifyImageShareStatus"), ("outcome", "ok")],
    );
    assert_eq!(shares, 1.0);
    let throttled = value(
        CALLS,
        &[("action", "ListCustomImages"), ("outcome", "throttled")],
    );
    assert!(throttled >= 1.0);
    assert!(value(THROTTLED, &[("action", "ListCustomImages")]) >= 1.0);
    assert_eq!(value(RESOURCES, &[("reason", "Available")]), 1.0);
    assert!(value(DURATION_COUNT, &[]) > 0.0);
    // Every gauge of another reason is back to zero: the resource is counted once.
    let resources: f64 = samples
        .iter()
        .filter(|s| s.name == RESOURCES)
        .map(|s| s.value)
        .sum();
    assert_eq!(resources, 1.0, "{text}");
    // The counts agree with what the cloud saw.
    let audit = world.audit().await;
    assert_eq!(swas_calls(&samples), audit.len() as f64, "{audit:#?}");

    // Labels come from fixed sets only: no names, no error text.
    let actions = [
        "CreateCustomImage",
        "ListCustomImages",
        "DeleteCustomImages",
        "ModifyImageShareStatus",
        "AddCustomImageShareAccount",
        "RemoveCustomImageShareAccount",
        "ListCustomImageShareAccounts",
        "TagResources",
        "UntagResources",
        "ListTagResources",
    ];
    let outcomes = [
        "ok",
        "not_found",
        "in_share",
        "throttled",
        "auth",
        "invalid_request",
        "server",
        "transport",
    ];
    for sample in &samples {
        for (key, value) in &sample.labels {
            assert!(
                !value.contains(name) && !value.contains(' ') && !value.contains(&world.ns),
                "label {key}={value:?} of {}",
                sample.name
            );
            let known = match key.as_str() {
                "result" => ["ok", "error"].contains(&value.as_str()),
                "action" => actions.contains(&value.as_str()),
                "outcome" => outcomes.contains(&value.as_str()),
                "reason" => value.chars().all(|c| c.is_ascii_alphabetic()),
                "le" => value == "+Inf" || value.parse::<f64>().is_ok(),
                _ => false,
            };
            assert!(known, "label {key}={value:?} of {}", sample.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

const ENV_SECRET: &str = "emulator-secret";
const WRONG_SECRET: &str = "wrong-secret-Zq93";
const TOKEN: &str = "token-value-Kx81";

async fn secret(world: &World, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        string_data: Some(data),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    api.create(&PostParams::default(), &secret).await.unwrap();
}

/// Keys from the environment and from Secrets, good and bad: no secret value shows up in the
/// operator's debug output, the events, the statuses, the metrics or the cloud's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leak() {
    let world = World::start("op-secrets").await;
    let mut operator = world.single("secrets");
    operator.wait_ok("/healthz", 30).await;
    let good = [("accessKeyId", common::AK), ("accessKeySecret", ENV_SECRET)];
    secret(&world, "good-keys", &good).await;
    let bad = [
        ("accessKeyId", common::AK),
        ("accessKeySecret", WRONG_SECRET),
        ("securityToken", TOKEN),
    ];
    secret(&world, "bad-keys", &bad).await;

    world.create("env-keys", source_spec("env-keys")).await;
    let mut spec = source_spec("secret-keys");
    spec["credentialsSecretRef"] = json!({ "name": "good-keys" });
    world.create("secret-keys", spec).await;
    let mut spec = source_spec("wrong-keys");
    spec["credentialsSecretRef"] = json!({ "name": "bad-keys" });
    world.create("wrong-keys", spec).await;

    world.wait_ready("env-keys").await;
    world.wait_ready("secret-keys").await;
    world.wait_stalled("wrong-keys", "AuthFailed").await;
    // The deletion path with keys from a Secret, too.
    world
        .images()
        .delete("secret-keys", &DeleteParams::default())
        .await
        .unwrap();
    world.wait_gone("secret-keys", 30).await;
    // The Warning event about the bad keys has been published.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut events = world.kubectl(&["get", "events.events.k8s.io", "-o", "yaml"]);
    while !events.contains("AuthFailed") {
        assert!(Instant::now() < deadline, "no AuthFailed event:\n{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        events = world.kubectl(&["get", "events.events.k8s.io", "-o", "yaml"]);
    }

    let places = [
        ("operator output", operator.log()),
        ("events.k8s.io events", events),
        (
            "core events",
            world.kubectl(&["get", "events", "-o", "yaml"]),
        ),
        (
            "CustomImages",
            world.kubectl(&["get", "customimages", "-o", "yaml"]),
        ),
        ("metrics", scrape(&operator).await),
        (
            "audit log",
            serde_json::to_string(&world.audit().await).unwrap(),
        ),
    ];
    // The places hold what they should, so finding nothing in them means something.
    assert!(places[0].1.contains("created image") && places[0].1.contains("DEBUG"));
    assert!(places[2].1.contains("AuthFailed") && places[3].1.contains("wrong-keys"));
    assert!(places[5].1.contains("DeleteCustomImages"));
    let b64 = base64::engine::general_purpose::STANDARD;
    for value in [ENV_SECRET, WRONG_SECRET, TOKEN] {
        for needle in [value.to_string(), b64.encode(value)] {
            for (place, text) in &places {
                assert!(!text.contains(&needle), "{needle:?} is in the {place}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

/// Without leader election, SIGTERM stops a working operator with exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_without_leader_election_exits_zero() {
    let world = World::start("op-stop").await;
    let mut operator = world.single("stop");
    operator.wait_ok("/healthz", 30).await;
    world.create("web", source_spec("web")).await;
    world.wait_ready("web").await;

    operator.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let status = operator.wait_exit(Duration::from_secs(5)).await;
    let status = status.expect("the operator exits within 5 s of SIGTERM");
    assert!(status.success(), "{status}\n{}", operator.tail(20));
    eprintln!("exit after SIGTERM: {:?}", signalled.elapsed());
    assert!(operator.log().contains("shutting down"));
}
