//! Why this file exists: every rule the apiserver can enforce for a `CustomImage` lives in the
//! CRD schema (patterns, bounds, list types, CEL one-of and immutability rules), so a bad spec
//! must be refused by `kubectl apply` with a message a person can act on, before the
//! controller ever sees it. These tests send invalid specs (at create, and a few changes on
//! update) to a real kube-apiserver with the generated CRD and check that each is refused with
//! 422 and a message naming the rule or the field. No controller and no emulator are needed.

mod common;

use common::controlplane::{self, apply_crds, namespace};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use swas_image_operator::crd::CustomImage;

/// One invalid spec: a name (also the object's name), the spec and a substring the
/// apiserver's message must contain.
struct Case {
    name: &'static str,
    spec: Value,
    expect: &'static str,
}

fn case(name: &'static str, spec: Value, expect: &'static str) -> Case {
    Case { name, spec, expect }
}

/// The namespace's CustomImages, untyped so that specs the Rust types cannot hold still reach
/// the apiserver.
async fn images(prefix: &str) -> Api<DynamicObject> {
    let cp = controlplane::shared();
    apply_crds(cp);
    let client = cp.client().await;
    let ns = namespace(&client, prefix).await;
    Api::namespaced_with(client, &ns, &ApiResource::erase::<CustomImage>(&()))
}

fn object(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": name },
        "spec": spec,
    }))
    .unwrap()
}

/// A valid "create from source" spec with `changes` merged into it (`null` removes a key).
fn created(changes: Value) -> Value {
    let mut spec = json!({
        "regionId": "cn-hangzhou",
        "source": {
            "instanceId": "cn-hangzhou-server-1",
            "systemSnapshotId": "s-cn-hangzhou-sys-1",
        },
        "imageName": "web",
    });
    merge(&mut spec, changes);
    spec
}

/// A valid "adopt" spec with `changes` merged into it.
fn adopted(changes: Value) -> Value {
    let mut spec = json!({ "regionId": "cn-hangzhou", "imageId": "m-adopted1" });
    merge(&mut spec, changes);
    spec
}

/// JSON merge patch (RFC 7386) of `patch` into `target`.
fn merge(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            let map = target.as_object_mut().unwrap();
            for (key, value) in fields {
                if value.is_null() {
                    map.remove(&key);
                } else {
                    merge(map.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other,
    }
}

/// `n` distinct tags `k0..k{n-1}`.
fn tags(n: usize) -> Value {
    (0..n).map(|i| (format!("k{i}"), json!("v"))).collect()
}

/// `n` distinct valid account IDs.
fn accounts(n: usize) -> Value {
    (0..n)
        .map(|i| json!(format!("10000000000000{i:02}")))
        .collect()
}

fn create_cases() -> Vec<Case> {
    vec![
        // One-of: adopt or create.
        case(
            "neither-image-id-nor-source",
            json!({ "regionId": "cn-hangzhou" }),
            "set exactly one of imageId (adopt an existing image) or source (create one)",
        ),
        case(
            "null-image-id-counts-as-unset",
            json!({ "regionId": "cn-hangzhou", "imageId": null }),
            "set exactly one of imageId",
        ),
        case(
            "both-image-id-and-source",
            created(json!({ "imageId": "m-abc" })),
            "set exactly one of imageId",
        ),
        case(
            "source-without-image-name",
            created(json!({ "imageName": null })),
            "imageName is required when creating from source",
        ),
        case(
            "image-name-without-source",
            adopted(json!({ "imageName": "web" })),
            "imageName and description only apply when creating from source",
        ),
        case(
            "description-without-source",
            adopted(json!({ "description": "hello" })),
            "imageName and description only apply when creating from source",
        ),
        // regionId.
        case(
            "missing-region-id",
            json!({ "imageId": "m-abc" }),
            "spec.regionId: Required value",
        ),
        case(
            "region-id-bad-pattern",
            adopted(json!({ "regionId": "CN_Hangzhou" })),
            "spec.regionId in body should match",
        ),
        case(
            "region-id-without-dash",
            adopted(json!({ "regionId": "hangzhou" })),
            "spec.regionId in body should match",
        ),
        case(
            "region-id-too-long",
            adopted(json!({ "regionId": format!("cn-{}", "a".repeat(62)) })),
            "spec.regionId: Too long",
        ),
        // imageId.
        case(
            "image-id-bad-pattern",
            adopted(json!({ "imageId": "-m-abc" })),
            "spec.imageId in body should match",
        ),
        case(
            "image-id-too-long",
            adopted(json!({ "imageId": format!("m-{}", "a".repeat(63)) })),
            "spec.imageId in body should match",
        ),
        // source.
        case(
            "source-empty-instance-id",
            created(json!({ "source": { "instanceId": "" } })),
            "spec.source.instanceId in body should be at least 1 chars long",
        ),
        case(
            "source-empty-system-snapshot-id",
            created(json!({ "source": { "systemSnapshotId": "" } })),
            "spec.source.systemSnapshotId in body should be at least 1 chars long",
        ),
        case(
            "source-empty-data-snapshot-id",
            created(json!({ "source": { "dataSnapshotId": "" } })),
            "spec.source.dataSnapshotId in body should be at least 1 chars long",
        ),
        case(
            "source-missing-system-snapshot-id",
            created(json!({ "source": { "systemSnapshotId": null } })),
            "spec.source.systemSnapshotId: Required value",
        ),
        case(
            "source-instance-id-too-long",
            created(json!({ "source": { "instanceId": "i".repeat(65) } })),
            "spec.source.instanceId: Too long",
        ),
        case(
            "source-not-an-object",
            json!({ "regionId": "cn-hangzhou", "source": "server-1", "imageName": "web" }),
            "spec.source: Invalid value",
        ),
        // imageName and description.
        case(
            "image-name-too-long",
            created(json!({ "imageName": format!("w{}", "e".repeat(128)) })),
            "spec.imageName in body should match",
        ),
        case(
            "image-name-one-character",
            created(json!({ "imageName": "w" })),
            "spec.imageName in body should match",
        ),
        case(
            "image-name-bad-characters",
            created(json!({ "imageName": "web image!" })),
            "spec.imageName in body should match",
        ),
        case(
            "image-name-starts-with-dash",
            created(json!({ "imageName": "-web" })),
            "spec.imageName in body should match",
        ),
        case(
            "description-too-long",
            created(json!({ "description": "d".repeat(257) })),
            "spec.description: Too long",
        ),
        // deletionPolicy and shareToEcs.
        case(
            "deletion-policy-unknown",
            created(json!({ "deletionPolicy": "Sometimes" })),
            "spec.deletionPolicy: Unsupported value: \"Sometimes\"",
        ),
        case(
            "deletion-policy-lowercase",
            created(json!({ "deletionPolicy": "delete" })),
            "Unsupported value",
        ),
        case(
            "share-to-ecs-not-a-boolean",
            created(json!({ "shareToEcs": "yes" })),
            "spec.shareToEcs in body must be of type boolean",
        ),
        // sharedAccounts.
        case(
            "eleven-shared-accounts",
            created(json!({ "sharedAccounts": accounts(11) })),
            "spec.sharedAccounts: Too many: 11: must have at most 10 items",
        ),
        case(
            "shared-account-not-digits",
            created(json!({ "sharedAccounts": ["12ab"] })),
            "spec.sharedAccounts[0] in body should match '^[0-9]{1,20}$'",
        ),
        case(
            "shared-account-too-long",
            created(json!({ "sharedAccounts": ["1".repeat(21)] })),
            "spec.sharedAccounts[0] in body should match",
        ),
        case(
            "shared-account-empty",
            created(json!({ "sharedAccounts": [""] })),
            "spec.sharedAccounts[0] in body should match",
        ),
        case(
            "duplicate-shared-accounts",
            created(json!({ "sharedAccounts": ["1234567", "1234567"] })),
            "spec.sharedAccounts[1]: Duplicate value: \"1234567\"",
        ),
        case(
            "shared-account-a-number",
            created(json!({ "sharedAccounts": [1234567] })),
            "spec.sharedAccounts[0] in body must be of type string",
        ),
        // tags.
        case(
            "twenty-tags",
            created(json!({ "tags": tags(20) })),
            "spec.tags: Too many: 20: must have at most 19 items",
        ),
        case(
            "reserved-owner-tag",
            created(json!({ "tags": { "swas.image-operator.dev/owner-uid": "x" } })),
            "the tag swas.image-operator.dev/owner-uid is reserved for the operator",
        ),
        case(
            "tag-key-starts-with-acs",
            created(json!({ "tags": { "acs:team": "web" } })),
            "tag keys are 1 to 64 characters, must not start with acs: or aliyun",
        ),
        case(
            "tag-key-starts-with-aliyun",
            created(json!({ "tags": { "aliyun-team": "web" } })),
            "must not start with acs: or aliyun",
        ),
        case(
            "tag-key-contains-url",
            created(json!({ "tags": { "see-https://example.com": "web" } })),
            "and must not contain URLs",
        ),
        case(
            "tag-key-empty",
            created(json!({ "tags": { "": "web" } })),
            "tag keys are 1 to 64 characters",
        ),
        case(
            "tag-key-too-long",
            created(json!({ "tags": { "k".repeat(65): "web" } })),
            "tag keys are 1 to 64 characters",
        ),
        case(
            "tag-value-contains-http-url",
            created(json!({ "tags": { "docs": "http://example.com" } })),
            "tag values must not contain URLs",
        ),
        case(
            "tag-value-too-long",
            created(json!({ "tags": { "team": "v".repeat(65) } })),
            "spec.tags.team: Too long",
        ),
        case(
            "tag-value-not-a-string",
            created(json!({ "tags": { "replicas": 3 } })),
            "spec.tags.replicas in body must be of type string",
        ),
        // credentialsSecretRef.
        case(
            "credentials-secret-ref-empty-name",
            created(json!({ "credentialsSecretRef": { "name": "" } })),
            "spec.credentialsSecretRef.name in body should be at least 1 chars long",
        ),
        case(
            "credentials-secret-ref-without-name",
            created(json!({ "credentialsSecretRef": {} })),
            "spec.credentialsSecretRef.name: Required value",
        ),
        // The whole spec.
        case(
            "spec-not-an-object",
            json!("cn-hangzhou"),
            "spec: Invalid value",
        ),
    ]
}

/// Whether `result` is a 422 whose message contains `expect`; otherwise why not.
fn check<T>(name: &str, result: Result<T, kube::Error>, expect: &str) -> Option<String> {
    match result {
        Ok(_) => Some(format!(
            "{name}: accepted, expected a rejection with {expect:?}"
        )),
        Err(kube::Error::Api(status)) if status.code == 422 && status.message.contains(expect) => {
            None
        }
        Err(kube::Error::Api(status)) => Some(format!(
            "{name}: HTTP {} {:?}\n  expected a 422 containing {expect:?}",
            status.code, status.message
        )),
        Err(other) => Some(format!("{name}: {other}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_rejected_at_create_with_readable_messages() {
    let api = images("invalid").await;
    let cases = create_cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for Case { name, spec, expect } in cases {
        let result = api
            .create(&PostParams::default(), &object(name, spec))
            .await;
        failures.extend(check(name, result, expect));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let left = api.list(&Default::default()).await.unwrap();
    assert!(left.items.is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_specs_near_the_limits_are_accepted() {
    let api = images("valid").await;
    let specs = [
        ("minimal-adopt", adopted(json!({}))),
        ("minimal-create", created(json!({}))),
        (
            "at-every-limit",
            created(json!({
                "regionId": format!("cn-{}", "a".repeat(61)),
                "source": {
                    "dataSnapshotId": "s-cn-hangzhou-data-1",
                    "instanceId": "i".repeat(64),
                },
                "imageName": format!("w{}", "e".repeat(127)),
                "description": "d".repeat(256),
                "shareToEcs": true,
                "sharedAccounts": accounts(10),
                "tags": tags(19),
                "deletionPolicy": "Retain",
                "credentialsSecretRef": { "name": "swas-keys" },
            })),
        ),
        (
            "unicode-image-name",
            created(json!({ "imageName": "镜像-web_1.0:stable" })),
        ),
        (
            "long-tag-key-and-value",
            created(json!({ "tags": { "k".repeat(64): "v".repeat(64), "empty": "" } })),
        ),
        (
            "explicit-nulls-are-unset",
            created(json!({}))
                .as_object()
                .cloned()
                .map_or(Value::Null, |mut spec| {
                    spec.insert("imageId".into(), Value::Null);
                    spec.insert("credentialsSecretRef".into(), Value::Null);
                    Value::Object(spec)
                }),
        ),
        (
            "adopt-with-everything-else",
            adopted(json!({
                "imageId": format!("m{}", "a".repeat(63)),
                "sharedAccounts": ["1", "99999999999999999999"],
                "deletionPolicy": "Delete",
            })),
        ),
    ];
    for (name, spec) in specs {
        let stored = match api
            .create(&PostParams::default(), &object(name, spec))
            .await
        {
            Ok(stored) => stored,
            Err(e) => panic!("{name} was refused: {e}"),
        };
        // Whatever the apiserver accepts, the controller's types can read.
        let typed = serde_json::from_value::<CustomImage>(serde_json::to_value(&stored).unwrap());
        assert!(typed.is_ok(), "{name}: {typed:?}");
    }
}

/// Merge-patches `name`.
async fn patch(api: &Api<DynamicObject>, name: &str, patch: Value) -> Result<(), kube::Error> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_fields_and_the_mode_cannot_change_on_update() {
    let api = images("immutable").await;
    let post = PostParams::default();
    let with_description = created(json!({ "description": "first" }));
    api.create(&post, &object("create", with_description))
        .await
        .unwrap();
    api.create(&post, &object("plain", created(json!({}))))
        .await
        .unwrap();
    api.create(&post, &object("adopt", adopted(json!({}))))
        .await
        .unwrap();

    let source = json!({ "instanceId": "cn-hangzhou-server-2", "systemSnapshotId": "s-2" });
    let updates = [
        (
            "adopt",
            json!({ "spec": { "regionId": "cn-beijing" } }),
            "regionId is immutable",
        ),
        (
            "create",
            json!({ "spec": { "regionId": "cn-shanghai" } }),
            "regionId is immutable",
        ),
        (
            "adopt",
            json!({ "spec": { "imageId": "m-other" } }),
            "imageId is immutable",
        ),
        (
            "create",
            json!({ "spec": { "imageName": "web2" } }),
            "imageName is immutable: SWAS cannot rename an image",
        ),
        (
            "create",
            json!({ "spec": { "source": source.clone() } }),
            "source is immutable: SWAS cannot rebuild an image in place",
        ),
        (
            "create",
            json!({ "spec": { "source": { "dataSnapshotId": "s-cn-hangzhou-data-1" } } }),
            "source is immutable",
        ),
        (
            "create",
            json!({ "spec": { "description": "second" } }),
            "description is immutable: SWAS cannot change an image's description",
        ),
        (
            "create",
            json!({ "spec": { "description": null } }),
            "description is immutable",
        ),
        (
            "plain",
            json!({ "spec": { "description": "added later" } }),
            "description is immutable",
        ),
        (
            "adopt",
            json!({ "spec": { "imageId": null, "source": source, "imageName": "web" } }),
            "cannot switch between adopting (imageId) and creating (source)",
        ),
        (
            "create",
            json!({ "spec": {
                "imageId": "m-adopted1", "source": null, "imageName": null, "description": null,
            } }),
            "cannot switch between adopting (imageId) and creating (source)",
        ),
        (
            "create",
            json!({ "spec": { "imageName": null } }),
            "imageName is required when creating from source",
        ),
        (
            "adopt",
            json!({ "spec": { "sharedAccounts": accounts(11) } }),
            "must have at most 10 items",
        ),
    ];
    let mut failures = Vec::new();
    for (name, change, expect) in updates {
        let result = patch(&api, name, change.clone()).await;
        failures.extend(check(&format!("{name} {change}"), result, expect));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What may change does change.
    let allowed = json!({ "spec": {
        "shareToEcs": true,
        "sharedAccounts": ["1234567"],
        "tags": { "team": "web" },
        "deletionPolicy": "Retain",
        "credentialsSecretRef": { "name": "swas-keys" },
    } });
    patch(&api, "create", allowed.clone()).await.unwrap();
    patch(&api, "adopt", allowed).await.unwrap();
    let adopt = api.get("adopt").await.unwrap();
    assert_eq!(adopt.data["spec"]["imageId"], "m-adopted1");
    assert_eq!(adopt.data["spec"]["deletionPolicy"], "Retain");
}
