//! A local SWAS OpenAPI emulator, so the operator can be tested, demonstrated and tried
//! without an Alibaba Cloud account.
//!
//! It verifies signatures (V1 and V3, STS tokens, clock skew, nonce replay), keeps images per
//! account and region with their sharing and tags, honours `ClientToken` idempotency, models
//! eventual consistency, and injects faults on demand. Error codes, statuses and messages are
//! the service's own where they are documented (DeleteCustomImages' are authoritative); where
//! they are not, the emulator follows the common Alibaba conventions and says so in
//! [`error`]. Every call lands in an audit log that tests read over `/admin/audit`.
//!
//! Layout: [`http`] (routes and the call pipeline), [`auth`] (signatures and keys),
//! [`request`] (parameter parsing), [`api`] with [`images`], [`sharing`] and [`tags`] (the
//! actions), [`state`] (the world and its persistence), [`faults`], [`audit`], and [`sts`]
//! (STS and ECS metadata credentials).

pub mod api;
pub mod args;
pub mod audit;
pub mod auth;
pub mod error;
pub mod faults;
pub mod http;
pub mod images;
pub mod request;
pub mod sharing;
pub mod state;
pub mod sts;
pub mod tags;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api::Behaviour;
use audit::AuditLog;
use auth::KeyStore;
use faults::{FaultConfig, Faults};
use state::{DEFAULT_ACCOUNT, World};

use crate::swas::sign::{Clock, SystemClock};

/// Everything the emulator is started with.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Long-lived access keys: (ID, secret, account).
    pub keys: Vec<(String, String, u64)>,
    /// The account of seeded servers and of the ECS role.
    pub account: u64,
    /// Regions to seed servers in.
    pub regions: Vec<String>,
    /// Servers seeded per region.
    pub servers_per_region: usize,
    /// Timings and limits.
    pub behaviour: Behaviour,
    /// Initial faults.
    pub faults: FaultConfig,
    /// Where to keep the state across restarts; in memory only when `None`.
    pub state_file: Option<PathBuf>,
    /// The RAM role the metadata service reports.
    pub ecs_role: String,
    /// Longest life of an issued temporary key, in seconds.
    pub max_sts_seconds: i64,
    /// An OIDC token STS refuses (to test the failure path).
    pub rejected_oidc_token: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            keys: vec![(
                "emulator-ak".into(),
                "emulator-secret".into(),
                DEFAULT_ACCOUNT,
            )],
            account: DEFAULT_ACCOUNT,
            regions: vec!["cn-hangzhou".into()],
            servers_per_region: 3,
            behaviour: Behaviour::default(),
            faults: FaultConfig::default(),
            state_file: None,
            ecs_role: "EmulatorRole".into(),
            max_sts_seconds: 3600,
            rejected_oidc_token: "rejected-token".into(),
        }
    }
}

/// The running emulator's shared state.
#[derive(Debug)]
pub struct Emulator {
    /// Start-up settings.
    pub config: EmulatorConfig,
    /// Timings and limits in force.
    pub behaviour: Behaviour,
    /// The cloud's contents.
    pub world: Mutex<World>,
    /// Accepted keys and seen nonces.
    pub keys: KeyStore,
    /// Fault injection.
    pub faults: Mutex<Faults>,
    /// Every call.
    pub audit: Mutex<AuditLog>,
    /// The emulator's clock.
    pub clock: Arc<dyn Clock>,
    /// The metadata service's session token.
    pub metadata_token: String,
}

impl Emulator {
    /// Builds the emulator, loading saved state when the state file exists.
    pub fn new(config: EmulatorConfig, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let world = match &config.state_file {
            Some(path) if path.exists() => World::load(path)?,
            _ => World::seeded(config.account, &config.regions, config.servers_per_region),
        };
        let mut keys = KeyStore::default();
        for (id, secret, account) in &config.keys {
            keys.add_key(id, secret, *account);
        }
        Ok(Self {
            behaviour: config.behaviour.clone(),
            world: Mutex::new(world),
            keys,
            faults: Mutex::new(Faults::new(config.faults.clone())),
            audit: Mutex::new(AuditLog::default()),
            clock,
            metadata_token: format!("imds-{}", hex::encode(rand::random::<[u8; 8]>())),
            config,
        })
    }

    /// Back to the seeded world: no images, no tokens, no audit entries, no pending faults.
    /// With a state file, the seeded world is saved too, so a restart does not undo the reset.
    pub fn reset(&self) {
        let config = &self.config;
        let seeded = World::seeded(config.account, &config.regions, config.servers_per_region);
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        *world = seeded;
        if let Some(path) = &config.state_file
            && let Err(e) = world.save(path)
        {
            tracing::warn!(error = %e, path = %path.display(), "cannot save emulator state");
        }
        drop(world);
        self.audit.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset();
    }
}

/// A running emulator: its address and a handle to stop it.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state, for in-process tests.
    pub emulator: Arc<Emulator>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Starts the emulator on `addr` (port 0 picks a free one) with the system clock.
pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Running> {
    start_with_clock(config, addr, Arc::new(SystemClock)).await
}

/// Starts the emulator with a clock of your own.
pub async fn start_with_clock(
    config: EmulatorConfig,
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
) -> std::io::Result<Running> {
    let emulator = Arc::new(Emulator::new(config, clock)?);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = http::router(emulator.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "emulator stopped");
        }
    });
    Ok(Running {
        addr,
        emulator,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_is_saved_to_the_state_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("state.json");
        let config = EmulatorConfig {
            state_file: Some(path.clone()),
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::new(config, Arc::new(SystemClock)).expect("emulator");
        let world = World {
            next_image: 7,
            ..World::default()
        };
        world.save(&path).expect("save");
        emulator.reset();
        let saved = World::load(&path).expect("load");
        assert_eq!(
            saved.next_image, 0,
            "the reset world replaced the saved one"
        );
        assert_eq!(saved.servers.len(), 3);
    }
}
