//! Alibaba Cloud credentials: what a signed call needs, and where it comes from.
//!
//! A [`Credential`] is an access key pair, with an STS security token and expiry when it is
//! temporary. Sources implement [`ProvideCredential`]; [`DefaultChain`] tries them in the order
//! the official SDKs use (environment, RRSA/OIDC, credentials file, ECS RAM role) and keeps
//! using the first that answers. [`CachedProvider`] refreshes temporary credentials before they
//! expire. Static keys from a Kubernetes Secret go through [`StaticProvider`].
//!
//! Sources read the environment, files and HTTP only through [`SourceContext`], so tests
//! never touch the real process environment. No `Debug` or `Display` here prints a secret.

mod cache;
mod context;
mod ecs;
mod env;
mod oidc;
mod profile;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use jiff::Timestamp;
use secrecy::SecretString;

pub use cache::CachedProvider;
pub use context::{Environment, FileSystem, MapEnvironment, MapFileSystem, OsEnvironment};
pub use context::{OsFileSystem, SourceContext};
pub use ecs::EcsRamRoleProvider;
pub use env::EnvironmentProvider;
pub use oidc::OidcProvider;
pub use profile::ProfileFileProvider;

/// An access key pair, optionally temporary (STS).
#[derive(Clone)]
pub struct Credential {
    access_key_id: String,
    access_key_secret: SecretString,
    security_token: Option<SecretString>,
    expiration: Option<Timestamp>,
}

impl Credential {
    /// A long-lived access key pair.
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: SecretString::from(access_key_secret.into()),
            security_token: None,
            expiration: None,
        }
    }

    /// Adds an STS security token.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(SecretString::from(token.into()));
        self
    }

    /// Marks the credential as valid until `expiration`.
    pub fn with_expiration(mut self, expiration: Timestamp) -> Self {
        self.expiration = Some(expiration);
        self
    }

    /// The access key ID (not secret; it names the key).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The access key secret.
    pub fn access_key_secret(&self) -> &SecretString {
        &self.access_key_secret
    }

    /// The STS security token, for temporary credentials.
    pub fn security_token(&self) -> Option<&SecretString> {
        self.security_token.as_ref()
    }

    /// When a temporary credential stops working.
    pub fn expiration(&self) -> Option<Timestamp> {
        self.expiration
    }

    /// Reads the keys `accessKeyId`, `accessKeySecret` and optional `securityToken` of a
    /// Kubernetes Secret's data.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, CredentialError> {
        let field = |key: &str| -> Result<Option<String>, CredentialError> {
            match data.get(key) {
                None => Ok(None),
                Some(bytes) => String::from_utf8(bytes.clone())
                    .map(|s| Some(s.trim().to_string()))
                    .map_err(|_| CredentialError::Invalid(format!("key {key} is not UTF-8"))),
            }
        };
        let missing = |key: &str| CredentialError::Invalid(format!("key {key} is missing"));
        let id = field("accessKeyId")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("accessKeyId"))?;
        let secret = field("accessKeySecret")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("accessKeySecret"))?;
        let mut credential = Credential::new(id, secret);
        if let Some(token) = field("securityToken")?.filter(|s| !s.is_empty()) {
            credential = credential.with_security_token(token);
        }
        Ok(credential)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Why no credential could be had. Messages name the source and never include a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A source is configured but its settings are incomplete or malformed.
    #[error("invalid credentials configuration: {0}")]
    Invalid(String),
    /// A file the configuration names could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What the file system said.
        reason: String,
    },
    /// An HTTP credentials service (STS, ECS metadata) failed or answered with an error.
    #[error("{service} did not issue credentials: {reason}")]
    Service {
        /// Which service.
        service: &'static str,
        /// What went wrong, without secrets.
        reason: String,
    },
    /// Every source in a chain was tried and none is configured.
    #[error("no credentials found ({0})")]
    NotFound(String),
}

/// A source of credentials.
///
/// `Ok(None)` means the source is not configured here, so a chain moves on; an error means it
/// is configured but failed, and a chain stops there rather than silently using another
/// identity.
pub trait ProvideCredential: Send + Sync + fmt::Debug {
    /// A short name for messages (`environment`, `oidc`, ...).
    fn name(&self) -> &'static str;

    /// Fetches a credential.
    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>>;
}

/// Always the same credential; for keys from a Kubernetes Secret or a test.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credential);

impl StaticProvider {
    /// Wraps a credential.
    pub fn new(credential: Credential) -> Self {
        Self(credential)
    }
}

impl ProvideCredential for StaticProvider {
    fn name(&self) -> &'static str {
        "static"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move { Ok(Some(self.0.clone())) })
    }
}

/// Tries sources in order and sticks with the first one that is configured.
#[derive(Debug)]
pub struct DefaultChain {
    sources: Vec<Arc<dyn ProvideCredential>>,
    chosen: std::sync::Mutex<Option<usize>>,
}

impl DefaultChain {
    /// The official order: environment, RRSA/OIDC, credentials file, ECS RAM role.
    pub fn new(ctx: SourceContext) -> Self {
        Self::from_sources(vec![
            Arc::new(EnvironmentProvider::new(ctx.clone())),
            Arc::new(OidcProvider::new(ctx.clone())),
            Arc::new(ProfileFileProvider::new(ctx.clone())),
            Arc::new(EcsRamRoleProvider::new(ctx)),
        ])
    }

    /// A chain over the given sources, tried in order.
    pub fn from_sources(sources: Vec<Arc<dyn ProvideCredential>>) -> Self {
        Self {
            sources,
            chosen: std::sync::Mutex::new(None),
        }
    }

    fn chosen(&self) -> Option<usize> {
        *self.chosen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ProvideCredential for DefaultChain {
    fn name(&self) -> &'static str {
        "default chain"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move {
            if let Some(i) = self.chosen() {
                return self.sources[i].provide().await;
            }
            let mut tried = Vec::new();
            for (i, source) in self.sources.iter().enumerate() {
                if let Some(credential) = source.provide().await? {
                    *self.chosen.lock().unwrap_or_else(|e| e.into_inner()) = Some(i);
                    tracing::debug!(source = source.name(), "using credentials source");
                    return Ok(Some(credential));
                }
                tried.push(source.name());
            }
            Err(CredentialError::NotFound(format!(
                "tried {}",
                tried.join(", ")
            )))
        })
    }
}

#[cfg(test)]
mod tests;
