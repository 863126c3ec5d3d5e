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
pub mod status;
pub mod swas_cloud;

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use self::cloud::Cloud;
use self::context::{Context, Settings};
use self::error::{Error, backoff};
use crate::crd::CustomImage;

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

async fn reconcile(object: Arc<CustomImage>, ctx: Arc<Context>) -> Result<Action, Error> {
    if object.metadata.deletion_timestamp.is_some() {
        if !finalizer::present(&object) {
            return Ok(Action::await_change());
        }
        return cleanup::cleanup(&object, &ctx).await;
    }
    apply::apply(&object, &ctx).await
}

fn error_policy(object: Arc<CustomImage>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempts = ctx.failed(&object.uid().unwrap_or_default());
    tracing::warn!(reason = error.reason(), error = %error, attempts, "reconcile failed");
    Action::requeue(backoff(attempts))
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    cloud: Arc<dyn Cloud>,
    options: RunOptions,
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
    let ctx = Arc::new(Context::new(client, cloud, recorder, options.settings));
    let config = ControllerConfig::default().concurrency(options.concurrency);
    Controller::new(api, watcher::Config::default().any_semantic())
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
