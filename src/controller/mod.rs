//! The `CustomImage` controller: watches the resources and reconciles each against SWAS.
//!
//! Steps live in their own modules: [`apply`] (create or adopt, then keep sharing and tags as
//! declared), [`cleanup`] (the finalizer contract for deletion), [`status`] (conditions and
//! status writes), [`credentials`] (which keys a resource uses) and [`finalizer`]. The cloud is
//! reached only through the [`cloud::Cloud`] interface, implemented by
//! [`swas_cloud::SwasCloud`] with region snapshots and per-action rate limits ([`limiter`]).

pub mod apply;
pub mod cleanup;
pub mod cloud;
pub mod context;
pub mod credentials;
pub mod error;
pub mod finalizer;
pub mod limiter;
pub mod lookups;
pub mod status;
pub mod swas_cloud;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};

use self::cloud::Cloud;
use self::context::{Context, Settings};
use self::error::{Error, backoff};
use crate::crd::CustomImage;
use crate::metrics::Metrics;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Watch only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Timings.
    pub settings: Settings,
    /// The name events are reported under.
    pub reporter: String,
}

/// Optional connections to the rest of the process.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Where reconcile counts, durations and Ready reasons go.
    pub metrics: Option<Arc<Metrics>>,
    /// Called once the watch cache holds its first full listing.
    pub synced: Option<Arc<dyn Fn() + Send + Sync>>,
}

async fn reconcile(object: Arc<CustomImage>, ctx: Arc<Context>) -> Result<Action, Error> {
    if let Some(wait) = ctx.held(&object) {
        return Ok(Action::requeue(wait));
    }
    let started = Instant::now();
    let result = if object.metadata.deletion_timestamp.is_some() {
        match finalizer::present(&object) {
            false => Ok(Action::await_change()),
            true => cleanup::cleanup(&object, &ctx).await,
        }
    } else {
        apply::apply(&object, &ctx).await
    };
    if let Some(metrics) = &ctx.metrics {
        metrics.reconciled(result.is_ok(), started.elapsed());
    }
    match result {
        // A late event for an object whose finalizer was just released: nothing left to do.
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 404 => {
            Ok(Action::await_change())
        }
        other => other,
    }
}

fn error_policy(object: Arc<CustomImage>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempts = ctx.failed(&object.uid().unwrap_or_default());
    tracing::warn!(reason = error.reason(), error = %error, attempts, "reconcile failed");
    ctx.requeue(&object, backoff(attempts))
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    cloud: Arc<dyn Cloud>,
    options: RunOptions,
    hooks: Hooks,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<CustomImage> = match &options.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let reporter = Reporter {
        controller: options.reporter.clone(),
        instance: None,
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let mut ctx = Context::new(client, cloud, recorder, options.settings);
    ctx.metrics = hooks.metrics;
    let ctx = Arc::new(ctx);
    let config = ControllerConfig::default().concurrency(options.concurrency);

    // Readiness comes from the watch stream itself: the store's own readiness signal wakes
    // only one waiter, and the controller is already waiting on it.
    let (reader, writer) = reflector::store();
    let synced = hooks.synced;
    let objects = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        // The cache keeps every object; managed fields are the bulk of one and unused here.
        .modify(|object| object.managed_fields_mut().clear())
        .inspect(move |event| {
            if let (Ok(watcher::Event::InitDone), Some(synced)) = (event, &synced) {
                synced();
            }
        })
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(objects, reader)
        .with_config(config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        })
        .await;
}
