//! Keeps a credential until it nears expiry, so temporary keys are fetched once per lifetime
//! instead of once per call, and are renewed before a call could be signed with stale ones.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::{Credential, CredentialError, ProvideCredential};
use crate::swas::sign::Clock;

/// How long before expiry a temporary credential is replaced by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Caches the inner source's credential; long-lived keys are kept forever, temporary ones
/// until `margin` before they expire. Concurrent callers wait for one refresh.
#[derive(Debug)]
pub struct CachedProvider {
    inner: Arc<dyn ProvideCredential>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    cached: Mutex<Option<Credential>>,
}

impl CachedProvider {
    /// Caches `inner`, judging expiry with `clock`.
    pub fn new(inner: Arc<dyn ProvideCredential>, clock: Arc<dyn Clock>) -> Self {
        Self::with_margin(inner, clock, DEFAULT_REFRESH_MARGIN)
    }

    /// Same, with a chosen refresh margin.
    pub fn with_margin(
        inner: Arc<dyn ProvideCredential>,
        clock: Arc<dyn Clock>,
        margin: Duration,
    ) -> Self {
        Self {
            inner,
            clock,
            margin,
            cached: Mutex::new(None),
        }
    }

    fn fresh(&self, credential: &Credential) -> bool {
        match credential.expiration() {
            None => true,
            Some(expiration) => {
                let margin = jiff::SignedDuration::try_from(self.margin).unwrap_or_default();
                self.clock
                    .now()
                    .saturating_add(margin)
                    .is_ok_and(|t| t < expiration)
            }
        }
    }
}

impl ProvideCredential for CachedProvider {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(credential) = cached.as_ref().filter(|c| self.fresh(c)) {
                return Ok(Some(credential.clone()));
            }
            let credential = self.inner.provide().await?;
            if let Some(expiration) = credential.as_ref().and_then(Credential::expiration) {
                tracing::debug!(source = self.inner.name(), %expiration, "fetched credentials");
            }
            cached.clone_from(&credential);
            Ok(credential)
        })
    }
}
