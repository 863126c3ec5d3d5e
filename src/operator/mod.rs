//! The operator process: the probe and metrics server, leader election on a Lease, and the
//! controller, stopped cleanly on SIGTERM or Ctrl-C.
//!
//! With leader election every replica serves probes and metrics; only the holder of the Lease
//! runs the controller. A replica that loses the Lease stops reconciling and exits, so it
//! restarts as a standby; on SIGTERM the leader stops the controller (in-flight reconciles are
//! abandoned at their next await, which every step tolerates) and releases the Lease. A standby
//! reads the Lease every second and, once it has no holder, starts its lease manager afresh to
//! take it (the manager alone would wait until the expiry it last saw), so a standby takes over
//! within about a second instead of after up to the lease duration.

pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

use self::server::Health;
use crate::config::OperatorArgs;
use crate::controller::context::Settings;
use crate::controller::swas_cloud::SwasCloud;
use crate::controller::{self, Hooks, RunOptions};
use crate::metrics::Metrics;
use crate::swas::credentials::{CachedProvider, DefaultChain, SourceContext};
use crate::swas::sign::SystemClock;

/// Runs the operator until a shutdown signal, or until it loses leadership (an error).
pub async fn run(args: &OperatorArgs) -> Result<(), String> {
    let client = Client::try_default()
        .await
        .map_err(|e| format!("Kubernetes: {e}"))?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let addr: SocketAddr = args.metrics_address;
    let server = tokio::spawn(server::serve(addr, metrics.clone(), health.clone()));

    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });

    let result = match args.leader_elect {
        false => {
            health.leader.store(true, Ordering::Relaxed);
            health.role_known.store(true, Ordering::Relaxed);
            run_controller(client, args, metrics, health, wait_for(stop, true)).await;
            Ok(())
        }
        true => lead(client, args, metrics, health, stop).await,
    };
    server.abort();
    result
}

/// Completes when the watched flag equals `value` (or its sender is gone).
async fn wait_for(mut flag: watch::Receiver<bool>, value: bool) {
    let _ = flag.wait_for(|v| *v == value).await;
}

async fn lead(
    client: Client,
    args: &OperatorArgs,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let namespace = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".into());
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        format!(
            "swas-image-operator-{}",
            hex::encode(rand::random::<[u8; 4]>())
        )
    });
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let (leader, lease_task) = loop {
        let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
            .with_namespace(&namespace)
            .with_identity(&identity)
            .with_duration(args.lease_duration_seconds)
            .with_grace(args.lease_grace_seconds())
            .build()
            .await
            .map_err(|e| format!("leader election: {e}"))?;
        let (leader, lease_task) = manager.watch().await;
        if !health.role_known.swap(true, Ordering::Relaxed) {
            let lease = &args.lease_name;
            tracing::info!(%identity, %lease, %namespace, "waiting for leadership");
        }

        let became = wait_for(leader.clone(), true);
        let stopping = wait_for(stop.clone(), true);
        tokio::select! {
            _ = became => break (leader, lease_task),
            _ = stopping => {
                drop(leader);
                let _ = tokio::time::timeout(Duration::from_secs(5), lease_task).await;
                return Ok(());
            }
            _ = released(&leases, &args.lease_name) => {
                // A standby holds nothing to release: stop its manager without the release
                // that dropping the channel would make, and start a fresh one.
                tracing::debug!(%identity, "the Lease has no holder; taking it");
                lease_task.abort();
            }
        }
    };
    tracing::info!(%identity, "became the leader");
    health.leader.store(true, Ordering::Relaxed);

    let lost = wait_for(leader.clone(), false);
    let stopping = wait_for(stop.clone(), true);
    let shutdown = async move {
        tokio::select! {
            _ = lost => {}
            _ = stopping => {}
        }
    };
    run_controller(client, args, metrics, health.clone(), shutdown).await;
    health.leader.store(false, Ordering::Relaxed);

    let stopped = *stop.borrow();
    drop(leader);
    // Closing the channel makes the lease task release the Lease; bound the wait.
    let _ = tokio::time::timeout(Duration::from_secs(5), lease_task).await;
    match stopped {
        true => Ok(()),
        false => Err("lost leadership; exiting so the replica restarts as a standby".into()),
    }
}

/// Completes once the Lease exists without a holder, checked every second.
async fn released(leases: &Api<Lease>, name: &str) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(Some(lease)) = leases.get_opt(name).await
            && lease.spec.and_then(|s| s.holder_identity).is_none()
        {
            return;
        }
    }
}

async fn run_controller(
    client: Client,
    args: &OperatorArgs,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let chain = Arc::new(DefaultChain::new(SourceContext::system()));
    let credentials = Arc::new(CachedProvider::new(chain, Arc::new(SystemClock)));
    let mut cloud = SwasCloud::new(args.swas.client_config(), credentials, args.swas_qps);
    cloud.set_metrics(metrics.clone());
    let options = RunOptions {
        namespace: args.namespace.clone(),
        concurrency: args.concurrency,
        settings: Settings {
            resync: Duration::from_secs(args.resync_seconds),
            poll: Duration::from_secs(args.poll_seconds.max(1)),
            share_audit: (args.share_audit_seconds > 0)
                .then(|| Duration::from_secs(args.share_audit_seconds)),
            ..Settings::default()
        },
        reporter: "swas-image-operator".to_string(),
    };
    let synced = Arc::new(move || health.synced.store(true, Ordering::Relaxed));
    let hooks = Hooks {
        metrics: Some(metrics),
        synced: Some(synced),
    };
    tracing::info!(namespace = ?options.namespace, "starting the CustomImage controller");
    controller::run(client, Arc::new(cloud), options, hooks, shutdown).await;
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
