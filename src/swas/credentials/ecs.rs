//! The last source in the chain: the RAM role of the ECS instance the operator runs on, from
//! the instance metadata service.
//!
//! The hardened flow is used first: a session token from `PUT /latest/api/token`, then the
//! role name and the role's temporary keys. If the token call fails the plain flow is tried,
//! unless `ALIBABA_CLOUD_IMDSV1_DISABLED=true`. `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`
//! turns the source off; `ALIBABA_CLOUD_ECS_METADATA` names the role and skips its lookup.
//! When the service cannot be reached at all the source counts as not configured.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;

use super::oidc::StsCredentials;
use super::{Credential, CredentialError, ProvideCredential, SourceContext};

const SERVICE: &str = "ECS metadata";
/// The metadata service answers at once on ECS; elsewhere its address is a black hole.
const METADATA_TIMEOUT: Duration = Duration::from_secs(1);
const CREDENTIALS_PATH: &str = "/latest/meta-data/ram/security-credentials/";

/// Reads the instance's RAM role credentials.
#[derive(Debug, Clone)]
pub struct EcsRamRoleProvider {
    ctx: SourceContext,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataAnswer {
    code: Option<String>,
    #[serde(flatten)]
    credentials: Option<StsCredentials>,
}

fn service_error(reason: impl Into<String>) -> CredentialError {
    CredentialError::Service {
        service: SERVICE,
        reason: reason.into(),
    }
}

impl EcsRamRoleProvider {
    /// A provider over the context's environment and metadata endpoint.
    pub fn new(ctx: SourceContext) -> Self {
        Self { ctx }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ctx.metadata_endpoint.trim_end_matches('/'))
    }

    async fn session_token(&self) -> Result<Option<String>, CredentialError> {
        let response = self
            .ctx
            .http
            .put(self.url("/latest/api/token"))
            .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
            .timeout(METADATA_TIMEOUT)
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Ok(r.text().await.ok()),
            _ if self.ctx.flag("ALIBABA_CLOUD_IMDSV1_DISABLED") => {
                Err(service_error("no session token, and IMDSv1 is disabled"))
            }
            _ => Ok(None),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<String, CredentialError> {
        let mut request = self.ctx.http.get(self.url(path)).timeout(METADATA_TIMEOUT);
        if let Some(token) = token {
            request = request.header("X-aliyun-ecs-metadata-token", token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| service_error(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(service_error(format!("HTTP {status} for {path}")));
        }
        response
            .text()
            .await
            .map_err(|e| service_error(e.without_url().to_string()))
    }

    async fn fetch(&self) -> Result<Option<Credential>, CredentialError> {
        let configured_role = self.ctx.env.var("ALIBABA_CLOUD_ECS_METADATA");
        let token = self.session_token().await?;
        let role = match &configured_role {
            Some(role) => role.clone(),
            None => match self.get(CREDENTIALS_PATH, token.as_deref()).await {
                Ok(role) => role.trim().to_string(),
                // Not on ECS (or no role attached): nothing to offer.
                Err(_) => return Ok(None),
            },
        };
        if role.is_empty() {
            return Ok(None);
        }
        let body = self
            .get(&format!("{CREDENTIALS_PATH}{role}"), token.as_deref())
            .await?;
        let answer: MetadataAnswer = serde_json::from_str(&body)
            .map_err(|_| service_error("credentials answer is not the expected JSON"))?;
        match (answer.code.as_deref(), answer.credentials) {
            (Some("Success"), Some(credentials)) => credentials.into_credential(SERVICE).map(Some),
            (code, _) => Err(service_error(format!(
                "answer code {}",
                code.unwrap_or("missing")
            ))),
        }
    }
}

impl ProvideCredential for EcsRamRoleProvider {
    fn name(&self) -> &'static str {
        "ecs ram role"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move {
            if self.ctx.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED") {
                return Ok(None);
            }
            self.fetch().await
        })
    }
}
