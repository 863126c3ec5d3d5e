//! The lifecycle of a `CustomImage` end to end, on the real control plane and the emulator:
//! create, adopt (and its conflicts), share and unshare, drift correction, every deletion
//! path, pause and reconcile-now. The unit tests check each step's logic; these check what the
//! operator really does in the cloud and in the cluster, from the outside: the conditions
//! (type, status, reason, observedGeneration), the events, and the emulator's audit log (the
//! exact SWAS calls, their order and their parameters, `ClientToken`s included).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::REGION;
use common::operator::{Env, condition, uid};
use kube::api::GetParams;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use swas_image_operator::crd::{
    CustomImage, FINALIZER, OWNER_TAG, PAUSED_ANNOTATION, RECONCILE_ANNOTATION,
};
use swas_image_operator::emulator::EmulatorConfig;
use swas_image_operator::emulator::api::MUTATING;
use swas_image_operator::swas::ops::{
    AddCustomImageShareAccount, CreateCustomImage, DeleteCustomImages, ImageStatus,
    ListTagResources, ModifyImageShareStatus, ShareOperation, TagResources, UntagResources,
};
use swas_image_operator::swas::{SignatureVersion, SwasClient, Tag};
use tokio::time::Instant;

/// Accounts to share with (not the emulator's own account).
const ALICE: &str = "1111111111111111";
const BOB: &str = "2222222222222222";
const MALLORY: &str = "3333333333333333";

// ---------------------------------------------------------------------------------------------
// Specs and the SWAS client

/// A spec creating an image named `name` from server 1, with `extra` fields merged in.
fn from_source(name: &str, extra: Value) -> Value {
    let mut spec = json!({
        "regionId": REGION,
        "source": {
            "instanceId": "cn-hangzhou-server-1",
            "systemSnapshotId": "s-cn-hangzhou-sys-1",
        },
        "imageName": name,
    });
    merge(&mut spec, extra);
    spec
}

/// A spec adopting image `id`, with `extra` fields merged in.
fn adopting(id: &str, extra: Value) -> Value {
    let mut spec = json!({ "regionId": REGION, "imageId": id });
    merge(&mut spec, extra);
    spec
}

fn merge(spec: &mut Value, extra: Value) {
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
}

/// A SWAS client of the image owner's account, acting behind the operator's back.
fn swas(env: &Env) -> SwasClient {
    common::client(&env.url(), SignatureVersion::V3)
}

/// Creates an image directly in the emulator (from server 2) and waits until it is available.
async fn create_directly(env: &Env, name: &str, tags: &[(&str, &str)]) -> String {
    let client = swas(env);
    let op = CreateCustomImage {
        region_id: REGION.into(),
        instance_id: "cn-hangzhou-server-2".into(),
        image_name: name.into(),
        system_snapshot_id: Some("s-cn-hangzhou-sys-2".into()),
        tags: tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect(),
        ..Default::default()
    };
    let id = client.call(&op).await.unwrap().image_id;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = client
            .images_by_ids(REGION, std::slice::from_ref(&id))
            .await
            .unwrap();
        if found.iter().any(|i| i.status() == ImageStatus::Available) {
            return id;
        }
        assert!(Instant::now() < deadline, "{id} never became available");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The audit log

/// The calls as `Action` (`ModifyImageShareStatus` with its `Operation`), in order, with a run
/// of the same read collapsed into one: how often the operator polls is timing, not behaviour.
fn sequence(calls: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for call in calls {
        let action = call["action"].as_str().unwrap_or_default();
        let name = match call["params"]["Operation"].as_str() {
            Some(operation) => format!("{action} {operation}"),
            None => action.to_string(),
        };
        if action.starts_with("List") && out.last() == Some(&name) {
            continue;
        }
        out.push(name);
    }
    out
}

/// The calls that change state.
fn mutations(calls: &[Value]) -> Vec<Value> {
    let mutating = |c: &&Value| MUTATING.contains(&c["action"].as_str().unwrap_or_default());
    calls.iter().filter(mutating).cloned().collect()
}

/// The one call of `action` among `calls`.
fn only<'a>(calls: &'a [Value], action: &str) -> &'a Value {
    let found: Vec<&Value> = calls.iter().filter(|c| c["action"] == action).collect();
    assert_eq!(found.len(), 1, "exactly one {action}: {calls:#?}");
    found[0]
}

/// A list parameter (`Account.1`, `Account.2`, ...) of a call, in order.
fn list_param(call: &Value, key: &str) -> Vec<String> {
    (1..)
        .map_while(|n| {
            call["params"][format!("{key}.{n}")]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// The tags (`Tag.N.Key`, `Tag.N.Value`) of a call.
fn tag_params(call: &Value) -> BTreeMap<String, String> {
    (1..)
        .map_while(|n| {
            let key = call["params"][format!("Tag.{n}.Key")].as_str()?;
            let value = call["params"][format!("Tag.{n}.Value")].as_str()?;
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Asserts that every call was answered with success.
fn all_ok(calls: &[Value]) {
    for call in calls {
        assert_eq!(call["outcome"], "ok", "{call:#}");
    }
}

/// Asserts that each `ListCustomImages` is a region listing (no `ImageIds`) or a lookup of
/// exactly `id`, as wanted.
fn lists_are(calls: &[Value], lookup_of: Option<&str>) {
    let wanted = lookup_of.map(|id| json!(format!("[\"{id}\"]")));
    for call in calls.iter().filter(|c| c["action"] == "ListCustomImages") {
        let params = &call["params"];
        match &wanted {
            Some(ids) => assert_eq!(&params["ImageIds"], ids, "{call:#}"),
            None => {
                assert!(params["ImageIds"].is_null(), "{call:#}");
                assert_eq!(params["PageSize"], "100", "{call:#}");
            }
        }
        assert_eq!(params["RegionId"], REGION, "{call:#}");
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator's world

/// The image as the emulator holds it.
async fn world_image(env: &Env, id: &str) -> Value {
    env.world().await["images"][id].clone()
}

/// The image's tags as the emulator holds them.
async fn world_tags(env: &Env, id: &str) -> BTreeMap<String, String> {
    let image = world_image(env, id).await;
    let tags = image["tags"].as_array().cloned().unwrap_or_default();
    tags.iter()
        .map(|t| {
            let key = t["Key"].as_str().unwrap().to_string();
            (key, t["Value"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Asserts that the image is deleted (still shown with `deleted_at`, or already purged).
async fn assert_deleted(env: &Env, id: &str) {
    let image = world_image(env, id).await;
    let deleted = image.is_null() || image["deleted_at"].is_string();
    assert!(deleted, "{id} is deleted: {image:#}");
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The object

/// Asserts the object's conditions exactly (type, status, reason), and that they and the
/// status describe the current generation.
fn assert_conditions(object: &CustomImage, expected: &[(&str, &str, &str)]) {
    let status = object.status.as_ref().expect("a status");
    let generation = object.metadata.generation;
    assert_eq!(status.observed_generation, generation, "{status:#?}");
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for c in &status.conditions {
        assert_eq!(c.observed_generation, generation, "{c:#?}");
        assert!(!c.message.is_empty(), "{c:#?}");
        seen.push((c.type_.clone(), c.status.clone(), c.reason.clone()));
    }
    seen.sort();
    let mut expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(t, s, r)| (t.to_string(), s.to_string(), r.to_string()))
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "{status:#?}");
}

/// Waits until the object's Ready condition has `status` and `reason` for its current
/// generation.
async fn wait_ready_is(env: &Env, name: &str, status: &str, reason: &str) -> CustomImage {
    env.wait_for(name, 60, |o| {
        let current = o.status.as_ref().and_then(|s| {
            let ready = s.conditions.iter().find(|c| c.type_ == "Ready")?;
            Some(ready.observed_generation == o.metadata.generation)
        });
        current == Some(true)
            && condition(o, "Ready").is_some_and(|c| c.0 == status && c.1 == reason)
    })
    .await
}

/// Waits until the object is Ready for its current generation.
async fn wait_available(env: &Env, name: &str) -> CustomImage {
    wait_ready_is(env, name, "True", "Available").await
}

/// The reasons of the object's events, as a set (events of one second have no stable order).
async fn reasons(env: &Env, name: &str) -> BTreeSet<String> {
    env.event_reasons(name).await.into_iter().collect()
}

fn set(reasons: &[&str]) -> BTreeSet<String> {
    reasons.iter().map(|r| r.to_string()).collect()
}

/// The object as `kubectl get` prints it: column name to cell.
async fn printed(env: &Env, name: &str) -> BTreeMap<String, Value> {
    let path = CustomImage::url_path(&(), Some(&env.ns));
    let mut request = kube::core::Request::new(path)
        .get(name, &GetParams::default())
        .unwrap();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io";
    request
        .headers_mut()
        .insert("accept", accept.parse().unwrap());
    let table: Value = env.client.request(request).await.unwrap();
    let columns = table["columnDefinitions"].as_array().unwrap();
    let cells = table["rows"][0]["cells"].as_array().unwrap();
    columns
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .zip(cells.iter().cloned())
        .collect()
}

async fn resource_version(env: &Env, name: &str) -> Option<String> {
    let object = env.images().get(name).await.unwrap();
    object.metadata.resource_version
}

/// A deliberate negative check, kept short: for `seconds`, the operator makes no SWAS call and
/// does not write the object.
async fn assert_quiet(env: &Env, name: &str, seconds: u64) {
    let from = env.audit_mark().await;
    let version = resource_version(env, name).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let calls = env.audit_since(from).await;
        assert!(calls.is_empty(), "no SWAS call expected: {calls:#?}");
        let now = resource_version(env, name).await;
        assert_eq!(now, version, "no write to {name} expected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn annotate(env: &Env, name: &str, key: &str, value: Value) {
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    env.patch(name, patch).await;
}

// ---------------------------------------------------------------------------------------------
// 1. Create

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_source_tags_the_image_and_becomes_ready() {
    let env = Env::start("create").await;
    let spec = from_source(
        "web-1",
        json!({
            "source": {
                "instanceId": "cn-hangzhou-server-1",
                "systemSnapshotId": "s-cn-hangzhou-sys-1",
                "dataSnapshotId": "s-cn-hangzhou-data-1",
            },
            "description": "the web tier",
            "tags": { "team": "web", "env": "prod" },
        }),
    );
    let created = env.create("web", spec).await;
    let id_of = uid(&created);

    let ready = wait_available(&env, "web").await;
    assert_conditions(&ready, &[("Ready", "True", "Available")]);
    let status = ready.status.as_ref().unwrap();
    let image_id = status.image_id.clone().expect("status.imageId");
    assert_eq!(
        serde_json::to_value(status.state).unwrap(),
        json!("Available")
    );
    assert!(!status.in_share);
    assert!(status.shared_accounts.is_empty());
    assert!(ready.finalizers().iter().any(|f| f == FINALIZER));

    // What `kubectl get` shows.
    let row = printed(&env, "web").await;
    assert_eq!(row["Name"], "web");
    assert_eq!(row["Image ID"], image_id.as_str());
    assert_eq!(row["Region"], REGION);
    assert_eq!(row["State"], "Available");
    assert_eq!(row["Shared"], false);
    assert_eq!(row["Ready"], "True");

    // One create with the ownership tag and the UID-derived token (only immutable fields, so a
    // retried create always matches), then the declared tags.
    let calls = env.audit_since(0).await;
    all_ok(&calls);
    let create = only(&calls, "CreateCustomImage");
    assert_eq!(create["clientToken"], format!("create-{id_of}"));
    let params = &create["params"];
    assert_eq!(params["RegionId"], REGION);
    assert_eq!(params["InstanceId"], "cn-hangzhou-server-1");
    assert_eq!(params["ImageName"], "web-1");
    assert_eq!(params["SystemSnapshotId"], "s-cn-hangzhou-sys-1");
    assert_eq!(params["DataSnapshotId"], "s-cn-hangzhou-data-1");
    assert_eq!(params["Description"], "the web tier");
    let declared = tags(&[("team", "web"), ("env", "prod"), (OWNER_TAG, &id_of)]);
    assert_eq!(tag_params(create), tags(&[(OWNER_TAG, &id_of)]));
    let tag = only(&calls, "TagResources");
    assert_eq!(tag_params(tag), tags(&[("env", "prod"), ("team", "web")]));
    assert_eq!(
        sequence(&calls),
        [
            "ListCustomImages",
            "CreateCustomImage",
            "ListCustomImages",
            "TagResources",
            "ListCustomImages"
        ]
    );
    lists_are(&calls, None);

    // The image as SWAS holds it.
    assert_eq!(world_tags(&env, &image_id).await, declared);
    let image = world_image(&env, &image_id).await;
    assert_eq!(image["name"], "web-1");
    assert_eq!(image["description"], "the web tier");
    assert!(image["deleted_at"].is_null());
    let listed = swas(&env)
        .call(&ListTagResources {
            region_id: REGION.into(),
            resource_ids: vec![image_id.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let listed: BTreeMap<String, String> = listed
        .tag_resources
        .tag_resource
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    assert_eq!(listed, declared);

    assert_eq!(reasons(&env, "web").await, set(&["Created"]));
}

// ---------------------------------------------------------------------------------------------
// 2. Adopt

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_an_existing_image_tags_it_as_owned() {
    let env = Env::start("adopt").await;
    let image_id =
        create_directly(&env, "legacy", &[("team", "legacy"), ("cost-center", "42")]).await;

    let from = env.audit_mark().await;
    let created = env
        .create(
            "legacy",
            adopting(&image_id, json!({ "tags": { "team": "web" } })),
        )
        .await;
    let ready = wait_available(&env, "legacy").await;
    assert_conditions(&ready, &[("Ready", "True", "Available")]);
    let status = ready.status.as_ref().unwrap();
    assert_eq!(status.image_id.as_deref(), Some(image_id.as_str()));
    assert_eq!(
        serde_json::to_value(status.state).unwrap(),
        json!("Available")
    );

    // Adoption makes the tags what the spec declares: the undeclared one goes, the declared
    // ones and the ownership tag are set. Nothing else changes.
    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        [
            "ListCustomImages",
            "UntagResources",
            "TagResources",
            "ListCustomImages"
        ]
    );
    lists_are(&calls, None);
    let untag = only(&calls, "UntagResources");
    assert_eq!(list_param(untag, "ResourceId"), [image_id.as_str()]);
    assert_eq!(list_param(untag, "TagKey"), ["cost-center"]);
    let tag = only(&calls, "TagResources");
    assert_eq!(list_param(tag, "ResourceId"), [image_id.as_str()]);
    let owned = tags(&[("team", "web"), (OWNER_TAG, &uid(&created))]);
    assert_eq!(tag_params(tag), owned);
    assert_eq!(world_tags(&env, &image_id).await, owned);
    assert_eq!(reasons(&env, "legacy").await, set(&["Updated"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_missing_image_stalls_without_touching_anything() {
    let env = Env::start("adopt-missing").await;
    let missing = "m-doesnotexist0000000";
    env.create("ghost", adopting(missing, json!({}))).await;

    let stalled = wait_ready_is(&env, "ghost", "False", "ImageNotFound").await;
    assert_conditions(
        &stalled,
        &[
            ("Ready", "False", "ImageNotFound"),
            ("Stalled", "True", "ImageNotFound"),
        ],
    );
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains(missing), "{message}");
    assert!(stalled.status.as_ref().unwrap().image_id.is_none());

    let calls = env.audit_since(0).await;
    all_ok(&calls);
    assert_eq!(sequence(&calls), ["ListCustomImages"]);
    lists_are(&calls, None);
    assert!(mutations(&calls).is_empty());
    assert_eq!(reasons(&env, "ghost").await, set(&["ImageNotFound"]));

    // Nothing was adopted, so deleting it only looks the image up and changes nothing.
    let from = env.audit_mark().await;
    env.delete("ghost").await;
    env.wait_gone("ghost", 30).await;
    let calls = env.audit_since(from).await;
    assert!(mutations(&calls).is_empty(), "{calls:#?}");
    assert!(
        calls.iter().all(|c| c["action"] == "ListCustomImages"),
        "{calls:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Adoption conflict

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_adopter_stalls_and_its_deletion_leaves_the_image() {
    let env = Env::start("conflict").await;
    let image_id = create_directly(&env, "shared-base", &[]).await;

    let first = env.create("first", adopting(&image_id, json!({}))).await;
    wait_available(&env, "first").await;
    let owner = uid(&first);
    assert_eq!(
        world_tags(&env, &image_id).await,
        tags(&[(OWNER_TAG, &owner)])
    );

    let from = env.audit_mark().await;
    env.create("second", adopting(&image_id, json!({}))).await;
    let stalled = wait_owned_by_another(&env, "second", &owner).await;
    assert!(stalled.status.as_ref().unwrap().image_id.is_none());
    assert_eq!(reasons(&env, "second").await, set(&["OwnedByAnother"]));

    // The second never changed the image: no tag, no share, no delete (its deletion looks
    // the image up, sees another owner's tag and leaves it).
    let calls = delete_leaves_the_image(&env, "second", from, &image_id, &owner).await;
    assert!(
        calls.iter().all(|c| c["action"] == "ListCustomImages"),
        "{calls:#?}"
    );
}

/// Waits until `name` stalls because the image belongs to `owner`, and checks that its
/// conditions say so and name the owner.
async fn wait_owned_by_another(env: &Env, name: &str, owner: &str) -> CustomImage {
    let stalled = wait_ready_is(env, name, "False", "OwnedByAnother").await;
    assert_conditions(
        &stalled,
        &[
            ("Ready", "False", "OwnedByAnother"),
            ("Stalled", "True", "OwnedByAnother"),
        ],
    );
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(
        message.contains(owner),
        "the message names the owner: {message}"
    );
    stalled
}

/// Deletes `name` and checks that, since `from`, nothing changed image `id` (still there,
/// still tagged as `owner`'s only) and that its owner `first` is still Ready. Returns the calls.
async fn delete_leaves_the_image(
    env: &Env,
    name: &str,
    from: u64,
    id: &str,
    owner: &str,
) -> Vec<Value> {
    env.delete(name).await;
    env.wait_gone(name, 30).await;
    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert!(mutations(&calls).is_empty(), "{calls:#?}");
    assert!(world_image(env, id).await["deleted_at"].is_null());
    assert_eq!(world_tags(env, id).await, tags(&[(OWNER_TAG, owner)]));
    let first = env.images().get("first").await.unwrap();
    assert_conditions(&first, &[("Ready", "True", "Available")]);
    calls
}

/// A resource whose status names an image it did not create (a backup restored beside its
/// original, or a world reset under a kept cluster) must not take that image over: a created
/// image is checked for its owner just as an adopted one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_image_of_another_resource_is_never_taken_over() {
    let env = Env::start("recorded-conflict").await;
    let first = env.create("first", from_source("first", json!({}))).await;
    let ready = wait_available(&env, "first").await;
    let image_id = ready.status.unwrap().image_id.unwrap();
    let owner = uid(&first);

    // The second starts paused, so its status can be made to name the first's image before
    // it ever looks at the cloud.
    let paused: CustomImage = serde_json::from_value(json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": "second", "annotations": { PAUSED_ANNOTATION: "true" } },
        "spec": from_source("second", json!({ "shareToEcs": true, "tags": { "team": "b" } })),
    }))
    .unwrap();
    env.images()
        .create(&Default::default(), &paused)
        .await
        .unwrap();
    wait_ready_is(&env, "second", "False", "Paused").await;
    let status = json!({ "status": { "imageId": image_id } });
    env.images()
        .patch_status(
            "second",
            &Default::default(),
            &kube::api::Patch::Merge(&status),
        )
        .await
        .unwrap();

    let from = env.audit_mark().await;
    annotate(&env, "second", PAUSED_ANNOTATION, Value::Null).await;
    wait_owned_by_another(&env, "second", &owner).await;
    assert!(reasons(&env, "second").await.contains("OwnedByAnother"));

    delete_leaves_the_image(&env, "second", from, &image_id, &owner).await;
    assert_eq!(world_image(&env, &image_id).await["in_share"], false);
}

// ---------------------------------------------------------------------------------------------
// 4. Share and unshare

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_and_unsharing_follow_the_spec() {
    let env = Env::start("share").await;
    env.create("web", from_source("web", json!({}))).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    let from = env.audit_mark().await;
    let spec = json!({ "spec": { "shareToEcs": true, "sharedAccounts": [BOB, ALICE] } });
    env.patch("web", spec).await;
    let shared = env
        .wait_for("web", 60, |o| {
            o.metadata.generation == Some(2)
                && condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && o.status.as_ref().is_some_and(|s| s.in_share)
        })
        .await;
    assert_conditions(&shared, &[("Ready", "True", "Available")]);
    let status = shared.status.as_ref().unwrap();
    assert!(status.in_share);
    assert_eq!(status.shared_accounts, [ALICE, BOB]);
    assert!(row_shared(&env).await);

    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        [
            "ModifyImageShareStatus Share",
            "AddCustomImageShareAccount",
            "ListCustomImages"
        ]
    );
    let share = only(&calls, "ModifyImageShareStatus");
    assert_eq!(share["params"]["ImageId"], image_id.as_str());
    let add = only(&calls, "AddCustomImageShareAccount");
    assert_eq!(add["params"]["ImageId"], image_id.as_str());
    assert_eq!(list_param(add, "Account"), [ALICE, BOB]);
    let image = world_image(&env, &image_id).await;
    assert_eq!(image["in_share"], true);
    let accounts: Vec<&String> = image["share_accounts"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(accounts, [ALICE, BOB]);

    let from = env.audit_mark().await;
    let spec = json!({ "spec": { "shareToEcs": false, "sharedAccounts": [] } });
    env.patch("web", spec).await;
    let unshared = env
        .wait_for("web", 60, |o| {
            o.metadata.generation == Some(3)
                && condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && o.status.as_ref().is_some_and(|s| !s.in_share)
        })
        .await;
    assert_conditions(&unshared, &[("Ready", "True", "Available")]);
    assert!(unshared.status.as_ref().unwrap().shared_accounts.is_empty());
    assert!(!row_shared(&env).await);

    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        [
            "ModifyImageShareStatus UnShare",
            "ListCustomImageShareAccounts",
            "RemoveCustomImageShareAccount",
            "ListCustomImages"
        ]
    );
    let remove = only(&calls, "RemoveCustomImageShareAccount");
    assert_eq!(remove["params"]["ImageId"], image_id.as_str());
    assert_eq!(list_param(remove, "Account"), [ALICE, BOB]);
    let image = world_image(&env, &image_id).await;
    assert_eq!(image["in_share"], false);
    assert_eq!(image["share_accounts"], json!({}));
    assert_eq!(reasons(&env, "web").await, set(&["Created", "Updated"]));
}

async fn row_shared(env: &Env) -> bool {
    printed(env, "web").await["Shared"].as_bool().unwrap()
}

// ---------------------------------------------------------------------------------------------
// 5. Drift, resync and reconcile-now

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_on_request_and_not_by_an_early_resync() {
    let env = Env::start("drift").await;
    let spec = from_source("web", json!({ "tags": { "team": "web", "env": "prod" } }));
    let created = env.create("web", spec).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    // Behind the operator's back: change, add and remove tags; share to ECS and an account.
    let client = swas(&env);
    let tag = TagResources {
        region_id: REGION.into(),
        resource_ids: vec![image_id.clone()],
        tags: vec![Tag::new("team", "ops"), Tag::new("extra", "1")],
        client_token: None,
    };
    client.call(&tag).await.unwrap();
    let untag = UntagResources {
        region_id: REGION.into(),
        resource_ids: vec![image_id.clone()],
        tag_keys: vec!["env".into()],
        all: None,
        client_token: None,
    };
    client.call(&untag).await.unwrap();
    let share = ModifyImageShareStatus {
        region_id: REGION.into(),
        image_id: image_id.clone(),
        operation: ShareOperation::Share,
        client_token: None,
    };
    client.call(&share).await.unwrap();
    let add = AddCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: image_id.clone(),
        accounts: vec![MALLORY.parse().unwrap()],
        client_token: None,
    };
    client.call(&add).await.unwrap();

    // The resync interval is 600 s: nothing looks at the image in the meantime, and an
    // unchanged resource is not written.
    assert_quiet(&env, "web", 3).await;

    let from = env.audit_mark().await;
    annotate(&env, "web", RECONCILE_ANNOTATION, json!("drift-1")).await;
    let corrected = env
        .wait_for("web", 60, |o| {
            o.status.as_ref().is_some_and(|s| {
                s.last_handled_reconcile_at.as_deref() == Some("drift-1") && !s.in_share
            }) && condition(o, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    assert_conditions(&corrected, &[("Ready", "True", "Available")]);
    assert!(
        corrected
            .status
            .as_ref()
            .unwrap()
            .shared_accounts
            .is_empty()
    );

    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        [
            "ListCustomImages",
            "UntagResources",
            "TagResources",
            "ModifyImageShareStatus UnShare",
            "ListCustomImageShareAccounts",
            "RemoveCustomImageShareAccount",
            "ListCustomImages"
        ]
    );
    lists_are(&calls, None);
    let untag = only(&calls, "UntagResources");
    assert_eq!(list_param(untag, "TagKey"), ["extra"]);
    let tag = only(&calls, "TagResources");
    assert_eq!(tag_params(tag), tags(&[("env", "prod"), ("team", "web")]));
    let remove = only(&calls, "RemoveCustomImageShareAccount");
    assert_eq!(list_param(remove, "Account"), [MALLORY]);

    let declared = tags(&[
        ("team", "web"),
        ("env", "prod"),
        (OWNER_TAG, &uid(&created)),
    ]);
    assert_eq!(world_tags(&env, &image_id).await, declared);
    let image = world_image(&env, &image_id).await;
    assert_eq!(image["in_share"], false);
    assert_eq!(image["share_accounts"], json!({}));
    assert_eq!(
        reasons(&env, "web").await,
        set(&["Created", "DriftCorrected"])
    );
}

// ---------------------------------------------------------------------------------------------
// 6-9. Deletion

/// Deletes `name` and waits until it is gone; returns the calls made meanwhile.
async fn delete_and_wait(env: &Env, name: &str) -> Vec<Value> {
    let from = env.audit_mark().await;
    env.delete(name).await;
    env.wait_gone(name, 60).await;
    env.audit_since(from).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_deletes_the_image_with_the_uid_then_releases_the_finalizer() {
    // Deleted images stay listed for a while, so the object is seen waiting for it.
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 300;
    config.behaviour.deletion_lag_ms = 1500;
    let env = Env::start_with("delete", config).await;
    let created = env.create("web", from_source("web", json!({}))).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    let from = env.audit_mark().await;
    env.delete("web").await;
    let waiting = env
        .wait_for("web", 30, |o| {
            condition(o, "Reconciling").is_some_and(|c| c.1 == "Deleting")
        })
        .await;
    // The image is deleted while the finalizer still holds the object.
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert!(waiting.finalizers().iter().any(|f| f == FINALIZER));
    assert_conditions(
        &waiting,
        &[
            ("Ready", "False", "Deleting"),
            ("Reconciling", "True", "Deleting"),
        ],
    );
    let status = waiting.status.as_ref().unwrap();
    assert_eq!(
        serde_json::to_value(status.state).unwrap(),
        json!("Deleting")
    );
    let early = sequence(&env.audit_since(from).await);
    assert_eq!(early[..2], ["ListCustomImages", "DeleteCustomImages"]);

    env.wait_gone("web", 60).await;
    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        ["ListCustomImages", "DeleteCustomImages", "ListCustomImages"]
    );
    lists_are(&calls, Some(&image_id));
    let delete = only(&calls, "DeleteCustomImages");
    assert_eq!(delete["clientToken"], uid(&created));
    assert_eq!(delete["params"]["ImageIds"], format!("[\"{image_id}\"]"));
    assert_deleted(&env, &image_id).await;
    assert_eq!(reasons(&env, "web").await, set(&["Created", "Deleting"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_shared_image_unshares_it_first() {
    let env = Env::start("delete-shared").await;
    let spec = from_source(
        "web",
        json!({ "shareToEcs": true, "sharedAccounts": [ALICE, BOB] }),
    );
    let created = env.create("web", spec).await;
    let ready = env
        .wait_for("web", 60, |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && o.status.as_ref().is_some_and(|s| s.in_share)
        })
        .await;
    assert_conditions(&ready, &[("Ready", "True", "Available")]);
    let image_id = ready.status.unwrap().image_id.unwrap();

    let calls = delete_and_wait(&env, "web").await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        [
            "ListCustomImages",
            "ModifyImageShareStatus UnShare",
            "ListCustomImageShareAccounts",
            "RemoveCustomImageShareAccount",
            "DeleteCustomImages",
            "ListCustomImages"
        ]
    );
    lists_are(&calls, Some(&image_id));
    let unshare = only(&calls, "ModifyImageShareStatus");
    assert_eq!(unshare["params"]["ImageId"], image_id.as_str());
    let listed = only(&calls, "ListCustomImageShareAccounts");
    assert_eq!(listed["params"]["ImageId"], image_id.as_str());
    let remove = only(&calls, "RemoveCustomImageShareAccount");
    assert_eq!(list_param(remove, "Account"), [ALICE, BOB]);
    let delete = only(&calls, "DeleteCustomImages");
    assert_eq!(delete["clientToken"], uid(&created));
    assert_eq!(delete["params"]["ImageIds"], format!("[\"{image_id}\"]"));
    assert_deleted(&env, &image_id).await;
    assert_eq!(
        reasons(&env, "web").await,
        set(&["Created", "Unshared", "Deleting"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_releases_the_finalizer_and_keeps_the_image() {
    let env = Env::start("retain").await;
    let spec = from_source("web", json!({ "deletionPolicy": "Retain" }));
    let created = env.create("web", spec).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    let calls = delete_and_wait(&env, "web").await;
    assert!(calls.is_empty(), "Retain makes no SWAS call: {calls:#?}");
    let image = world_image(&env, &image_id).await;
    assert!(image["deleted_at"].is_null(), "{image:#}");
    // Left untouched, ownership tag included.
    assert_eq!(
        world_tags(&env, &image_id).await,
        tags(&[(OWNER_TAG, &uid(&created))])
    );
    assert_eq!(reasons(&env, "web").await, set(&["Created", "Retained"]));

    // Adopting it again stalls on the old owner's tag, and the message says how to proceed.
    env.create("again", adopting(&image_id, json!({}))).await;
    let stalled = wait_ready_is(&env, "again", "False", "OwnedByAnother").await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains(OWNER_TAG), "{message}");
    let untag = UntagResources {
        region_id: REGION.into(),
        resource_ids: vec![image_id.clone()],
        tag_keys: vec![OWNER_TAG.into()],
        all: None,
        client_token: None,
    };
    swas(&env).call(&untag).await.unwrap();
    annotate(&env, "again", RECONCILE_ANNOTATION, json!("untagged")).await;
    let adopted = wait_available(&env, "again").await;
    assert_eq!(
        adopted.status.as_ref().unwrap().image_id.as_deref(),
        Some(image_id.as_str())
    );
    assert_eq!(
        world_tags(&env, &image_id).await,
        tags(&[(OWNER_TAG, &uid(&adopted))])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_after_the_image_is_already_gone_releases_the_finalizer() {
    let env = Env::start("delete-gone").await;
    let created = env.create("web", from_source("web", json!({}))).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    let gone = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: vec![image_id.clone()],
        client_token: Some("deleted-by-hand".into()),
    };
    swas(&env).call(&gone).await.unwrap();

    let calls = delete_and_wait(&env, "web").await;
    // A fresh lookup finds nothing. A delete answered "not found" would be acceptable too,
    // once; nothing else is.
    let (deletes, others): (Vec<Value>, Vec<Value>) = calls
        .into_iter()
        .partition(|c| c["action"] == "DeleteCustomImages");
    assert!(deletes.len() <= 1, "{deletes:#?}");
    for delete in &deletes {
        assert_eq!(delete["clientToken"], uid(&created));
        assert_eq!(delete["code"], "InvalidImageId.NotFound");
    }
    assert_eq!(sequence(&others), ["ListCustomImages"]);
    lists_are(&others, Some(&image_id));
    all_ok(&others);
    assert_eq!(reasons(&env, "web").await, set(&["Created"]));
    let warnings = env.events("web").await.into_iter();
    let warnings: Vec<_> = warnings
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

// ---------------------------------------------------------------------------------------------
// 10. Pause

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_resources_change_nothing_and_their_deletion_waits() {
    let env = Env::start("pause").await;
    let created = env.create("web", from_source("web", json!({}))).await;
    let ready = wait_available(&env, "web").await;
    let image_id = ready.status.unwrap().image_id.unwrap();

    let from = env.audit_mark().await;
    annotate(&env, "web", PAUSED_ANNOTATION, json!("true")).await;
    let paused = wait_ready_is(&env, "web", "False", "Paused").await;
    assert_conditions(&paused, &[("Ready", "False", "Paused")]);

    // A spec change while paused is observed (observedGeneration) but not acted on.
    let spec = json!({ "spec": { "shareToEcs": true, "tags": { "team": "web" } } });
    env.patch("web", spec).await;
    let paused = env
        .wait_for("web", 30, |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.observed_generation == Some(2))
        })
        .await;
    assert_conditions(&paused, &[("Ready", "False", "Paused")]);
    let calls = env.audit_since(from).await;
    assert!(calls.is_empty(), "no SWAS call while paused: {calls:#?}");
    assert_eq!(world_image(&env, &image_id).await["in_share"], false);

    // Deletion waits: the object stays, with its finalizer, and nothing is called.
    env.delete("web").await;
    let waiting = wait_ready_is(&env, "web", "False", "Paused").await;
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert!(waiting.finalizers().iter().any(|f| f == FINALIZER));
    assert_conditions(&waiting, &[("Ready", "False", "Paused")]);
    assert_quiet(&env, "web", 2).await;
    assert!(world_image(&env, &image_id).await["deleted_at"].is_null());

    // Unpaused, it is deleted (the unapplied share never happens).
    let from = env.audit_mark().await;
    annotate(&env, "web", PAUSED_ANNOTATION, Value::Null).await;
    env.wait_gone("web", 60).await;
    let calls = env.audit_since(from).await;
    all_ok(&calls);
    assert_eq!(
        sequence(&calls),
        ["ListCustomImages", "DeleteCustomImages", "ListCustomImages"]
    );
    lists_are(&calls, Some(&image_id));
    let delete = only(&calls, "DeleteCustomImages");
    assert_eq!(delete["clientToken"], uid(&created));
    assert_deleted(&env, &image_id).await;
    assert_eq!(reasons(&env, "web").await, set(&["Created", "Deleting"]));
}

// ---------------------------------------------------------------------------------------------
// 11. Reconcile-now

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_reconcile_request_is_acted_on_and_echoed() {
    let env = Env::start("reconcile-now").await;
    env.create("web", from_source("web", json!({}))).await;
    let ready = wait_available(&env, "web").await;
    let since_ready = condition_time(&ready);

    for token in ["2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z"] {
        let from = env.audit_mark().await;
        annotate(&env, "web", RECONCILE_ANNOTATION, json!(token)).await;
        let handled = env
            .wait_for("web", 30, |o| {
                o.status
                    .as_ref()
                    .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some(token))
            })
            .await;
        assert_conditions(&handled, &[("Ready", "True", "Available")]);
        assert_eq!(condition_time(&handled), since_ready, "Ready did not flap");
        // A fresh listing, nothing to correct.
        let calls = env.audit_since(from).await;
        all_ok(&calls);
        assert_eq!(sequence(&calls), ["ListCustomImages"]);
        lists_are(&calls, None);
    }
    assert_eq!(reasons(&env, "web").await, set(&["Created"]));
}

fn condition_time(object: &CustomImage) -> String {
    let status = object.status.as_ref().unwrap();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    format!("{:?}", ready.unwrap().last_transition_time)
}
