//! The first source in the chain: keys in `ALIBABA_CLOUD_ACCESS_KEY_ID`,
//! `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and optionally `ALIBABA_CLOUD_SECURITY_TOKEN`.

use futures::future::BoxFuture;

use super::{Credential, CredentialError, ProvideCredential, SourceContext};

/// Reads keys from environment variables.
#[derive(Debug, Clone)]
pub struct EnvironmentProvider {
    ctx: SourceContext,
}

impl EnvironmentProvider {
    /// A provider over the context's environment.
    pub fn new(ctx: SourceContext) -> Self {
        Self { ctx }
    }

    fn read(&self) -> Result<Option<Credential>, CredentialError> {
        let id = self.ctx.env.var("ALIBABA_CLOUD_ACCESS_KEY_ID");
        let secret = self.ctx.env.var("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
        match (id, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialError::Invalid(
                "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"
                    .into(),
            )),
            (None, Some(_)) => Err(CredentialError::Invalid(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is not"
                    .into(),
            )),
            (Some(id), Some(secret)) => {
                let mut credential = Credential::new(id, secret);
                if let Some(token) = self.ctx.env.var("ALIBABA_CLOUD_SECURITY_TOKEN") {
                    credential = credential.with_security_token(token);
                }
                Ok(Some(credential))
            }
        }
    }
}

impl ProvideCredential for EnvironmentProvider {
    fn name(&self) -> &'static str {
        "environment"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move { self.read() })
    }
}
