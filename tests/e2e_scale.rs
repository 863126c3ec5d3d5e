//! Observation is batched per region: with 300 resources, one resync costs ceil(300/100)
//! ListCustomImages calls and nothing else, and an unchanged resource causes no status write.
//! Counts come from the emulator's audit log and the objects' resourceVersions.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::operator::{Env, condition, test_settings};
use serde_json::json;
use swas_image_operator::emulator::EmulatorConfig;

const N: usize = 300;
const RESYNC: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_resources_cost_three_list_calls_per_resync() {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 0;
    config.behaviour.image_quota = 1000;
    let settings = swas_image_operator::controller::context::Settings {
        resync: RESYNC,
        ..test_settings()
    };
    let env = Env::start_tuned("scale", config, settings).await;

    for n in 0..N {
        let server = n % 3 + 1;
        env.create(
            &format!("img-{n}"),
            json!({
                "regionId": "cn-hangzhou",
                "source": {
                    "instanceId": format!("cn-hangzhou-server-{server}"),
                    "systemSnapshotId": format!("s-cn-hangzhou-sys-{server}"),
                },
                "imageName": format!("img-{n}"),
            }),
        )
        .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let versions = loop {
        let list = env.images().list(&Default::default()).await.unwrap().items;
        let ready = list
            .iter()
            .filter(|o| condition(o, "Ready").is_some_and(|c| c.0 == "True"));
        if ready.count() == N {
            break list
                .iter()
                .map(|o| (o.metadata.name.clone(), o.metadata.resource_version.clone()))
                .collect::<BTreeMap<_, _>>();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all {N} resources became Ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(env.calls("CreateCustomImage").await.len(), N);

    // Watch three resync intervals of steady state.
    let start = env
        .audit()
        .await
        .last()
        .map(|e| e["seq"].as_u64().unwrap())
        .unwrap_or(0);
    let window = RESYNC * 3;
    let began = tokio::time::Instant::now();
    let mut listed = Vec::new();
    while began.elapsed() < window {
        let log = common::admin(&env.url(), &format!("/admin/audit?since={start}")).await;
        listed = log.as_array().unwrap().clone();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let others: Vec<_> = listed
        .iter()
        .filter(|e| e["action"] != "ListCustomImages")
        .collect();
    assert!(
        others.is_empty(),
        "steady state makes only list calls: {others:#?}"
    );
    assert!(
        listed.iter().all(|e| e["params"].get("ImageIds").is_none()),
        "region listings"
    );
    let pages = N.div_ceil(100);
    let intervals = window.as_secs_f64() / RESYNC.as_secs_f64();
    let most = pages * (intervals.ceil() as usize + 1);
    assert!(
        (pages..=most).contains(&listed.len()),
        "{} list calls over {intervals} resyncs of {N} resources; expected {pages} per resync \
         (at most {most}); a per-object observer would make {}",
        listed.len(),
        N * intervals.ceil() as usize
    );

    let after = env.images().list(&Default::default()).await.unwrap().items;
    let changed: Vec<_> = after
        .iter()
        .filter(|o| versions.get(&o.metadata.name) != Some(&o.metadata.resource_version))
        .map(|o| o.metadata.name.clone())
        .collect();
    assert!(
        changed.is_empty(),
        "unchanged resources were written: {changed:?}"
    );
}
