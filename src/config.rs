//! Command-line and environment settings shared by every subcommand that talks to SWAS.

use std::time::Duration;

use crate::swas::{ClientConfig, Endpoint, SignatureVersion};

/// How to reach and sign for SWAS.
#[derive(Clone, Debug, clap::Args)]
pub struct SwasArgs {
    /// SWAS endpoint override, e.g. `http://127.0.0.1:9100` for the emulator. `{region}` is
    /// replaced by the region. Default: `https://swas.<region>.aliyuncs.com`.
    #[arg(long, env = "SWAS_ENDPOINT")]
    pub swas_endpoint: Option<String>,

    /// Use the VPC endpoints (`swas-vpc.<region>.aliyuncs.com`).
    #[arg(long, env = "SWAS_VPC_ENDPOINT", conflicts_with = "swas_endpoint")]
    pub vpc_endpoint: bool,

    /// Signature scheme: `v3` (ACS3-HMAC-SHA256, default) or `v1` (HMAC-SHA1).
    #[arg(long, env = "SWAS_SIGNATURE_VERSION", value_enum, default_value = "v3")]
    pub signature_version: SignatureVersion,

    /// Seconds allowed to open a connection.
    #[arg(long, env = "SWAS_CONNECT_TIMEOUT", default_value_t = 5)]
    pub connect_timeout_secs: u64,

    /// Seconds allowed between bytes of an answer.
    #[arg(long, env = "SWAS_READ_TIMEOUT", default_value_t = 10)]
    pub read_timeout_secs: u64,
}

impl SwasArgs {
    /// The client configuration these settings describe.
    pub fn client_config(&self) -> ClientConfig {
        let endpoint = match (&self.swas_endpoint, self.vpc_endpoint) {
            (Some(url), _) => Endpoint::Custom(url.clone()),
            (None, true) => Endpoint::Vpc,
            (None, false) => Endpoint::Public,
        };
        ClientConfig {
            endpoint,
            signature_version: self.signature_version,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            read_timeout: Duration::from_secs(self.read_timeout_secs),
            ..Default::default()
        }
    }
}

/// Settings of the operator itself (`swas-image-operator run`).
#[derive(Clone, Debug, clap::Args)]
pub struct OperatorArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,

    /// Seconds between observations of an unchanged resource; one region listing per
    /// interval serves every resource in the region.
    #[arg(long, env = "RESYNC_SECONDS", default_value_t = 600)]
    pub resync_seconds: u64,

    /// Seconds between listings of the share accounts of an image shared with accounts, to
    /// correct accounts swapped outside the operator (one call per such image); 0 turns it off.
    #[arg(long, env = "SHARE_AUDIT_SECONDS", default_value_t = 3600)]
    pub share_audit_seconds: u64,

    /// Seconds between checks of an image being created or deleted.
    #[arg(long, env = "POLL_SECONDS", default_value_t = 2)]
    pub poll_seconds: u64,

    /// Reconciles running at once.
    #[arg(long, env = "CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,

    /// SWAS calls per second allowed per credentials, region and action.
    #[arg(long, env = "SWAS_QPS", default_value_t = 10)]
    pub swas_qps: u32,

    /// Address of `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "METRICS_ADDRESS", default_value = "127.0.0.1:8080")]
    pub metrics_address: std::net::SocketAddr,

    /// Elect one active replica with a coordination.k8s.io Lease in `POD_NAMESPACE`.
    #[arg(long, env = "LEADER_ELECT")]
    pub leader_elect: bool,

    /// Name of the Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "swas-image-operator")]
    pub lease_name: String,

    /// Seconds the Lease stays valid without renewal: how long a dead leader blocks others.
    #[arg(long, env = "LEASE_DURATION_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(2..))]
    pub lease_duration_seconds: u64,

    /// How the SWAS client connects and signs.
    #[command(flatten)]
    pub swas: SwasArgs,
}

impl OperatorArgs {
    /// How long before expiry the leader renews the Lease: a third of its duration.
    pub fn lease_grace_seconds(&self) -> u64 {
        (self.lease_duration_seconds / 3).max(1)
    }
}
