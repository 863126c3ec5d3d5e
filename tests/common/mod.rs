//! Shared helpers of the integration tests: an in-process SWAS emulator and clients for it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use swas_image_operator::emulator::{self, EmulatorConfig, Running};
use swas_image_operator::swas::credentials::{Credential, ProvideCredential, StaticProvider};
use swas_image_operator::swas::sign::{Clock, ManualClock, RandomNonce, Signer, SystemClock};
use swas_image_operator::swas::{ClientConfig, Endpoint, SignatureVersion, SwasClient};

/// The emulator's default key.
pub const AK: &str = "emulator-ak";
/// Its secret.
pub const SECRET: &str = "emulator-secret";
/// The region tests use.
pub const REGION: &str = "cn-hangzhou";

/// Starts an emulator on a free port with the given clock.
pub async fn start(config: EmulatorConfig, clock: Arc<dyn Clock>) -> Running {
    let addr = "127.0.0.1:0".parse().unwrap();
    emulator::start_with_clock(config, addr, clock)
        .await
        .expect("emulator starts")
}

/// Starts an emulator with the system clock and images that are ready at once.
pub async fn start_fast() -> Running {
    let mut config = EmulatorConfig::default();
    config.behaviour.create_delay_ms = 0;
    start(config, Arc::new(SystemClock)).await
}

/// A manual clock at the current time.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(jiff::Timestamp::now()))
}

/// A client for the emulator with the given scheme, credentials and clock.
pub fn client_with(
    url: &str,
    version: SignatureVersion,
    credentials: Arc<dyn ProvideCredential>,
    clock: Arc<dyn Clock>,
) -> SwasClient {
    let config = ClientConfig {
        endpoint: Endpoint::Custom(url.to_string()),
        signature_version: version,
        read_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let signer = Signer::with_sources(version, clock, Arc::new(RandomNonce));
    SwasClient::with_signer(config, credentials, signer).unwrap()
}

/// A client with the default key and the system clock.
pub fn client(url: &str, version: SignatureVersion) -> SwasClient {
    let credentials = Arc::new(StaticProvider::new(Credential::new(AK, SECRET)));
    client_with(url, version, credentials, Arc::new(SystemClock))
}

/// GETs an admin endpoint as JSON.
pub async fn admin(url: &str, path: &str) -> serde_json::Value {
    reqwest::get(format!("{url}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs a one-shot fault rule.
pub async fn next_fault(url: &str, action: &str, kind: &str) {
    let rule = serde_json::json!({ "action": action, "kind": kind, "count": 1 });
    let response = reqwest::Client::new()
        .post(format!("{url}/admin/faults/next"))
        .json(&rule)
        .send()
        .await;
    assert!(response.unwrap().status().is_success());
}

/// Polls `check` every 100 ms until it yields a value; fails with `what` after `seconds`.
pub async fn eventually<T, F>(seconds: u64, what: &str, mut check: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub mod chaos;
pub mod controlplane;
pub mod operator;
pub mod process;
