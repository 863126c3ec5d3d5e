//! The controller's errors, classified once into what the resource's conditions say and what
//! the controller does next.

use std::time::Duration;

use crate::swas::{ErrorClass, SwasError};

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API failed (reading a Secret, patching status or finalizers).
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// A SWAS call failed.
    #[error(transparent)]
    Cloud(#[from] SwasError),
    /// The spec breaks a rule the schema could not express.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The credentials Secret does not exist.
    #[error("Secret {0} not found in the resource's namespace")]
    SecretNotFound(String),
    /// The credentials Secret lacks a key or holds bad data.
    #[error("Secret {name} cannot be used: {reason}")]
    InvalidSecret {
        /// The Secret.
        name: String,
        /// What is wrong (never its contents).
        reason: String,
    },
}

/// What an error means for the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Retry with backoff; the condition is `Reconciling`.
    Retry,
    /// Retry after this long (throttling).
    RetryAfter(Duration),
    /// Needs a person; the condition is `Stalled` until the spec or Secret changes.
    Terminal,
}

impl Error {
    /// The fixed PascalCase reason conditions and events carry.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(_) => "KubernetesApiError",
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::SecretNotFound(_) => "CredentialsNotFound",
            Self::InvalidSecret { .. } => "InvalidCredentials",
            Self::Cloud(e) => match e.class() {
                ErrorClass::Throttled => "Throttled",
                ErrorClass::Auth => "AuthFailed",
                ErrorClass::InvalidRequest => "RequestRejected",
                ErrorClass::NotFound => "ImageNotFound",
                ErrorClass::InShare => "DeleteBlocked",
                ErrorClass::Server => "CloudError",
                ErrorClass::Transport => "CloudUnreachable",
            },
        }
    }

    /// Whether and when to try again.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Kube(_) => Disposition::Retry,
            Self::InvalidSpec(_) | Self::SecretNotFound(_) | Self::InvalidSecret { .. } => {
                Disposition::Terminal
            }
            Self::Cloud(e) => match e.class() {
                ErrorClass::Throttled => {
                    Disposition::RetryAfter(e.retry_after().unwrap_or(Duration::from_secs(1)))
                }
                ErrorClass::Auth | ErrorClass::InvalidRequest => Disposition::Terminal,
                _ => Disposition::Retry,
            },
        }
    }

    /// A message a person can act on; the same for the same failure (no request IDs).
    pub fn advice(&self) -> String {
        match self {
            Self::Cloud(e) if e.class() == ErrorClass::Auth => format!(
                "{}. Check the credentials (spec.credentialsSecretRef or the operator's) and \
                 their RAM permissions for swas-open",
                e.summary()
            ),
            Self::Cloud(e) => e.summary(),
            Self::SecretNotFound(name) => format!(
                "Secret {name} not found in this namespace; create it with keys accessKeyId and \
                 accessKeySecret, or remove spec.credentialsSecretRef"
            ),
            other => other.to_string(),
        }
    }
}

/// Backoff after `attempts` failures in a row: 2 s doubling to 5 minutes, with jitter.
pub fn backoff(attempts: u32) -> Duration {
    let base = 2u64.saturating_pow(attempts.min(8)).min(300);
    let jitter = rand::random::<u64>() % (base * 250 + 1);
    Duration::from_millis(base * 1000 + jitter)
}
