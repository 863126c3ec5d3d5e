//! Why this file exists: the other end-to-end tests break one thing at a time, on purpose and
//! at a chosen moment. Real outages are not so polite. This suite runs many resources at once
//! through their whole life (create or adopt, become Ready, change sharing and tags, delete)
//! while everything goes wrong together: the real `swas-image-operator run` process is
//! SIGKILLed and restarted on a seeded schedule, SWAS answers 5xx, throttles, acts and then
//! drops the connection, and is slow, and kube-apiserver is restarted once. It then proves the
//! operator's promises from the emulator's audit log and final state rather than from the
//! operator's own account: no orphan, no wrong delete, no duplicate image, the UID as the
//! delete's ClientToken, no finalizer released before its image was gone, nothing stuck, and
//! statuses that told the truth.
//!
//! `chaos_short` (60 resources, about two minutes) is part of `make test`; `chaos_full` (300
//! resources) is `make chaos`. Both take their seed from `CHAOS_SEED`, so a failing run can be
//! repeated.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use common::chaos::{self, Chaos, ChaosCounts, Launch, image_ids, tag_param};
use common::controlplane::{self, apply_crds, namespace};
use common::operator::condition;
use common::{REGION, start};
use jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use swas_image_operator::crd::{CustomImage, OWNER_TAG};
use swas_image_operator::emulator::EmulatorConfig;
use swas_image_operator::emulator::api::MUTATING;
use swas_image_operator::emulator::audit::{Entry, Outcome};
use swas_image_operator::emulator::faults::FaultConfig;
use swas_image_operator::emulator::state::World;
use swas_image_operator::swas::ops::{
    AddCustomImageShareAccount, CreateCustomImage, ModifyImageShareStatus, ShareOperation,
};
use swas_image_operator::swas::sign::SystemClock;
use swas_image_operator::swas::{SignatureVersion, SwasClient, Tag};
use tokio::time::Instant;

/// The seed when `CHAOS_SEED` is not set.
const DEFAULT_SEED: u64 = 20_260_601;
/// Accounts images are shared with (none of them the emulator's own).
const ACCOUNTS: [&str; 6] = [
    "1000000000000001",
    "1000000000000002",
    "1000000000000003",
    "1000000000000004",
    "1000000000000005",
    "1000000000000006",
];
/// Tag keys and values specs draw from.
const TAG_KEYS: [&str; 5] = ["team", "env", "tier", "cost-center", "owner"];
const TAG_VALUES: [&str; 4] = ["web", "prod", "staging", "42"];
/// How long a deleted image stays listed in the emulator.
const DELETION_LAG_MS: u64 = 1000;
/// How long the test's own Kubernetes calls keep retrying (the apiserver may be restarting).
const API_PATIENCE: Duration = Duration::from_secs(180);

/// One chaos run.
#[derive(Clone, Debug)]
struct Scenario {
    /// CustomImages in the run.
    resources: usize,
    /// Seeds the mix of resources, the faults, the kill schedule and the apiserver restart.
    seed: u64,
    /// The operator is SIGKILLed after a uniform wait in this range.
    kill_every: (Duration, Duration),
    /// Rounds of changes to sharing and tags go on for at least this long.
    churn: Duration,
    /// SWAS calls allowed per second and action; below the operator's own 10 per second, so
    /// that throttling really happens.
    quota_per_second: u32,
    /// How long all resources may take to become Ready (after creation and after changes).
    ready_within: Duration,
    /// How long all resources may take to be gone once deleted.
    gone_within: Duration,
}

fn seed() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(text) => text.trim().parse().expect("CHAOS_SEED is a number"),
        Err(_) => DEFAULT_SEED,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_short() {
    run(Scenario {
        resources: 60,
        seed: seed(),
        kill_every: (Duration::from_secs(5), Duration::from_secs(20)),
        churn: Duration::from_secs(50),
        quota_per_second: 8,
        ready_within: Duration::from_secs(240),
        gone_within: Duration::from_secs(240),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full chaos run takes several minutes: `make chaos`"]
async fn chaos_full() {
    run(Scenario {
        resources: 300,
        seed: seed(),
        kill_every: (Duration::from_secs(5), Duration::from_secs(20)),
        churn: Duration::from_secs(150),
        quota_per_second: 8,
        ready_within: Duration::from_secs(900),
        gone_within: Duration::from_secs(900),
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The mix of resources
// ---------------------------------------------------------------------------------------------

/// Where a resource's image comes from.
#[derive(Clone, Debug)]
enum Origin {
    /// Created from seeded server `server`, with its data snapshot or not.
    Source { server: u32, data: bool },
    /// Adopted: an image made beforehand, perhaps already shared or tagged by someone.
    Adopt {
        pre_ecs: bool,
        pre_accounts: Vec<u64>,
        pre_tag: bool,
    },
}

/// What is declared for one resource.
#[derive(Clone, Debug)]
struct Declared {
    share_to_ecs: bool,
    accounts: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// One resource: its plan, and what was seen of it.
#[derive(Clone, Debug)]
struct Record {
    name: String,
    origin: Origin,
    retain: bool,
    declared: Declared,
    /// How many times its declaration was changed.
    changes: u32,
    /// The pre-made image an adopting resource names.
    adopted_id: Option<String>,
    uid: String,
    /// `status.imageId`, as last seen while the object existed.
    image_id: Option<String>,
    /// Just before the first delete request was sent.
    delete_requested: Option<Timestamp>,
    /// When a listing first came back without the object.
    gone_seen: Option<Timestamp>,
}

fn accounts(rng: &mut StdRng, most: usize) -> Vec<String> {
    let mut pool = ACCOUNTS.to_vec();
    pool.shuffle(rng);
    let mut chosen: Vec<String> = pool[..rng.random_range(1..=most)]
        .iter()
        .map(|a| a.to_string())
        .collect();
    chosen.sort();
    chosen
}

fn tags(rng: &mut StdRng) -> BTreeMap<String, String> {
    (0..rng.random_range(0..=3))
        .map(|_| {
            let key = TAG_KEYS[rng.random_range(0..TAG_KEYS.len())];
            let value = TAG_VALUES[rng.random_range(0..TAG_VALUES.len())];
            (key.to_string(), value.to_string())
        })
        .collect()
}

fn declared(rng: &mut StdRng) -> Declared {
    Declared {
        share_to_ecs: rng.random_bool(0.3),
        accounts: match rng.random_bool(0.35) {
            true => accounts(rng, 3),
            false => Vec::new(),
        },
        tags: tags(rng),
    }
}

/// A change of sharing or tags (sometimes two).
fn change(rng: &mut StdRng, now: &Declared) -> Declared {
    let mut next = now.clone();
    match rng.random_range(0..4) {
        0 => next.share_to_ecs = !next.share_to_ecs,
        1 => next.accounts = accounts(rng, 3),
        2 => next.accounts = Vec::new(),
        _ => next.tags = tags(rng),
    }
    if rng.random_bool(0.3) {
        next.share_to_ecs = !next.share_to_ecs;
    }
    next
}

/// The seeded mix: about 30% adopted, 20% `Retain`.
fn plan(n: usize, rng: &mut StdRng) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let origin = match rng.random_bool(0.3) {
                true => Origin::Adopt {
                    pre_ecs: rng.random_bool(0.3),
                    pre_accounts: match rng.random_bool(0.3) {
                        true => accounts(rng, 2)
                            .iter()
                            .map(|a| a.parse().unwrap())
                            .collect(),
                        false => Vec::new(),
                    },
                    pre_tag: rng.random_bool(0.3),
                },
                false => Origin::Source {
                    server: rng.random_range(1..=3),
                    data: rng.random_bool(0.5),
                },
            };
            let now = declared(rng);
            Record {
                name: format!("ci-{i:03}"),
                origin,
                retain: rng.random_bool(0.2),
                declared: now,
                changes: 0,
                adopted_id: None,
                uid: String::new(),
                image_id: None,
                delete_requested: None,
                gone_seen: None,
            }
        })
        .collect()
}

impl Record {
    fn spec(&self) -> Value {
        let mut spec = json!({
            "regionId": REGION,
            "shareToEcs": self.declared.share_to_ecs,
            "sharedAccounts": self.declared.accounts,
            "tags": self.declared.tags,
            "deletionPolicy": if self.retain { "Retain" } else { "Delete" },
        });
        match &self.origin {
            Origin::Source { server, data } => {
                let mut source = json!({
                    "instanceId": format!("{REGION}-server-{server}"),
                    "systemSnapshotId": format!("s-{REGION}-sys-{server}"),
                });
                if *data {
                    source["dataSnapshotId"] = json!(format!("s-{REGION}-data-{server}"));
                }
                spec["source"] = source;
                spec["imageName"] = json!(self.name);
            }
            Origin::Adopt { .. } => {
                spec["imageId"] = json!(self.adopted_id.as_ref().expect("pre-made"));
            }
        }
        spec
    }

    /// The merge patch from the declared spec to `next`.
    fn change_patch(&self, next: &Declared) -> Value {
        let mut tags = serde_json::Map::new();
        for key in self.declared.tags.keys() {
            tags.insert(key.clone(), Value::Null);
        }
        for (key, value) in &next.tags {
            tags.insert(key.clone(), json!(value));
        }
        json!({ "spec": {
            "shareToEcs": next.share_to_ecs,
            "sharedAccounts": next.accounts,
            "tags": tags,
        }})
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes calls that outlast an apiserver restart
// ---------------------------------------------------------------------------------------------

/// Retries `call` on transport errors, 429 and 5xx until [`API_PATIENCE`]; other API errors
/// are the caller's to judge.
async fn patiently<T, F, Fut>(what: &str, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let deadline = Instant::now() + API_PATIENCE;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(kube::Error::Api(status)) if status.code != 429 && status.code < 500 => {
                return Err(kube::Error::Api(status));
            }
            Err(error) => {
                assert!(Instant::now() < deadline, "{what}: {error}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

fn is_code(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

async fn create(api: &Api<CustomImage>, record: &Record) -> String {
    let object: CustomImage = serde_json::from_value(json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": record.name },
        "spec": record.spec(),
    }))
    .unwrap();
    let params = PostParams::default();
    let created = patiently("create", || api.create(&params, &object)).await;
    let object = match created {
        Ok(object) => object,
        // A retry of a create whose answer was lost.
        Err(e) if is_code(&e, 409) => patiently("get", || api.get(&record.name)).await.unwrap(),
        Err(e) => panic!("creating {}: {e}", record.name),
    };
    object.uid().unwrap()
}

async fn list(api: &Api<CustomImage>) -> Option<Vec<CustomImage>> {
    api.list(&ListParams::default()).await.ok().map(|l| l.items)
}

fn ready(object: &CustomImage) -> bool {
    let status = object.status.as_ref();
    status.and_then(|s| s.observed_generation) == object.metadata.generation
        && status.is_some_and(|s| s.image_id.is_some())
        && condition(object, "Ready").is_some_and(|c| c.0 == "True")
}

/// Polls until every resource is Ready for its current generation; returns those that were
/// not by the deadline, with their Ready condition.
async fn wait_ready(
    api: &Api<CustomImage>,
    records: &mut [Record],
    within: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let mut late = Vec::new();
        if let Some(objects) = list(api).await {
            let by_name: HashMap<String, &CustomImage> =
                objects.iter().map(|o| (o.name_any(), o)).collect();
            for record in records.iter_mut() {
                let object = by_name.get(&record.name);
                if let Some(id) = object.and_then(|o| o.status.as_ref()?.image_id.clone()) {
                    record.image_id = Some(id);
                }
                if !object.is_some_and(|o| ready(o)) {
                    let seen = object.map(|o| (condition(o, "Ready"), o.status.clone()));
                    late.push(format!("{}: {seen:?}", record.name));
                }
            }
            if late.is_empty() {
                return late;
            }
        } else {
            late.push("(the apiserver does not answer)".into());
        }
        if Instant::now() >= deadline {
            return late;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/// Makes the images adopting resources name, before any fault is on: some already shared to
/// ECS or with accounts, some with a tag of their own.
async fn premake(swas: &SwasClient, records: &mut [Record]) {
    for record in records.iter_mut() {
        let Origin::Adopt { pre_tag, .. } = &record.origin else {
            continue;
        };
        let mut tags = Vec::new();
        if *pre_tag {
            tags.push(Tag::new("legacy", "yes"));
        }
        let made = swas
            .call(&CreateCustomImage {
                region_id: REGION.into(),
                instance_id: format!("{REGION}-server-1"),
                image_name: format!("pre-{}", record.name),
                system_snapshot_id: Some(format!("s-{REGION}-sys-1")),
                data_snapshot_id: None,
                description: Some("made before the operator knew it".into()),
                resource_group_id: None,
                tags,
                client_token: None,
            })
            .await
            .unwrap();
        record.adopted_id = Some(made.image_id);
    }
    let ids: Vec<String> = records
        .iter()
        .filter_map(|r| r.adopted_id.clone())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = swas.images_by_ids(REGION, &ids).await.unwrap();
        if listed.len() == ids.len() && listed.iter().all(|i| i.status == "1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pre-made images never became available"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for record in records.iter() {
        let Origin::Adopt {
            pre_ecs,
            pre_accounts,
            ..
        } = &record.origin
        else {
            continue;
        };
        let id = record.adopted_id.clone().unwrap();
        if *pre_ecs {
            let op = ModifyImageShareStatus {
                region_id: REGION.into(),
                image_id: id.clone(),
                operation: ShareOperation::Share,
                client_token: None,
            };
            swas.call(&op).await.unwrap();
        }
        if !pre_accounts.is_empty() {
            let op = AddCustomImageShareAccount {
                region_id: REGION.into(),
                image_id: id,
                accounts: pre_accounts.clone(),
                client_token: None,
            };
            swas.call(&op).await.unwrap();
        }
    }
}

/// The standing faults of the run.
fn faults(seed: u64, quota: u32) -> FaultConfig {
    FaultConfig {
        seed,
        error_rate: [("*".to_string(), 0.1)].into(),
        drop_rate: [("mutating".to_string(), 0.05)].into(),
        quota_per_second: [("*".to_string(), quota)].into(),
        latency_ms: Some((0, 100)),
    }
}

/// What the run saw, for the checks and the report.
struct Observed {
    records: Vec<Record>,
    not_ready: Vec<String>,
    not_converged: Vec<String>,
    status_mismatches: Vec<String>,
    audit: Vec<Entry>,
    world: World,
    chaos: ChaosCounts,
    restarts: Vec<Duration>,
    /// The phase the apiserver was restarted in.
    restart_phase: &'static str,
    faults: swas_image_operator::emulator::faults::FaultCounts,
    /// The emulator's image counter once the test's own images were made.
    images_before: u64,
    elapsed: Duration,
}

async fn run(scenario: Scenario) {
    let began = Instant::now();
    println!(
        "chaos: {scenario:?} (repeat with CHAOS_SEED={})",
        scenario.seed
    );
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let cp = controlplane::shared();
    apply_crds(cp);
    let client: Client = cp.client().await;
    let ns = namespace(&client, "chaos").await;
    let api: Api<CustomImage> = Api::namespaced(client.clone(), &ns);

    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 500;
    config.behaviour.visibility_lag_ms = 200;
    config.behaviour.deletion_lag_ms = DELETION_LAG_MS;
    config.behaviour.image_quota = 100_000;
    let emulator = start(config, std::sync::Arc::new(SystemClock)).await;
    let url = emulator.url();

    let mut records = plan(scenario.resources, &mut rng);
    premake(&common::client(&url, SignatureVersion::V3), &mut records).await;
    let faults = faults(scenario.seed, scenario.quota_per_second);
    chaos::set_faults(&url, &faults).await;
    // The calls above were the test's own; the checks look at the operator's only.
    let setup_seq = chaos::audit(&url).await.last().map_or(0, |e| e.seq);
    let images_before = chaos::world(&url).await.next_image;

    let dir = cp.dir.join(&ns);
    std::fs::create_dir_all(&dir).unwrap();
    println!("chaos: operator logs in {}", dir.display());
    let launch = Launch {
        namespace: ns.clone(),
        endpoint: url.clone(),
        kubeconfig: cp.kubeconfig(),
        dir: dir.clone(),
    };
    let chaos = Chaos::start(launch, scenario.seed ^ 0x5eed, scenario.kill_every);

    // The apiserver restart: in a seeded phase (create, change, delete), a few seconds in.
    let restart_phase = rng.random_range(0..3);
    let restart_delay = Duration::from_millis(rng.random_range(0..4000));
    let mut restart = None;
    let mut restart_in = |phase: u32| {
        if phase == restart_phase {
            let dir = cp.dir.clone();
            restart = Some(tokio::spawn(async move {
                tokio::time::sleep(restart_delay).await;
                chaos::restart_apiserver(&dir).await
            }));
        }
    };

    // Phase 1: create everything, wait until all are Ready.
    restart_in(0);
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.shuffle(&mut rng);
    for &i in &order {
        records[i].uid = create(&api, &records[i]).await;
    }
    println!("chaos: {} created at {:?}", records.len(), began.elapsed());
    let not_ready = wait_ready(&api, &mut records, scenario.ready_within).await;
    println!("chaos: phase 1 done at {:?}", began.elapsed());

    // Before any change: did every status tell the truth?
    let mut status_mismatches = compare_with_cloud(&api, &records, &url).await;

    // Phase 2: rounds of changes to the sharing and tags of about a quarter of the resources,
    // each waited for until Ready and compared with the cloud, for `churn` at least.
    restart_in(1);
    let churn_end = Instant::now() + scenario.churn;
    let mut not_converged = Vec::new();
    let mut rounds = 0;
    while not_converged.is_empty() && (rounds == 0 || Instant::now() < churn_end) {
        rounds += 1;
        for record in records.iter_mut() {
            if !rng.random_bool(0.25) {
                continue;
            }
            let next = change(&mut rng, &record.declared);
            let patch = record.change_patch(&next);
            let patch = Patch::Merge(&patch);
            let params = PatchParams::default();
            let name = record.name.clone();
            patiently("patch", || api.patch(&name, &params, &patch))
                .await
                .unwrap();
            record.declared = next;
            record.changes += 1;
        }
        not_converged = wait_ready(&api, &mut records, scenario.ready_within).await;
        let mismatches = compare_with_cloud(&api, &records, &url).await;
        status_mismatches.extend(
            mismatches
                .into_iter()
                .map(|m| format!("round {rounds}: {m}")),
        );
    }
    println!(
        "chaos: phase 2 ({rounds} rounds) done at {:?}",
        began.elapsed()
    );

    // Phase 3: delete everything; note when each was asked to go and when it was gone.
    restart_in(2);
    order.shuffle(&mut rng);
    for &i in &order {
        let record = &mut records[i];
        record.delete_requested = Some(Timestamp::now());
        let name = record.name.clone();
        let params = DeleteParams::default();
        match patiently("delete", || api.delete(&name, &params)).await {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => panic!("deleting {name}: {e}"),
        }
    }
    watch_gone(&api, &mut records, scenario.gone_within).await;
    println!("chaos: phase 3 done at {:?}", began.elapsed());

    let chaos = chaos.stop().await;
    let mut restarts = Vec::new();
    if let Some(task) = restart {
        restarts.push(task.await.unwrap().expect("kube-apiserver restarts"));
    }
    let observed = Observed {
        records,
        not_ready,
        not_converged,
        status_mismatches,
        audit: chaos::audit(&url)
            .await
            .into_iter()
            .filter(|e| e.seq > setup_seq)
            .collect(),
        world: chaos::world(&url).await,
        chaos,
        restarts,
        restart_phase: ["create", "change", "delete"][restart_phase as usize],
        faults: chaos::fault_counts(&url).await,
        images_before,
        elapsed: began.elapsed(),
    };
    // Everything the checks saw, next to the operators' logs, to read after a failure.
    let audit = serde_json::to_vec_pretty(&observed.audit).unwrap();
    std::fs::write(dir.join("audit.json"), audit).unwrap();
    let state = serde_json::to_vec_pretty(&observed.world).unwrap();
    std::fs::write(dir.join("state.json"), state).unwrap();
    std::fs::write(dir.join("records.txt"), format!("{:#?}", observed.records)).unwrap();
    let verdicts = check(&observed);
    print!("{}", report(&observed, &verdicts));
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.problems.is_empty())
        .map(|v| v.name)
        .collect();
    assert!(failed.is_empty(), "chaos invariants failed: {failed:?}");
}

/// Before anything is deleted: every resource's status against the emulator's state.
async fn compare_with_cloud(api: &Api<CustomImage>, records: &[Record], url: &str) -> Vec<String> {
    let params = ListParams::default();
    let objects = patiently("list", || api.list(&params)).await.unwrap().items;
    let world = chaos::world(url).await;
    let by_name: HashMap<String, &CustomImage> =
        objects.iter().map(|o| (o.name_any(), o)).collect();
    let mut problems = Vec::new();
    for record in records {
        let Some(object) = by_name.get(&record.name) else {
            problems.push(format!("{}: missing", record.name));
            continue;
        };
        let status = object.status.clone().unwrap_or_default();
        let mut wrong = Vec::new();
        if !ready(object) {
            wrong.push(format!("not Ready: {:?}", condition(object, "Ready")));
        }
        let image = status.image_id.as_ref().and_then(|id| world.images.get(id));
        match image {
            None => wrong.push(format!("imageId {:?} is not an image", status.image_id)),
            Some(image) => {
                let tags: BTreeMap<&str, &str> = image
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str()))
                    .collect();
                let mut declared_tags: BTreeMap<&str, &str> = record
                    .declared
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                declared_tags.insert(OWNER_TAG, &record.uid);
                let shared: Vec<String> = image.share_accounts.keys().map(u64::to_string).collect();
                if !image.alive() {
                    wrong.push(format!("image {} is deleted", image.id));
                }
                if tags.get(OWNER_TAG) != Some(&record.uid.as_str()) {
                    wrong.push(format!(
                        "image {} owner tag {:?}",
                        image.id,
                        tags.get(OWNER_TAG)
                    ));
                }
                if status.in_share != image.in_share {
                    wrong.push(format!(
                        "inShare {} but image {}",
                        status.in_share, image.in_share
                    ));
                }
                if image.in_share != record.declared.share_to_ecs {
                    wrong.push(format!("image in_share {} not as declared", image.in_share));
                }
                if shared != record.declared.accounts || status.shared_accounts != shared {
                    wrong.push(format!(
                        "accounts: declared {:?}, status {:?}, image {shared:?}",
                        record.declared.accounts, status.shared_accounts
                    ));
                }
                if tags != declared_tags {
                    wrong.push(format!("tags: declared {declared_tags:?}, image {tags:?}"));
                }
                if record.adopted_id.as_ref().is_some_and(|id| *id != image.id) {
                    wrong.push(format!(
                        "adopted {:?} but status names {}",
                        record.adopted_id, image.id
                    ));
                }
            }
        }
        if !wrong.is_empty() {
            problems.push(format!("{}: {}", record.name, wrong.join("; ")));
        }
    }
    problems
}

/// Polls until every object is gone or the deadline passes, noting when each was first seen
/// gone (the time the listing came back, so the object was gone by then).
async fn watch_gone(api: &Api<CustomImage>, records: &mut [Record], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(objects) = list(api).await {
            let seen_at = Timestamp::now();
            let present: HashMap<String, &CustomImage> =
                objects.iter().map(|o| (o.name_any(), o)).collect();
            for record in records.iter_mut().filter(|r| r.gone_seen.is_none()) {
                match present.get(&record.name) {
                    Some(object) => {
                        if let Some(id) = object.status.as_ref().and_then(|s| s.image_id.clone()) {
                            record.image_id = Some(id);
                        }
                    }
                    None => record.gone_seen = Some(seen_at),
                }
            }
            if records.iter().all(|r| r.gone_seen.is_some()) {
                return;
            }
        }
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The invariants
// ---------------------------------------------------------------------------------------------

struct Verdict {
    name: &'static str,
    problems: Vec<String>,
}

/// Which resource an image belongs to, from every source there is: the create calls' answers
/// kept with their ClientToken, the pre-made images, the statuses and the ownership tags.
struct Owners<'a> {
    by_uid: HashMap<&'a str, &'a Record>,
    by_image: HashMap<String, &'a Record>,
}

impl<'a> Owners<'a> {
    fn new(records: &'a [Record], world: &World) -> Self {
        let by_uid: HashMap<&str, &Record> = records.iter().map(|r| (r.uid.as_str(), r)).collect();
        let mut by_image = HashMap::new();
        for (key, recorded) in &world.tokens {
            let Some(token) = key.split_once("/CreateCustomImage/").map(|(_, t)| t) else {
                continue;
            };
            let uid = token.strip_prefix("create-").unwrap_or(token);
            if let (Some(record), Some(id)) = (by_uid.get(uid), recorded.body["ImageId"].as_str()) {
                by_image.insert(id.to_string(), *record);
            }
        }
        for image in world.images.values() {
            let owner = image.tags.iter().find(|t| t.key == OWNER_TAG);
            if let Some(record) = owner.and_then(|t| by_uid.get(t.value.as_str())) {
                by_image.insert(image.id.clone(), *record);
            }
        }
        for record in records {
            for id in [&record.adopted_id, &record.image_id].into_iter().flatten() {
                by_image.insert(id.clone(), record);
            }
        }
        Self { by_uid, by_image }
    }

    /// Every image known to belong to `record`.
    fn images_of(&self, record: &Record) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .by_image
            .iter()
            .filter(|(_, r)| r.uid == record.uid)
            .map(|(id, _)| id.as_str())
            .collect();
        ids.sort();
        ids
    }
}

/// Whether a call may have acted: served, or served and its answer dropped. (A replayed call
/// whose answer is dropped is recorded as dropped too, so this is "may".)
fn acted(entry: &Entry) -> bool {
    matches!(entry.outcome, Outcome::Ok | Outcome::Dropped)
}

fn is_delete(entry: &Entry) -> bool {
    entry.action == "DeleteCustomImages" || entry.action == "DeleteCustomImage"
}

fn check(observed: &Observed) -> Vec<Verdict> {
    let records = &observed.records;
    let world = &observed.world;
    let owners = Owners::new(records, world);
    // When each image was deleted: the first delete call that acted on it (its arrival, which
    // is no later than the act), or the emulator's deleted_at while it still keeps the image.
    let mut deleted_at: HashMap<String, Timestamp> = HashMap::new();
    for entry in observed.audit.iter().filter(|e| is_delete(e) && acted(e)) {
        for id in image_ids(entry).unwrap_or_default() {
            deleted_at.entry(id).or_insert(entry.time);
        }
    }
    for image in world.images.values() {
        if let Some(at) = image.deleted_at {
            deleted_at.entry(image.id.clone()).or_insert(at);
        }
    }
    let mut verdicts = Vec::new();

    // No orphan: every image of a deleted `Delete` resource is gone, and no live image is
    // left that no `Retain` resource accounts for.
    let mut problems = Vec::new();
    let mut retained: BTreeSet<&str> = BTreeSet::new();
    for record in records {
        let ids = owners.images_of(record);
        if record.retain {
            retained.extend(ids);
            continue;
        }
        if ids.is_empty() {
            problems.push(format!("{}: no image was ever known for it", record.name));
        }
        for id in ids {
            let live = world.images.get(id).is_some_and(|i| i.alive());
            if live || !deleted_at.contains_key(id) {
                problems.push(format!("{}: image {id} was never deleted", record.name));
            }
        }
    }
    for image in world.images.values().filter(|i| i.alive()) {
        if !retained.contains(image.id.as_str()) {
            let owner = image.tags.iter().find(|t| t.key == OWNER_TAG);
            problems.push(format!(
                "image {} is live and not retained (owner {owner:?})",
                image.id
            ));
        }
    }
    verdicts.push(Verdict {
        name: "no orphan",
        problems,
    });

    // No wrong delete: only images of `Delete` resources, only once their deletion was asked.
    let mut problems = Vec::new();
    for entry in observed.audit.iter().filter(|e| is_delete(e) && acted(e)) {
        for id in image_ids(entry).unwrap_or_default() {
            match owners.by_image.get(&id) {
                None => problems.push(format!(
                    "#{} deleted {id}, which no resource owns",
                    entry.seq
                )),
                Some(record) if record.retain => problems.push(format!(
                    "#{} deleted {id} of {} (Retain{})",
                    entry.seq,
                    record.name,
                    if record.adopted_id.as_deref() == Some(id.as_str()) {
                        ", adopted"
                    } else {
                        ""
                    }
                )),
                Some(record) => match record.delete_requested {
                    Some(asked) if asked <= entry.time => {}
                    asked => problems.push(format!(
                        "#{} at {} deleted {id} of {}, whose deletion was asked at {asked:?}",
                        entry.seq, entry.time, record.name
                    )),
                },
            }
        }
    }
    for record in records.iter().filter(|r| r.retain) {
        for id in owners.images_of(record) {
            if !world.images.get(id).is_some_and(|i| i.alive()) {
                problems.push(format!("{} (Retain): image {id} is not live", record.name));
            }
        }
    }
    verdicts.push(Verdict {
        name: "no wrong delete",
        problems,
    });

    // No duplicate: one image at most per resource, every create with `create-<uid>`.
    let mut problems = Vec::new();
    // A ClientToken acts once at most, so what counts is how many tokens (or untokened calls)
    // were served for one UID; and, exactly, how many images the emulator made.
    let mut made: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for entry in observed
        .audit
        .iter()
        .filter(|e| e.action == "CreateCustomImage")
    {
        let Some(uid) = tag_param(&entry.params, OWNER_TAG) else {
            problems.push(format!(
                "#{} CreateCustomImage without an ownership tag",
                entry.seq
            ));
            continue;
        };
        match owners.by_uid.get(uid) {
            None => problems.push(format!(
                "#{} CreateCustomImage for unknown UID {uid}",
                entry.seq
            )),
            Some(record) => {
                let token = format!("create-{uid}");
                if entry.client_token.as_deref() != Some(token.as_str()) {
                    problems.push(format!(
                        "#{} CreateCustomImage for {} with token {:?}",
                        entry.seq, record.name, entry.client_token
                    ));
                }
                if matches!(record.origin, Origin::Adopt { .. }) {
                    problems.push(format!(
                        "#{} created an image for adopting {}",
                        entry.seq, record.name
                    ));
                }
            }
        }
        if acted(entry) {
            let token = match &entry.client_token {
                Some(token) => token.clone(),
                None => format!("(no token, #{})", entry.seq),
            };
            made.entry(uid).or_default().insert(token);
        }
    }
    for (uid, tokens) in made.iter().filter(|(_, t)| t.len() > 1) {
        problems.push(format!(
            "UID {uid}: CreateCustomImage served with {tokens:?}"
        ));
    }
    let creating = records
        .iter()
        .filter(|r| matches!(r.origin, Origin::Source { .. }))
        .count() as u64;
    let images_made = world.next_image - observed.images_before;
    if images_made > creating {
        problems.push(format!(
            "the emulator made {images_made} images for {creating} resources that create one"
        ));
    }
    let mut tagged: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for image in world.images.values() {
        if let Some(tag) = image.tags.iter().find(|t| t.key == OWNER_TAG) {
            tagged
                .entry(tag.value.as_str())
                .or_default()
                .push(image.id.as_str());
        }
    }
    for (uid, ids) in tagged.iter().filter(|(_, ids)| ids.len() > 1) {
        problems.push(format!("UID {uid} owns {ids:?}"));
    }
    verdicts.push(Verdict {
        name: "no duplicate",
        problems,
    });

    // Every delete call: DeleteCustomImages, one image, the owning resource's UID as token.
    let mut problems = Vec::new();
    for entry in observed.audit.iter().filter(|e| is_delete(e)) {
        let ids = image_ids(entry).unwrap_or_default();
        if entry.action != "DeleteCustomImages" || ids.len() != 1 {
            problems.push(format!("#{} {} of {ids:?}", entry.seq, entry.action));
        }
        for id in ids {
            let owner = owners.by_image.get(&id).map(|r| r.uid.as_str());
            if owner.is_none() || entry.client_token.as_deref() != owner {
                problems.push(format!(
                    "#{} deleted {id} with token {:?}; its owner is {owner:?}",
                    entry.seq, entry.client_token
                ));
            }
        }
    }
    verdicts.push(Verdict {
        name: "delete token is the UID",
        problems,
    });

    // No finalizer released while its image existed: each `Delete` resource was seen gone
    // only after its image was deleted; and, as the contract says, only once SWAS no longer
    // listed it (deleted images stay listed for the emulator's deletion lag).
    let mut problems = Vec::new();
    let mut listed = Vec::new();
    let lag = jiff::SignedDuration::from_millis(DELETION_LAG_MS as i64);
    for record in records.iter().filter(|r| !r.retain) {
        let Some(gone) = record.gone_seen else {
            continue;
        };
        for id in owners.images_of(record) {
            match deleted_at.get(id) {
                None => problems.push(format!(
                    "{} was gone at {gone} but its image {id} was never deleted",
                    record.name
                )),
                Some(at) if gone < *at => problems.push(format!(
                    "{} was gone at {gone}, before its image {id} was deleted at {at}",
                    record.name
                )),
                Some(at) if gone < *at + lag => listed.push(format!(
                    "{} was gone at {gone}, while its image {id} (deleted at {at}) was still \
                     listed",
                    record.name
                )),
                Some(_) => {}
            }
        }
    }
    verdicts.push(Verdict {
        name: "finalizer held until the image was deleted",
        problems,
    });
    verdicts.push(Verdict {
        name: "finalizer held until the image left the listings",
        problems: listed,
    });

    // Nothing stuck: every object gone by the deadline.
    let problems = records
        .iter()
        .filter(|r| r.gone_seen.is_none())
        .map(|r| format!("{} still exists (image {:?})", r.name, r.image_id))
        .collect();
    verdicts.push(Verdict {
        name: "nothing stuck",
        problems,
    });

    // Statuses told the truth before deletion (and everything got there).
    let mut problems: Vec<String> = Vec::new();
    problems.extend(
        observed
            .not_ready
            .iter()
            .map(|p| format!("never Ready: {p}")),
    );
    problems.extend(
        observed
            .not_converged
            .iter()
            .map(|p| format!("changes never Ready: {p}")),
    );
    problems.extend(observed.status_mismatches.iter().cloned());
    verdicts.push(Verdict {
        name: "status matched the cloud",
        problems,
    });
    verdicts
}

fn report(observed: &Observed, verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let records = &observed.records;
    let adopted = records
        .iter()
        .filter(|r| matches!(r.origin, Origin::Adopt { .. }))
        .count();
    let retained = records.iter().filter(|r| r.retain).count();
    let changed = records.iter().filter(|r| r.changes > 0).count();
    let changes: u32 = records.iter().map(|r| r.changes).sum();
    let _ = writeln!(out, "---- chaos report ({:?}) ----", observed.elapsed);
    let _ = writeln!(
        out,
        "resources: {} ({adopted} adopted, {retained} Retain; {changes} changes to {changed})",
        records.len()
    );
    let mut by_action: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for entry in &observed.audit {
        let outcome = format!("{:?}", entry.outcome);
        *by_action
            .entry(entry.action.as_str())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }
    let _ = writeln!(out, "calls by action ({} in all):", observed.audit.len());
    for (action, outcomes) in &by_action {
        let total: usize = outcomes.values().sum();
        let _ = writeln!(out, "  {action:<32} {total:>6}  {outcomes:?}");
    }
    let faults = &observed.faults;
    let _ = writeln!(
        out,
        "faults injected: {} errors, {} throttled, {} dropped after acting",
        faults.errors, faults.throttled, faults.dropped
    );
    let chaos = &observed.chaos;
    let _ = writeln!(
        out,
        "operator: {} started, {} SIGKILLed, {} exited on its own",
        chaos.starts, chaos.kills, chaos.exits
    );
    for note in &chaos.exit_notes {
        let _ = writeln!(out, "  {note}");
    }
    let _ = writeln!(
        out,
        "kube-apiserver restarts: {} {:?} (phase: {})",
        observed.restarts.len(),
        observed.restarts,
        observed.restart_phase
    );
    let replayed = observed
        .audit
        .iter()
        .filter(|e| e.outcome == Outcome::Replayed)
        .count();
    let mut seen = BTreeSet::new();
    let repeats = observed
        .audit
        .iter()
        .filter(|e| MUTATING.contains(&e.action.as_str()))
        .filter(|e| !seen.insert((e.action.clone(), e.params.clone(), e.client_token.clone())))
        .count();
    let _ = writeln!(
        out,
        "retries: {repeats} repeated mutating calls (same action and parameters), \
         {replayed} answered from an earlier call by ClientToken"
    );
    for verdict in verdicts {
        let result = if verdict.problems.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(out, "{result}  {}", verdict.name);
        for problem in verdict.problems.iter().take(20) {
            let _ = writeln!(out, "        {problem}");
        }
        if verdict.problems.len() > 20 {
            let _ = writeln!(out, "        ... and {} more", verdict.problems.len() - 20);
        }
    }
    out
}
