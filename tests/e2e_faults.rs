//! Why this file exists: the operator's promises (never delete twice, never delete the wrong
//! image, never orphan an image, never create two images for one resource, never leak a secret)
//! matter most when things go wrong. These tests run the real controller against a real
//! kube-apiserver and the SWAS emulator, and break things on purpose: answers lost after the
//! cloud acted (`drop`), the controller killed mid-deletion and restarted, injected 5xx and
//! throttling, and bad or missing credentials. Each test asserts the final state of the
//! resources and the cloud, and the emulator's audit log of every call made.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::operator::{Env, condition, uid};
use common::{AK, REGION, SECRET};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use swas_image_operator::crd::{CustomImage, FINALIZER, OWNER_TAG, RECONCILE_ANNOTATION};
use swas_image_operator::emulator::EmulatorConfig;
use swas_image_operator::emulator::api::MUTATING;
use swas_image_operator::swas::ops::CreateCustomImage;
use swas_image_operator::swas::{SignatureVersion, Tag};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A spec that creates an image named `name` from seeded server `server` (1 to 3).
fn source_spec(name: &str, server: u32) -> Value {
    json!({
        "regionId": REGION,
        "source": {
            "instanceId": format!("{REGION}-server-{server}"),
            "systemSnapshotId": format!("s-{REGION}-sys-{server}"),
        },
        "imageName": name,
    })
}

/// An emulator whose images are ready after 300 ms and whose deleted images stay listed for
/// `deletion_lag_ms`.
fn emulator(deletion_lag_ms: u64) -> EmulatorConfig {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 300;
    config.behaviour.deletion_lag_ms = deletion_lag_ms;
    config
}

/// Queues a one-shot fault (`error`, `throttle` or `drop`) for the next `count` calls.
async fn fault(env: &Env, action: &str, kind: &str, count: u32) {
    let rule = json!({ "action": action, "kind": kind, "count": count });
    let response = reqwest::Client::new()
        .post(format!("{}/admin/faults/next", env.url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{rule} is accepted");
}

/// Replaces the emulator's standing fault settings.
async fn set_faults(env: &Env, config: Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/admin/faults", env.url()))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{config} is accepted");
}

/// The emulator's fault counts: `{errors, throttled, dropped}`.
async fn fault_counts(env: &Env) -> Value {
    common::admin(&env.url(), "/admin/faults").await["counts"].clone()
}

/// The image ID in the object's status.
fn image_id(object: &CustomImage) -> String {
    let status = object.status.as_ref().expect("a status");
    status.image_id.clone().expect("an image ID in the status")
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The outcomes of audit entries, in order.
fn outcomes(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| str_of(&e["outcome"])).collect()
}

/// Calls that reached the service and acted (answered or not), as opposed to replays,
/// refusals and injected faults.
fn acted(entries: &[Value]) -> Vec<&Value> {
    entries
        .iter()
        .filter(|e| matches!(str_of(&e["outcome"]), "ok" | "dropped"))
        .collect()
}

/// The image IDs a SWAS call names.
fn named_images(entry: &Value) -> Vec<String> {
    let params = entry["params"].as_object().cloned().unwrap_or_default();
    let mut ids = Vec::new();
    for (key, value) in params {
        let value = str_of(&value).to_string();
        if key == "ImageIds" {
            ids.extend(serde_json::from_str::<Vec<String>>(&value).unwrap_or_default());
        } else if key == "ImageId" || key.starts_with("ResourceId.") {
            ids.push(value);
        }
    }
    ids
}

/// Entries after `since` (a `seq`).
fn after(entries: &[Value], since: u64) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e["seq"].as_u64().unwrap_or_default() > since)
        .cloned()
        .collect()
}

/// The highest `seq` in the audit so far.
/// Mutating calls in `entries`.
fn mutating(entries: &[Value]) -> Vec<&Value> {
    entries
        .iter()
        .filter(|e| MUTATING.contains(&str_of(&e["action"])))
        .collect()
}

/// Live images in the emulator tagged as owned by `uid`.
fn owned_live_images(world: &Value, uid: &str) -> Vec<String> {
    let images = world["images"].as_object().cloned().unwrap_or_default();
    images
        .into_iter()
        .filter(|(_, image)| image["deleted_at"].is_null())
        .filter(|(_, image)| {
            image["tags"].as_array().is_some_and(|tags| {
                tags.iter()
                    .any(|t| t["Key"] == OWNER_TAG && t["Value"] == uid)
            })
        })
        .map(|(id, _)| id)
        .collect()
}

/// Whether the image is deleted and no longer listed at `now`.
fn gone(world: &Value, id: &str, now: jiff::Timestamp) -> bool {
    let image = &world["images"][id];
    if image.is_null() {
        return true;
    }
    let listed_until = image["gone_at"]
        .as_str()
        .and_then(|t| jiff::Timestamp::from_str(t).ok());
    image["deleted_at"].is_string() && listed_until.is_some_and(|t| t <= now)
}

/// Whether the image exists and is not deleted.
fn alive(world: &Value, id: &str) -> bool {
    let image = &world["images"][id];
    !image.is_null() && image["deleted_at"].is_null()
}

/// Waits until every object of `objects` (name, image ID) is gone; the moment each is seen
/// gone, its image must already be deleted and no longer listed (so the finalizer was released
/// only after that).
async fn wait_released(env: &Env, objects: &[(String, String)], seconds: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut pending: Vec<&(String, String)> = objects.iter().collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for entry in pending {
            let (name, image) = entry;
            if env.images().get_opt(name).await.unwrap().is_some() {
                still.push(entry);
                continue;
            }
            let now = jiff::Timestamp::now();
            let world = env.world().await;
            assert!(
                gone(&world, image, now),
                "{name} was released while its image {image} was still there: {}",
                world["images"][image]
            );
        }
        pending = still;
        if !pending.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never released: {pending:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until the audit log satisfies `check`.
async fn wait_audit(env: &Env, seconds: u64, what: &str, check: impl Fn(&[Value]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if check(&env.audit().await) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the audit never showed {what}: {:#?}",
            env.audit().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every `(object, Ready reason)` the namespace's CustomImages went through, in order, from a
/// watch started before the test acts: a reason held for a few milliseconds is still seen.
struct Reasons {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Reasons {
    async fn watch(env: &Env) -> Self {
        let api = env.images();
        let list = api.list_metadata(&ListParams::default()).await.unwrap();
        let version = list.metadata.resource_version.unwrap_or_default();
        let mut events = api
            .watch(&WatchParams::default(), &version)
            .await
            .unwrap()
            .boxed();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                if let WatchEvent::Added(object) | WatchEvent::Modified(object) = event
                    && let Some((_, reason, _)) = condition(&object, "Ready")
                {
                    log.lock().unwrap().push((object.name_any(), reason));
                }
            }
        });
        Self { seen, task }
    }

    /// Waits until the watch has seen `name` with `reason` (the watch may trail a GET).
    async fn wait(&self, name: &str, reason: &str, seconds: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while !self.of(name).iter().any(|r| r == reason) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never showed {reason}: {:?}",
                self.of(name)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The reasons `name` went through, repeats collapsed.
    fn of(&self, name: &str) -> Vec<String> {
        let mut reasons: Vec<String> = Vec::new();
        for (object, reason) in self.seen.lock().unwrap().iter() {
            if object == name && reasons.last() != Some(reason) {
                reasons.push(reason.clone());
            }
        }
        reasons
    }
}

impl Drop for Reasons {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Creates an image directly in the emulator, as someone outside the operator would.
async fn foreign_image(env: &Env) -> String {
    let client = common::client(&env.url(), SignatureVersion::V3);
    let op = CreateCustomImage {
        region_id: REGION.into(),
        instance_id: format!("{REGION}-server-3"),
        image_name: "hand-made".into(),
        system_snapshot_id: Some(format!("s-{REGION}-sys-3")),
        tags: vec![Tag::new("team", "not-the-operator")],
        ..Default::default()
    };
    client.call(&op).await.unwrap().image_id
}

/// Asserts that no mutating call after `since` names any image outside `allowed`.
fn only_touched(entries: &[Value], since: u64, allowed: &BTreeSet<String>) {
    for entry in mutating(&after(entries, since)) {
        for id in named_images(entry) {
            assert!(
                allowed.contains(&id),
                "{} touched image {id}, which is not being deleted: {entry:#}",
                entry["action"]
            );
        }
    }
}

/// Asserts that every DeleteCustomImages names exactly one image of `owners` (image -> UID),
/// carries that resource's UID as ClientToken, and that each image was deleted by exactly one
/// call that acted, every other one being a replay or a refusal before acting.
fn deletes_are_exactly_once(entries: &[Value], owners: &BTreeMap<String, String>) {
    let deletes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "DeleteCustomImages")
        .collect();
    for delete in &deletes {
        let ids = named_images(delete);
        assert_eq!(ids.len(), 1, "one image per call: {delete:#}");
        let owner = owners.get(&ids[0]);
        assert!(
            owner.is_some(),
            "a delete of an unexpected image: {delete:#}"
        );
        assert_eq!(
            str_of(&delete["clientToken"]),
            owner.unwrap().as_str(),
            "the ClientToken is the owner's UID: {delete:#}"
        );
        assert_ne!(
            delete["outcome"], "error",
            "no delete is refused: {delete:#}"
        );
    }
    for image in owners.keys() {
        let mine: Vec<Value> = deletes
            .iter()
            .filter(|d| named_images(d) == [image.as_str()])
            .map(|d| (*d).clone())
            .collect();
        assert_eq!(
            acted(&mine).len(),
            1,
            "{image} is deleted exactly once: {:?}",
            outcomes(&mine)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A lost DeleteCustomImages answer
// ---------------------------------------------------------------------------------------------

/// The emulator deletes, then breaks the connection. The retry must not delete anything else:
/// either it is answered from the first call (same ClientToken) or the image is seen gone.
async fn lost_delete_answer(prefix: &str, deletion_lag_ms: u64) {
    let env = Env::start_with(prefix, emulator(deletion_lag_ms)).await;
    env.create("victim", source_spec("victim", 1)).await;
    env.create("bystander", source_spec("bystander", 2)).await;
    let victim = env.wait_ready("victim").await;
    let bystander = env.wait_ready("bystander").await;
    let (victim_image, bystander_image) = (image_id(&victim), image_id(&bystander));
    let foreign = foreign_image(&env).await;
    let mark = env.audit_mark().await;

    fault(&env, "DeleteCustomImages", "drop", 1).await;
    env.delete("victim").await;
    wait_released(&env, &[("victim".into(), victim_image.clone())], 60).await;

    let audit = env.audit().await;
    let deletes: Vec<Value> = after(&audit, mark)
        .into_iter()
        .filter(|e| e["action"] == "DeleteCustomImages")
        .collect();
    let outcomes = outcomes(&deletes);
    assert_eq!(outcomes[0], "dropped", "{outcomes:?}");
    assert!(
        outcomes[1..].iter().all(|o| *o == "replayed"),
        "every retry is answered from the first call: {outcomes:?}"
    );
    if deletion_lag_ms > 0 {
        assert!(outcomes.len() >= 2, "the retry was sent: {outcomes:?}");
    } else {
        // After the lost answer, a fresh lookup of the image found it gone.
        let dropped_at = deletes[0]["seq"].as_u64().unwrap();
        let looked = after(&audit, dropped_at).into_iter().any(|e| {
            e["action"] == "ListCustomImages" && named_images(&e) == [victim_image.as_str()]
        });
        assert!(looked, "a fresh lookup after the lost answer");
    }
    let owners = BTreeMap::from([(victim_image.clone(), uid(&victim))]);
    deletes_are_exactly_once(&deletes, &owners);
    only_touched(&audit, mark, &BTreeSet::from([victim_image.clone()]));

    let world = env.world().await;
    assert!(!alive(&world, &victim_image));
    assert!(
        alive(&world, &bystander_image),
        "the bystander's image stays"
    );
    assert!(alive(&world, &foreign), "the hand-made image stays");
    let bystander = env.wait_ready("bystander").await;
    assert_eq!(image_id(&bystander), bystander_image);
    let creates = env.calls("CreateCustomImage").await;
    let by_operator = creates
        .iter()
        .filter(|c| str_of(&c["clientToken"]).starts_with("create-"));
    assert_eq!(by_operator.count(), 2, "no image was made again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_delete_answer_then_the_image_is_seen_gone() {
    lost_delete_answer("lost-delete", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_delete_answer_then_the_retry_is_replayed() {
    // The deleted image stays listed for a while, so the retry does send DeleteCustomImages
    // again, and only the ClientToken keeps it from acting twice.
    lost_delete_answer("lost-delete-lag", 6000).await;
}

// ---------------------------------------------------------------------------------------------
// 2. A lost CreateCustomImage answer
// ---------------------------------------------------------------------------------------------

async fn lost_create_answer(prefix: &str, visibility_lag_ms: u64) {
    let mut config = emulator(0);
    config.behaviour.visibility_lag_ms = visibility_lag_ms;
    let env = Env::start_with(prefix, config).await;
    fault(&env, "CreateCustomImage", "drop", 1).await;
    let created = env.create("web", source_spec("web", 1)).await;
    let ready = env.wait_ready("web").await;
    let id = image_id(&ready);
    let uid = uid(&created);

    let world = env.world().await;
    assert_eq!(owned_live_images(&world, &uid), [id.as_str()]);
    assert_eq!(
        world["images"].as_object().unwrap().len(),
        1,
        "no other image"
    );

    let creates = env.calls("CreateCustomImage").await;
    let outcomes = outcomes(&creates);
    assert_eq!(outcomes[0], "dropped", "{outcomes:?}");
    assert!(
        outcomes[1..].iter().all(|o| *o == "replayed"),
        "every retry is answered from the first call: {outcomes:?}"
    );
    for create in &creates {
        assert_eq!(
            str_of(&create["clientToken"]),
            format!("create-{uid}"),
            "{create:#}"
        );
    }
    let status = ready.status.unwrap();
    assert_eq!(status.observed_generation, ready.metadata.generation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_answer_makes_one_image() {
    lost_create_answer("lost-create", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_answer_makes_one_image_when_listings_lag() {
    // The new image is not listed for a while: only the ClientToken can find it again.
    lost_create_answer("lost-create-lag", 1500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_answer_then_the_tags_change_before_the_retry() {
    let env = Env::start_with("lost-create-edit", emulator(0)).await;
    // The answer is lost, then the next three attempts are throttled (each until the next
    // second boundary), which leaves time to change the tags before the create is retried.
    fault(&env, "CreateCustomImage", "drop", 1).await;
    fault(&env, "CreateCustomImage", "throttle", 3).await;
    let mut spec = source_spec("web", 1);
    spec["tags"] = json!({ "team": "red" });
    let created = env.create("web", spec).await;
    wait_audit(&env, 30, "the lost CreateCustomImage", |audit| {
        audit
            .iter()
            .any(|e| e["action"] == "CreateCustomImage" && e["outcome"] == "dropped")
    })
    .await;
    env.patch("web", json!({ "spec": { "tags": { "team": "blue" } } }))
        .await;

    // The image made by the lost call is this resource's (it carries its UID): it must be
    // found and its tags brought in line, not refused as a conflicting create.
    let ready = env
        .wait_for("web", 60, |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && o.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
        })
        .await;
    let id = image_id(&ready);
    let world = env.world().await;
    assert_eq!(owned_live_images(&world, &uid(&created)), [id.as_str()]);
    let tags = world["images"][&id]["tags"].as_array().cloned().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["Key"] == "team" && t["Value"] == "blue"),
        "{tags:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The controller killed in the middle of a deletion
// ---------------------------------------------------------------------------------------------

/// Asserts the objects still exist, held by the finalizer.
async fn held(env: &Env, names: &[String]) {
    for name in names {
        let object = env.images().get_opt(name).await.unwrap();
        let object = object.unwrap_or_else(|| panic!("{name} was released too early"));
        assert!(object.metadata.deletion_timestamp.is_some());
        assert!(
            object
                .metadata
                .finalizers
                .unwrap_or_default()
                .contains(&FINALIZER.into())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_killed_after_the_delete_call_and_restarted() {
    // Deleted images stay listed for 5 s, so the deletion is still in flight when it dies.
    let mut env = Env::start_with("kill-delete", emulator(5000)).await;
    env.create("web", source_spec("web", 1)).await;
    env.create("bystander", source_spec("bystander", 2)).await;
    let web = env.wait_ready("web").await;
    let bystander = env.wait_ready("bystander").await;
    let (image, bystander_image) = (image_id(&web), image_id(&bystander));
    let mark = env.audit_mark().await;

    env.delete("web").await;
    wait_audit(&env, 30, "a DeleteCustomImages", |audit| {
        after(audit, mark)
            .iter()
            .any(|e| e["action"] == "DeleteCustomImages")
    })
    .await;
    env.kill_controller();
    held(&env, &["web".into()]).await;

    env.start_controller();
    wait_released(&env, &[("web".into(), image.clone())], 60).await;

    let audit = env.audit().await;
    let owners = BTreeMap::from([(image.clone(), uid(&web))]);
    deletes_are_exactly_once(&after(&audit, mark), &owners);
    only_touched(&audit, mark, &BTreeSet::from([image.clone()]));
    let world = env.world().await;
    assert!(!alive(&world, &image), "no orphan");
    assert!(
        alive(&world, &bystander_image),
        "the bystander's image stays"
    );
    assert_eq!(
        image_id(&env.wait_ready("bystander").await),
        bystander_image
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_killed_during_a_slow_call_and_restarted() {
    let mut env = Env::start_with("kill-slow", emulator(0)).await;
    env.create("web", source_spec("web", 1)).await;
    env.create("bystander", source_spec("bystander", 2)).await;
    let web = env.wait_ready("web").await;
    let bystander = env.wait_ready("bystander").await;
    let (image, bystander_image) = (image_id(&web), image_id(&bystander));
    // Every call now takes 1.5 s: once the fresh lookup of the image is answered, the
    // controller is inside DeleteCustomImages for 1.5 s, and is killed there.
    set_faults(&env, json!({ "latencyMs": [1500, 1500] })).await;
    let mark = env.audit_mark().await;

    env.delete("web").await;
    wait_audit(&env, 30, "the lookup before deleting", |audit| {
        after(audit, mark)
            .iter()
            .any(|e| e["action"] == "ListCustomImages" && named_images(e) == [image.as_str()])
    })
    .await;
    env.kill_controller();
    held(&env, &["web".into()]).await;

    env.start_controller();
    wait_released(&env, &[("web".into(), image.clone())], 60).await;
    set_faults(&env, json!({})).await;

    let audit = env.audit().await;
    let owners = BTreeMap::from([(image.clone(), uid(&web))]);
    // The call cut short may or may not have acted; either way the image is deleted once.
    deletes_are_exactly_once(&after(&audit, mark), &owners);
    only_touched(&audit, mark, &BTreeSet::from([image.clone()]));
    let world = env.world().await;
    assert!(!alive(&world, &image), "no orphan");
    assert!(
        alive(&world, &bystander_image),
        "the bystander's image stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_killed_while_deleting_five_shared_images() {
    let mut env = Env::start_with("kill-five", emulator(3000)).await;
    let names: Vec<String> = (1..=5).map(|i| format!("shared-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let mut spec = source_spec(name, i as u32 % 3 + 1);
        spec["shareToEcs"] = json!(true);
        spec["sharedAccounts"] = json!(["1000000000000001", "1000000000000002"]);
        env.create(name, spec).await;
    }
    env.create("bystander", source_spec("bystander", 1)).await;
    let mut owners = BTreeMap::new();
    let mut objects = Vec::new();
    for name in &names {
        let ready = env.wait_ready(name).await;
        let status = ready.status.as_ref().unwrap();
        assert!(status.in_share);
        assert_eq!(status.shared_accounts.len(), 2);
        owners.insert(image_id(&ready), uid(&ready));
        objects.push((name.clone(), image_id(&ready)));
    }
    let bystander_image = image_id(&env.wait_ready("bystander").await);
    let mark = env.audit_mark().await;

    for name in &names {
        env.delete(name).await;
    }
    wait_audit(&env, 60, "a DeleteCustomImages", |audit| {
        after(audit, mark)
            .iter()
            .any(|e| e["action"] == "DeleteCustomImages")
    })
    .await;
    env.kill_controller();
    held(&env, &names).await;

    env.start_controller();
    wait_released(&env, &objects, 120).await;

    let audit = env.audit().await;
    let since = after(&audit, mark);
    deletes_are_exactly_once(&since, &owners);
    let images: BTreeSet<String> = owners.keys().cloned().collect();
    only_touched(&audit, mark, &images);
    let world = env.world().await;
    for image in &images {
        assert!(!alive(&world, image), "no orphan: {image}");
    }
    assert!(
        alive(&world, &bystander_image),
        "the bystander's image stays"
    );
    let bystander = env.wait_ready("bystander").await;
    assert_eq!(image_id(&bystander), bystander_image);
}

// ---------------------------------------------------------------------------------------------
// 4. Injected server errors and throttling
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_throttling_during_create_and_delete() {
    let env = Env::start_with("errors", emulator(0)).await;
    let reasons = Reasons::watch(&env).await;
    fault(&env, "CreateCustomImage", "error", 2).await;
    fault(&env, "CreateCustomImage", "throttle", 1).await;
    let created = env.create("web", source_spec("web", 1)).await;
    let uid = uid(&created);

    let ready = env.wait_ready("web").await;
    let id = image_id(&ready);
    let creates = env.calls("CreateCustomImage").await;
    assert_eq!(
        outcomes(&creates),
        ["injectedError", "injectedError", "throttled", "ok"]
    );
    assert!(
        creates
            .iter()
            .all(|c| str_of(&c["clientToken"]) == format!("create-{uid}"))
    );
    assert_eq!(owned_live_images(&env.world().await, &uid), [id.as_str()]);
    let kinds: Vec<&str> = ready
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(kinds, ["Ready"], "only Ready once converged");
    reasons.wait("web", "Available", 10).await;
    let seen = reasons.of("web");
    let creating = &seen[..seen.iter().position(|r| r == "Available").unwrap()];
    for reason in ["CloudError", "Throttled"] {
        assert!(
            creating.contains(&reason.to_string()),
            "{reason} while retrying: {seen:?}"
        );
    }

    fault(&env, "DeleteCustomImages", "throttle", 1).await;
    fault(&env, "DeleteCustomImages", "error", 1).await;
    let mark = env.audit_mark().await;
    env.delete("web").await;
    wait_released(&env, &[("web".into(), id.clone())], 60).await;

    let deletes = after(&env.calls("DeleteCustomImages").await, mark);
    assert_eq!(outcomes(&deletes), ["throttled", "injectedError", "ok"]);
    deletes_are_exactly_once(&deletes, &BTreeMap::from([(id.clone(), uid.clone())]));
    assert!(!alive(&env.world().await, &id));
    reasons.wait("web", "Deleted", 10).await;
    let seen = reasons.of("web");
    let deleting = &seen[seen.iter().position(|r| r == "Available").unwrap()..];
    for reason in ["Throttled", "CloudError", "Deleted"] {
        assert!(
            deleting.contains(&reason.to_string()),
            "{reason} while deleting: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standing_errors_drops_and_quotas_still_converge() {
    let env = Env::start_with("flaky", emulator(0)).await;
    // Mutating calls fail 25% of the time, lose their answer 15% of the time, and are allowed
    // 2 per second; the seed makes the sequence of random choices repeatable.
    set_faults(
        &env,
        json!({
            "seed": 7,
            "errorRate": { "mutating": 0.25 },
            "dropRate": { "mutating": 0.15 },
            "quotaPerSecond": { "mutating": 2 },
        }),
    )
    .await;
    let names: Vec<String> = (1..=4).map(|i| format!("flaky-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let mut spec = source_spec(name, i as u32 % 3 + 1);
        spec["shareToEcs"] = json!(true);
        env.create(name, spec).await;
    }
    let mut owners = BTreeMap::new();
    let mut objects = Vec::new();
    let is_ready = |o: &CustomImage| condition(o, "Ready").is_some_and(|c| c.0 == "True");
    for name in &names {
        let ready = env.wait_for(name, 180, is_ready).await;
        assert!(ready.status.as_ref().unwrap().in_share);
        owners.insert(image_id(&ready), uid(&ready));
        objects.push((name.clone(), image_id(&ready)));
    }
    let world = env.world().await;
    for (image, uid) in &owners {
        let owned = owned_live_images(&world, uid);
        assert_eq!(owned, [image.as_str()], "one image per resource");
    }
    let live = world["images"].as_object().unwrap().values();
    assert_eq!(
        live.filter(|i| i["deleted_at"].is_null()).count(),
        names.len()
    );
    let tokens: BTreeSet<String> = owners.values().map(|u| format!("create-{u}")).collect();
    let creates = env.calls("CreateCustomImage").await;
    let used: BTreeSet<String> = creates
        .iter()
        .map(|c| str_of(&c["clientToken"]).to_string())
        .collect();
    assert_eq!(used, tokens, "every create carries its resource's token");
    let mark = env.audit_mark().await;

    for name in &names {
        env.delete(name).await;
    }
    wait_released(&env, &objects, 180).await;
    let counts = fault_counts(&env).await;
    set_faults(&env, json!({})).await;

    let audit = env.audit().await;
    let deletes: Vec<Value> = after(&audit, mark)
        .into_iter()
        .filter(|e| e["action"] == "DeleteCustomImages")
        .collect();
    for delete in &deletes {
        let id = named_images(delete);
        assert_eq!(id.len(), 1, "{delete:#}");
        assert_eq!(str_of(&delete["clientToken"]), owners[&id[0]], "{delete:#}");
    }
    only_touched(&audit, mark, &owners.keys().cloned().collect());
    let world = env.world().await;
    for image in owners.keys() {
        assert!(!alive(&world, image), "no orphan: {image}");
    }
    let injected = ["errors", "throttled", "dropped"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap_or_default())
        .sum::<u64>();
    assert!(injected > 0, "faults were injected: {counts}");
}

/// Seconds between two audit entries.
fn seconds_between(first: &Value, second: &Value) -> f64 {
    let at = |e: &Value| jiff::Timestamp::from_str(str_of(&e["time"])).unwrap();
    (at(second) - at(first))
        .total(jiff::Unit::Millisecond)
        .unwrap()
        / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_are_retried_with_backoff() {
    let env = Env::start_with("backoff", emulator(0)).await;
    set_faults(&env, json!({ "errorRate": { "CreateCustomImage": 1.0 } })).await;
    env.create("web", source_spec("web", 1)).await;
    let creates = |audit: &[Value]| -> Vec<Value> {
        audit
            .iter()
            .filter(|e| e["action"] == "CreateCustomImage")
            .cloned()
            .collect()
    };
    wait_audit(&env, 60, "three attempts", |audit| {
        creates(audit).len() >= 3
    })
    .await;
    let attempts = creates(&env.audit().await);
    assert!(attempts.iter().all(|a| a["outcome"] == "injectedError"));
    // The backoff after n failures in a row is 2^n s (plus jitter); allow 100 ms of slack.
    let first = seconds_between(&attempts[0], &attempts[1]);
    let second = seconds_between(&attempts[1], &attempts[2]);
    assert!(
        first >= 1.9 && second >= 3.9,
        "attempts {first:.3} s and {second:.3} s apart; {} attempts so far",
        env.calls("CreateCustomImage").await.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_resource_is_not_retried_until_something_changes() {
    let env = Env::start("stall-loop").await;
    create_secret(
        &env,
        &[("accessKeyId", AK), ("accessKeySecret", WRONG_SECRET)],
    )
    .await;
    let mut spec = source_spec("web", 1);
    spec["credentialsSecretRef"] = json!({ "name": "swas-keys" });
    env.create("web", spec).await;
    env.wait_for("web", 30, |o| {
        condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "AuthFailed")
    })
    .await;
    // A barrier: once this request is handled, every earlier event has been too.
    let annotation = json!({ "metadata": { "annotations": { RECONCILE_ANNOTATION: "barrier" } } });
    env.patch("web", annotation).await;
    env.wait_for("web", 30, |o| {
        o.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("barrier")
    })
    .await;
    // Creation, its status write, the request and its status write: at most four looks.
    let looks = env.calls("ListCustomImages").await.len();
    let warnings = env.events("web").await;
    let repeats: Vec<i32> = warnings
        .iter()
        .map(|e| e.series.as_ref().map_or(1, |s| s.count))
        .collect();
    assert!(
        looks <= 4,
        "{looks} rejected ListCustomImages calls for one stalled resource; events {repeats:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Missing and invalid credentials
// ---------------------------------------------------------------------------------------------

/// A secret value that must never show up anywhere.
const WRONG_SECRET: &str = "wrong-secret-4f9c2a7e1b";

fn secrets(env: &Env) -> Api<Secret> {
    Api::namespaced(env.client.clone(), &env.ns)
}

async fn create_secret(env: &Env, data: &[(&str, &str)]) {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "swas-keys" },
        "stringData": data,
    }))
    .unwrap();
    secrets(env)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// Everything a person can read about the object: its status and its events.
async fn visible_text(env: &Env, name: &str) -> String {
    let object = env.images().get(name).await.unwrap();
    let events = env.events(name).await;
    format!(
        "{}\n{}\n{}",
        serde_json::to_string(&object.status).unwrap(),
        serde_json::to_string(&object.metadata.annotations).unwrap(),
        serde_json::to_string(&events).unwrap()
    )
}

/// A resource using `swas-keys` (made from `secret`, or missing) stalls with `reason` and a
/// message containing `message`, calls nothing that mutates, shows no secret, and becomes
/// Ready once the Secret is fixed and a reconcile is requested.
async fn stalled_until_fixed(
    prefix: &str,
    secret: Option<&[(&str, &str)]>,
    reason: &str,
    message: &[&str],
) {
    let env = Env::start(prefix).await;
    if let Some(data) = secret {
        create_secret(&env, data).await;
    }
    let mut spec = source_spec("web", 1);
    spec["credentialsSecretRef"] = json!({ "name": "swas-keys" });
    env.create("web", spec).await;

    let stalled = env
        .wait_for("web", 30, |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, stalled_reason, text) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(stalled_reason, reason, "{text}");
    for part in message {
        assert!(text.contains(part), "{text:?} should mention {part:?}");
    }
    let ready = condition(&stalled, "Ready").unwrap();
    assert_eq!((ready.0.as_str(), ready.1.as_str()), ("False", reason));
    assert!(condition(&stalled, "Reconciling").is_none());
    assert!(
        env.event_reasons("web").await.contains(&reason.to_string()),
        "a Warning event says why"
    );
    let audit = env.audit().await;
    let mutations = mutating(&audit);
    assert!(mutations.is_empty(), "no mutating call: {mutations:#?}");
    let seen = visible_text(&env, "web").await;
    for secret in [WRONG_SECRET, SECRET] {
        assert!(!seen.contains(secret), "a secret shows: {seen}");
    }
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains(WRONG_SECRET)
    );

    // Fix the Secret, then ask for a reconcile (a Stalled resource waits for the resync).
    let keys = json!({ "stringData": { "accessKeyId": AK, "accessKeySecret": SECRET } });
    match secret {
        None => create_secret(&env, &[("accessKeyId", AK), ("accessKeySecret", SECRET)]).await,
        Some(_) => {
            secrets(&env)
                .patch("swas-keys", &PatchParams::default(), &Patch::Merge(&keys))
                .await
                .unwrap();
        }
    }
    let annotation = json!({ "metadata": { "annotations": { RECONCILE_ANNOTATION: "fixed-1" } } });
    env.patch("web", annotation).await;
    let ready = env.wait_ready("web").await;
    let status = ready.status.as_ref().unwrap();
    assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("fixed-1"));
    assert!(condition(&ready, "Stalled").is_none());
    let id = image_id(&ready);
    assert_eq!(owned_live_images(&env.world().await, &uid(&ready)), [id]);
    assert_eq!(acted(&env.calls("CreateCustomImage").await).len(), 1);
    let seen = visible_text(&env, "web").await;
    for secret in [WRONG_SECRET, SECRET] {
        assert!(!seen.contains(secret), "a secret shows: {seen}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_stalls_until_created() {
    stalled_until_fixed(
        "creds-missing",
        None,
        "CredentialsNotFound",
        &["Secret swas-keys not found"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_access_key_secret_stalls_as_auth_failed() {
    let data = [("accessKeyId", AK), ("accessKeySecret", WRONG_SECRET)];
    stalled_until_fixed(
        "creds-wrong",
        Some(&data),
        "AuthFailed",
        &["SignatureDoesNotMatch", "credentials"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_access_key_id_stalls_as_auth_failed() {
    let data = [
        ("accessKeyId", "no-such-key"),
        ("accessKeySecret", WRONG_SECRET),
    ];
    stalled_until_fixed(
        "creds-unknown",
        Some(&data),
        "AuthFailed",
        &["InvalidAccessKeyId"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_without_access_key_secret_stalls_as_invalid_credentials() {
    let data = [("accessKeyId", AK)];
    stalled_until_fixed(
        "creds-partial",
        Some(&data),
        "InvalidCredentials",
        &["swas-keys", "accessKeySecret"],
    )
    .await;
}
