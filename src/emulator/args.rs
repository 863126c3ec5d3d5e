//! The `emulator` subcommand's flags, turned into an [`EmulatorConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use super::EmulatorConfig;
use super::api::Behaviour;
use super::faults::{FaultConfig, parse_rates};
use super::state::DEFAULT_ACCOUNT;

/// Flags of `swas-image-operator emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,

    /// An accepted access key, `ID:SECRET[:ACCOUNT]`; repeatable.
    #[arg(long = "access-key", default_value = "emulator-ak:emulator-secret")]
    pub access_keys: Vec<String>,

    /// A region to seed servers and snapshots in; repeatable.
    #[arg(long = "region", default_value = "cn-hangzhou")]
    pub regions: Vec<String>,

    /// Servers (each with a system and a data snapshot) seeded per region.
    #[arg(long, default_value_t = 3)]
    pub servers_per_region: usize,

    /// Milliseconds a new image stays "4" (creating) before "1" (available).
    #[arg(long, default_value_t = 2000)]
    pub create_delay_ms: u64,

    /// Milliseconds a new image is invisible to lists.
    #[arg(long, default_value_t = 0)]
    pub visibility_lag_ms: u64,

    /// Milliseconds a deleted image still shows in lists.
    #[arg(long, default_value_t = 0)]
    pub deletion_lag_ms: u64,

    /// Live custom images allowed per account and region.
    #[arg(long, default_value_t = 15)]
    pub image_quota: usize,

    /// Keep the state in this file so a restart keeps it.
    #[arg(long)]
    pub state_file: Option<PathBuf>,

    /// Injected `500 InternalError` rate, `ACTION=RATE` (`mutating` and `*` work); repeatable.
    #[arg(long = "error-rate")]
    pub error_rates: Vec<String>,

    /// "Act, then drop the connection" rate, `ACTION=RATE`; repeatable.
    #[arg(long = "drop-rate")]
    pub drop_rates: Vec<String>,

    /// Calls per second per action, `ACTION=N`; beyond it `Throttling.User`. Repeatable.
    #[arg(long = "quota")]
    pub quotas: Vec<String>,

    /// Added latency in milliseconds, `MIN` or `MIN-MAX`.
    #[arg(long)]
    pub latency_ms: Option<String>,

    /// Seed of the fault injector's random choices.
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,

    /// The RAM role the ECS metadata service reports.
    #[arg(long, default_value = "EmulatorRole")]
    pub ecs_role: String,

    /// Longest life of an issued temporary key, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub max_sts_seconds: i64,
}

impl EmulatorArgs {
    /// The configuration the flags describe.
    pub fn config(&self) -> Result<EmulatorConfig, String> {
        let keys = self
            .access_keys
            .iter()
            .map(|key| {
                let mut parts = key.splitn(3, ':');
                let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
                    return Err(format!(
                        "--access-key {key:?}: expected ID:SECRET[:ACCOUNT]"
                    ));
                };
                let account = match parts.next() {
                    Some(a) => a
                        .parse()
                        .map_err(|_| format!("--access-key: bad account {a:?}"))?,
                    None => DEFAULT_ACCOUNT,
                };
                Ok((id.to_string(), secret.to_string(), account))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let latency_ms = match &self.latency_ms {
            None => None,
            Some(text) => {
                let (low, high) = text.split_once('-').unwrap_or((text, text));
                let parse = |v: &str| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("--latency-ms {text:?}"))
                };
                Some((parse(low)?, parse(high)?))
            }
        };
        Ok(EmulatorConfig {
            keys,
            regions: self.regions.clone(),
            servers_per_region: self.servers_per_region,
            behaviour: Behaviour {
                create_delay_ms: self.create_delay_ms,
                visibility_lag_ms: self.visibility_lag_ms,
                deletion_lag_ms: self.deletion_lag_ms,
                image_quota: self.image_quota,
            },
            faults: FaultConfig {
                seed: self.fault_seed,
                error_rate: parse_rates(&self.error_rates)?,
                drop_rate: parse_rates(&self.drop_rates)?,
                quota_per_second: parse_rates(&self.quotas)?,
                latency_ms,
            },
            state_file: self.state_file.clone(),
            ecs_role: self.ecs_role.clone(),
            max_sts_seconds: self.max_sts_seconds,
            ..EmulatorConfig::default()
        })
    }
}
