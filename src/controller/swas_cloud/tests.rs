//! [`SwasCloud`] against the in-process emulator: how fresh lookups share calls.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::emulator::{self, EmulatorConfig, Running};
use crate::swas::Endpoint;
use crate::swas::credentials::Credential;

const REGION: &str = "cn-hangzhou";

async fn cloud_on_emulator(calls_per_second: u32) -> (Running, Arc<SwasCloud>) {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 0;
    let addr = "127.0.0.1:0".parse().expect("loopback address");
    let running = emulator::start(config, addr)
        .await
        .expect("emulator starts");
    let client = ClientConfig {
        endpoint: Endpoint::Custom(running.url()),
        ..Default::default()
    };
    let keys = Credential::new("emulator-ak", "emulator-secret");
    let cloud = SwasCloud::new(
        client,
        Arc::new(StaticProvider::new(keys)),
        calls_per_second,
    );
    (running, Arc::new(cloud))
}

fn calls_of(running: &Running, action: &str) -> usize {
    let audit = running.emulator.audit.lock().expect("audit log");
    audit.since(0).iter().filter(|e| e.action == action).count()
}

async fn new_image(cloud: &SwasCloud) -> String {
    let image = NewImage {
        name: "lookup-test".into(),
        description: None,
        instance_id: format!("{REGION}-server-1"),
        system_snapshot_id: format!("s-{REGION}-sys-1"),
        data_snapshot_id: None,
        tags: vec![],
        client_token: "lookup-test".into(),
    };
    cloud
        .create(&Account::Default, REGION, image)
        .await
        .expect("image created")
}

/// Twenty lookups arriving one every 50 ms (twenty separate windows) at 2 calls per second:
/// each call answers every lookup that arrived while it waited for its turn, so the stream
/// costs a handful of calls, not twenty, and every lookup still gets its own answer.
#[tokio::test]
async fn lookups_arriving_while_the_quota_is_busy_share_calls() {
    let (running, cloud) = cloud_on_emulator(2).await;
    let id = new_image(&cloud).await;

    let mut arrivals = tokio::time::interval(Duration::from_millis(50));
    let mut lookups = Vec::new();
    for n in 0..20 {
        arrivals.tick().await;
        let cloud = cloud.clone();
        let wanted = match n % 2 {
            0 => id.clone(),
            _ => format!("m-unknown{n:02}"),
        };
        lookups.push(tokio::spawn(async move {
            let found = cloud.lookup(&Account::Default, REGION, &wanted).await;
            (wanted, found)
        }));
    }
    for lookup in lookups {
        let (wanted, found) = lookup.await.expect("lookup task");
        let found = found.expect("lookup answered").map(|image| image.id);
        assert_eq!(
            found,
            (wanted == id).then(|| id.clone()),
            "lookup of {wanted}"
        );
    }

    let calls = calls_of(&running, "ListCustomImages");
    assert!(
        calls <= 6,
        "20 lookups over 1 s at 2 calls/s made {calls} ListCustomImages calls"
    );
}

/// A lookup with the quota idle is not held back beyond the window: one lookup, one call.
#[tokio::test]
async fn a_lone_lookup_makes_one_call() {
    let (running, cloud) = cloud_on_emulator(10).await;
    let id = new_image(&cloud).await;
    let found = cloud
        .lookup(&Account::Default, REGION, &id)
        .await
        .expect("lookup answered");
    assert_eq!(found.map(|image| image.id), Some(id));
    assert_eq!(calls_of(&running, "ListCustomImages"), 1);
}
