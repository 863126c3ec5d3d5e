//! Our SWAS client against the emulator: the whole image lifecycle in both signature schemes
//! with long-lived and temporary keys, the credential chain end to end, idempotency under lost
//! answers, throttling, clock and nonce checks, eventual consistency and persistence.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jiff::SignedDuration;
use swas_image_operator::emulator::EmulatorConfig;
use swas_image_operator::swas::credentials::*;
use swas_image_operator::swas::ops::*;
use swas_image_operator::swas::sign::{FixedNonce, SignableRequest, Signer, SystemClock};
use swas_image_operator::swas::{ErrorClass, SignatureVersion, SwasClient, SwasError, Tag};

fn create(name: &str, server: u32, token: Option<&str>) -> CreateCustomImage {
    CreateCustomImage {
        region_id: REGION.into(),
        instance_id: format!("{REGION}-server-{server}"),
        image_name: name.into(),
        system_snapshot_id: Some(format!("s-{REGION}-sys-{server}")),
        tags: vec![Tag::new("owner", "test")],
        client_token: token.map(str::to_string),
        ..Default::default()
    }
}

fn delete(ids: &[&str], token: &str) -> DeleteCustomImages {
    DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: ids.iter().map(|s| s.to_string()).collect(),
        client_token: Some(token.into()),
    }
}

async fn image(client: &SwasClient, id: &str) -> Option<CustomImage> {
    client
        .images_by_ids(REGION, &[id.to_string()])
        .await
        .unwrap()
        .into_iter()
        .next()
}

async fn wait_available(client: &SwasClient, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if image(client, id)
            .await
            .is_some_and(|i| i.status() == ImageStatus::Available)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never became available"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Create, observe, share both ways, tag, be refused deletion while shared, unshare, delete.
async fn lifecycle(client: &SwasClient) {
    let id = client
        .call(&create("lifecycle", 1, None))
        .await
        .unwrap()
        .image_id;
    wait_available(client, &id).await;

    let share = |operation| ModifyImageShareStatus {
        region_id: REGION.into(),
        image_id: id.clone(),
        operation,
        client_token: None,
    };
    client.call(&share(ShareOperation::Share)).await.unwrap();
    let accounts = AddCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: id.clone(),
        accounts: vec![1111, 2222],
        client_token: None,
    };
    client.call(&accounts).await.unwrap();
    let shared = image(client, &id).await.unwrap();
    assert!(shared.in_share && shared.in_share_user);
    let users = client.all_share_accounts(REGION, &id).await.unwrap();
    assert_eq!(
        users.iter().map(|u| u.user_id).collect::<Vec<_>>(),
        [1111, 2222]
    );

    let tag = TagResources {
        region_id: REGION.into(),
        resource_ids: vec![id.clone()],
        tags: vec![Tag::new("team", "web")],
        client_token: None,
    };
    client.call(&tag).await.unwrap();
    let list = ListTagResources {
        region_id: REGION.into(),
        resource_ids: vec![id.clone()],
        ..Default::default()
    };
    let pairs = client.call(&list).await.unwrap().tag_resources.tag_resource;
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    let untag = UntagResources {
        region_id: REGION.into(),
        resource_ids: vec![id.clone()],
        tag_keys: vec!["team".into()],
        ..Default::default()
    };
    client.call(&untag).await.unwrap();
    assert_eq!(
        image(client, &id).await.unwrap().tags,
        [Tag::new("owner", "test")]
    );

    let refused = client
        .call(&delete(&[&id], &format!("del-{id}")))
        .await
        .unwrap_err();
    assert_eq!(refused.class(), ErrorClass::InShare, "{refused}");
    client.call(&share(ShareOperation::UnShare)).await.unwrap();
    let refused = client
        .call(&delete(&[&id], &format!("del-{id}")))
        .await
        .unwrap_err();
    assert_eq!(
        refused.class(),
        ErrorClass::InShare,
        "account sharing also blocks deletion"
    );
    let remove = RemoveCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: id.clone(),
        accounts: vec![1111, 2222],
        client_token: None,
    };
    client.call(&remove).await.unwrap();
    client
        .call(&delete(&[&id], &format!("del-{id}")))
        .await
        .unwrap();
    assert!(image(client, &id).await.is_none());
    let gone = client
        .call(&delete(&[&id], &format!("again-{id}")))
        .await
        .unwrap_err();
    assert_eq!(gone.class(), ErrorClass::NotFound);
}

#[tokio::test]
async fn lifecycle_with_long_lived_keys_in_both_schemes() {
    let emulator = start_fast().await;
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        lifecycle(&client(&emulator.url(), version)).await;
    }
}

#[tokio::test]
async fn lifecycle_with_rrsa_keys_from_the_emulators_sts() {
    let emulator = start_fast().await;
    let env = MapEnvironment::from_pairs(&[
        (
            "ALIBABA_CLOUD_ROLE_ARN",
            "acs:ram::1234567890123456:role/operator",
        ),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            "acs:ram::1234567890123456:oidc-provider/ack",
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/token"),
    ]);
    let files = MapFileSystem::default();
    files.write("/token", "projected-jwt");
    let mut ctx = SourceContext::new(Arc::new(env), Arc::new(files));
    ctx.sts_endpoint = Some(format!("{}/sts", emulator.url()));
    let chain = Arc::new(DefaultChain::new(ctx));
    for version in [SignatureVersion::V3, SignatureVersion::V1] {
        let credentials = Arc::new(CachedProvider::new(chain.clone(), Arc::new(SystemClock)));
        lifecycle(&client_with(
            &emulator.url(),
            version,
            credentials,
            Arc::new(SystemClock),
        ))
        .await;
    }
}

#[tokio::test]
async fn lifecycle_with_the_ecs_role_from_the_emulators_metadata_service() {
    let emulator = start_fast().await;
    let mut ctx = SourceContext::new(
        Arc::new(MapEnvironment::default()),
        Arc::new(MapFileSystem::default()),
    );
    ctx.metadata_endpoint = emulator.url();
    let credentials = Arc::new(CachedProvider::new(
        Arc::new(DefaultChain::new(ctx)),
        Arc::new(SystemClock),
    ));
    let client = client_with(
        &emulator.url(),
        SignatureVersion::V3,
        credentials,
        Arc::new(SystemClock),
    );
    lifecycle(&client).await;
}

#[tokio::test]
async fn expired_temporary_keys_are_refused_and_refreshed() {
    let clock = manual_clock();
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 0;
    let emulator = start(config, clock.clone()).await;
    let mut ctx = SourceContext::new(
        Arc::new(MapEnvironment::default()),
        Arc::new(MapFileSystem::default()),
    );
    ctx.metadata_endpoint = emulator.url();
    ctx.clock = clock.clone();
    let source = Arc::new(EcsRamRoleProvider::new(ctx));
    let stale = source.provide().await.unwrap().unwrap();
    let client_stale = client_with(
        &emulator.url(),
        SignatureVersion::V3,
        Arc::new(StaticProvider::new(stale)),
        clock.clone(),
    );
    let cached = Arc::new(CachedProvider::new(source, clock.clone()));
    let client_fresh = client_with(&emulator.url(), SignatureVersion::V3, cached, clock.clone());
    let list = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    client_stale.call(&list).await.unwrap();

    clock.advance(SignedDuration::from_hours(2));
    let error = client_stale.call(&list).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some("InvalidSecurityToken.Expired"),
        "{error}"
    );
    assert_eq!(error.class(), ErrorClass::Auth);
    client_fresh.call(&list).await.unwrap();
}

#[tokio::test]
async fn a_lost_delete_answer_is_retried_with_the_same_token_and_deletes_once() {
    let emulator = start_fast().await;
    let client = client(&emulator.url(), SignatureVersion::V3);
    let id = client
        .call(&create("lost-delete", 1, None))
        .await
        .unwrap()
        .image_id;
    next_fault(&emulator.url(), "DeleteCustomImages", "drop").await;

    let lost = client.call(&delete(&[&id], "uid-1")).await.unwrap_err();
    assert_eq!(lost.class(), ErrorClass::Transport, "{lost}");
    assert!(image(&client, &id).await.is_none(), "the delete happened");
    client.call(&delete(&[&id], "uid-1")).await.unwrap();

    let audit = admin(&emulator.url(), "/admin/audit").await;
    let outcomes: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "DeleteCustomImages")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["dropped", "replayed"]);
}

#[tokio::test]
async fn a_lost_create_answer_is_retried_and_creates_one_image() {
    let emulator = start_fast().await;
    let client = client(&emulator.url(), SignatureVersion::V3);
    next_fault(&emulator.url(), "CreateCustomImage", "drop").await;
    let op = create("lost-create", 1, Some("uid-2"));
    assert_eq!(
        client.call(&op).await.unwrap_err().class(),
        ErrorClass::Transport
    );
    let id = client.call(&op).await.unwrap().image_id;
    let all = client.all_images(ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    });
    let all = all.await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.image_id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );

    let other = create("other-name", 1, Some("uid-2"));
    let mismatch = client.call(&other).await.unwrap_err();
    assert_eq!(mismatch.code(), Some("IdempotentParameterMismatch"));
    assert_eq!(mismatch.class(), ErrorClass::InvalidRequest);
}

#[tokio::test]
async fn injected_errors_and_throttling_are_classified() {
    let emulator = start_fast().await;
    let client = client(&emulator.url(), SignatureVersion::V3);
    let list = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    next_fault(&emulator.url(), "ListCustomImages", "error").await;
    let error = client.call(&list).await.unwrap_err();
    assert_eq!(
        (error.class(), error.code()),
        (ErrorClass::Server, Some("InternalError"))
    );

    next_fault(&emulator.url(), "ListCustomImages", "throttle").await;
    let error = client.call(&list).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Throttled);
    assert!(
        error
            .retry_after()
            .is_some_and(|d| d <= Duration::from_secs(1))
    );
    client.call(&list).await.unwrap();
}

#[tokio::test]
async fn skewed_clocks_and_reused_nonces_are_refused() {
    let emulator = start_fast().await;
    let clock = manual_clock();
    clock.advance(SignedDuration::from_mins(-20));
    let credentials = Arc::new(StaticProvider::new(Credential::new(AK, SECRET)));
    let late = client_with(&emulator.url(), SignatureVersion::V3, credentials, clock);
    let list = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    let error = late.call(&list).await.unwrap_err();
    assert_eq!(error.code(), Some("InvalidTimeStamp.Expired"));

    // The same signed request twice: the second reuses the nonce.
    let signer = Signer::with_sources(
        SignatureVersion::V1,
        Arc::new(SystemClock),
        Arc::new(FixedNonce("same".into())),
    );
    let mut v1 = client(&emulator.url(), SignatureVersion::V1)
        .build_request(&list)
        .unwrap()
        .1;
    signer.sign(&mut v1, &Credential::new(AK, SECRET));
    let send = |request: SignableRequest| {
        let url = format!("{}/", emulator.url());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .query(&request.query)
                .send()
                .await;
            let body: serde_json::Value = response.unwrap().json().await.unwrap();
            body["Code"].as_str().unwrap_or("").to_string()
        }
    };
    assert_eq!(send(v1.clone()).await, "");
    assert_eq!(send(v1).await, "SignatureNonceUsed");
}

#[tokio::test]
async fn new_images_appear_and_deleted_ones_linger_for_a_while() {
    let clock = manual_clock();
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 60_000;
    config.behaviour.visibility_lag_ms = 5_000;
    config.behaviour.deletion_lag_ms = 5_000;
    let emulator = start(config, clock.clone()).await;
    let credentials = Arc::new(StaticProvider::new(Credential::new(AK, SECRET)));
    let client = client_with(
        &emulator.url(),
        SignatureVersion::V3,
        credentials,
        clock.clone(),
    );

    let id = client
        .call(&create("lagging", 1, None))
        .await
        .unwrap()
        .image_id;
    assert!(image(&client, &id).await.is_none(), "not visible yet");
    clock.advance(SignedDuration::from_secs(6));
    assert_eq!(
        image(&client, &id).await.unwrap().status(),
        ImageStatus::Creating
    );
    clock.advance(SignedDuration::from_mins(1));
    assert_eq!(
        image(&client, &id).await.unwrap().status(),
        ImageStatus::Available
    );

    client.call(&delete(&[&id], "t")).await.unwrap();
    assert!(
        image(&client, &id).await.is_some(),
        "a deleted image lingers"
    );
    clock.advance(SignedDuration::from_secs(6));
    assert!(image(&client, &id).await.is_none());
}

#[tokio::test]
async fn batch_deletes_are_all_or_nothing_and_quota_is_enforced() {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 0;
    config.behaviour.image_quota = 3;
    let emulator = start(config, Arc::new(SystemClock)).await;
    let client = client(&emulator.url(), SignatureVersion::V3);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            client
                .call(&create(&format!("img-{n}"), 1, None))
                .await
                .unwrap()
                .image_id,
        );
    }
    let over = client.call(&create("img-3", 1, None)).await.unwrap_err();
    assert_eq!(over.code(), Some("QuotaExceeded.CustomImage"));

    let error = client
        .call(&delete(&[&ids[0], "m-unknown"], "b1"))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotFound);
    assert!(
        image(&client, &ids[0]).await.is_some(),
        "nothing deleted by a failed batch"
    );
    client
        .call(&delete(&[&ids[0], &ids[1], &ids[2]], "b2"))
        .await
        .unwrap();
    assert!(client.images_by_ids(REGION, &ids).await.unwrap().is_empty());
}

#[tokio::test]
async fn state_survives_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        state_file: Some(dir.path().join("state.json")),
        ..EmulatorConfig::default()
    };
    let first = start(config.clone(), Arc::new(SystemClock)).await;
    let id = client(&first.url(), SignatureVersion::V3)
        .call(&create("kept", 2, Some("keep-1")))
        .await
        .unwrap()
        .image_id;
    first.stop();

    let second = start(config, Arc::new(SystemClock)).await;
    let client = client(&second.url(), SignatureVersion::V3);
    assert_eq!(image(&client, &id).await.unwrap().name, "kept");
    let again = client
        .call(&create("kept", 2, Some("keep-1")))
        .await
        .unwrap();
    assert_eq!(again.image_id, id, "idempotency records survive too");
}

#[tokio::test]
async fn wrong_keys_are_auth_errors() {
    let emulator = start_fast().await;
    let list = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    for (id, secret, code) in [
        ("nobody", SECRET, "InvalidAccessKeyId.NotFound"),
        (AK, "wrong", "SignatureDoesNotMatch"),
    ] {
        let credentials = Arc::new(StaticProvider::new(Credential::new(id, secret)));
        let client = client_with(
            &emulator.url(),
            SignatureVersion::V3,
            credentials,
            Arc::new(SystemClock),
        );
        let error: SwasError = client.call(&list).await.unwrap_err();
        assert_eq!(
            (error.class(), error.code()),
            (ErrorClass::Auth, Some(code))
        );
    }
}
