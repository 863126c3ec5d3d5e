//! Share accounts swapped outside the operator. A region listing says whether an image has
//! share accounts (`InShareUser`) but not which, so a swap that keeps some accounts is invisible
//! to it; the periodic share audit lists the accounts of each such image once per interval and
//! puts the declared ones back. Checked end to end on the real control plane and the emulator.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::operator::{Env, condition, test_settings};
use common::{REGION, eventually};
use jiff::Timestamp;
use serde_json::{Value, json};
use swas_image_operator::controller::context::Settings;
use swas_image_operator::emulator::EmulatorConfig;
use swas_image_operator::swas::SignatureVersion;
use swas_image_operator::swas::ops::{AddCustomImageShareAccount, RemoveCustomImageShareAccount};

const ALICE: &str = "1111111111111111";
const BOB: &str = "2222222222222222";
const MALLORY: &str = "3333333333333333";

const AUDIT: Duration = Duration::from_secs(3);

/// The accounts the emulator holds for `id`, sorted.
async fn world_accounts(env: &Env, id: &str) -> Vec<String> {
    let image = &env.world().await["images"][id];
    let accounts = image["share_accounts"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    accounts.keys().cloned().collect()
}

fn accounts_param(call: &Value) -> Vec<String> {
    (1..)
        .map_while(|n| call["params"][format!("Account.{n}")].as_str())
        .map(str::to_string)
        .collect()
}

fn arrival(call: &Value) -> Timestamp {
    call["time"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_share_accounts_are_restored_by_the_periodic_audit() {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 300;
    let settings = Settings {
        resync: Duration::from_secs(1),
        share_audit: Some(AUDIT),
        ..test_settings()
    };
    let env = Env::start_tuned("share-audit", config, settings).await;
    let spec = json!({
        "regionId": REGION,
        "source": {
            "instanceId": "cn-hangzhou-server-1",
            "systemSnapshotId": "s-cn-hangzhou-sys-1",
        },
        "imageName": "web",
        "sharedAccounts": [ALICE, BOB],
    });
    env.create("web", spec).await;
    let ready = env
        .wait_for("web", 60, |o| {
            condition(o, "Ready").is_some_and(|c| c.0 == "True")
                && o.status
                    .as_ref()
                    .is_some_and(|s| s.shared_accounts == [ALICE, BOB])
        })
        .await;
    let image_id = ready.status.unwrap().image_id.unwrap();
    assert_eq!(world_accounts(&env, &image_id).await, [ALICE, BOB]);

    // Behind the operator's back: Bob out, Mallory in. The image still has share accounts, so
    // every region listing looks the same as before.
    let client = common::client(&env.url(), SignatureVersion::V3);
    let from = env.audit_mark().await;
    let remove = RemoveCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: image_id.clone(),
        accounts: vec![BOB.parse().unwrap()],
        client_token: None,
    };
    client.call(&remove).await.unwrap();
    let add = AddCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: image_id.clone(),
        accounts: vec![MALLORY.parse().unwrap()],
        client_token: None,
    };
    client.call(&add).await.unwrap();

    // The audit finds the swap and undoes it, with no spec change and no reconcile request.
    eventually(30, "the swapped accounts were never restored", || async {
        (world_accounts(&env, &image_id).await == [ALICE, BOB]).then_some(())
    })
    .await;
    eventually(30, "no DriftCorrected event", || async {
        let reasons = env.event_reasons("web").await;
        reasons.iter().any(|r| r == "DriftCorrected").then_some(())
    })
    .await;

    // The operator's calls: everything after `from` but region listings and the two above
    // (the operator never removes Bob nor adds Mallory). An audit may fall between the two
    // calls above; either way the operator lists, then removes Mallory and adds Bob (in one audit
    // it removes first, to stay within the 10-account limit).
    let ours = |c: &Value| {
        (c["action"] == "RemoveCustomImageShareAccount" && accounts_param(c) == [BOB])
            || (c["action"] == "AddCustomImageShareAccount" && accounts_param(c) == [MALLORY])
    };
    let calls = env.audit_since(from).await;
    assert_eq!(calls.iter().filter(|c| ours(c)).count(), 2, "{calls:#?}");
    let operator: Vec<&Value> = calls
        .iter()
        .filter(|c| c["action"] != "ListCustomImages" && !ours(c))
        .collect();
    for call in &operator {
        assert_eq!(call["outcome"], "ok", "{call:#}");
        assert_eq!(call["params"]["ImageId"], image_id.as_str(), "{call:#}");
    }
    assert_eq!(operator[0]["action"], "ListCustomImageShareAccounts");
    let changes: BTreeSet<(&str, Vec<String>)> = operator
        .iter()
        .filter(|c| c["action"] != "ListCustomImageShareAccounts")
        .map(|c| (c["action"].as_str().unwrap(), accounts_param(c)))
        .collect();
    let expected = BTreeSet::from([
        ("RemoveCustomImageShareAccount", vec![MALLORY.to_string()]),
        ("AddCustomImageShareAccount", vec![BOB.to_string()]),
    ]);
    assert_eq!(changes, expected);

    // Audits keep coming once per interval, not once per resync: wait for two more, then check
    // the spacing of all of them.
    let audits = eventually(30, "audits stopped", || async {
        let audits: Vec<Value> = env
            .audit_since(from)
            .await
            .into_iter()
            .filter(|c| c["action"] == "ListCustomImageShareAccounts")
            .collect();
        (audits.len() >= 3).then_some(audits)
    })
    .await;
    for pair in audits.windows(2) {
        let gap = arrival(&pair[1]).duration_since(arrival(&pair[0]));
        assert!(
            gap.as_secs_f64() >= AUDIT.as_secs_f64() - 0.05,
            "audits {gap:?} apart with a {AUDIT:?} interval"
        );
    }
    let listed = ["ListCustomImages", "ListCustomImageShareAccounts"];
    let mutations = env
        .audit_since(from)
        .await
        .into_iter()
        .filter(|c| !listed.contains(&c["action"].as_str().unwrap()))
        .count();
    assert_eq!(
        mutations, 4,
        "the swap and its one correction, nothing since"
    );
    assert_eq!(world_accounts(&env, &image_id).await, [ALICE, BOB]);
}
