//! The second source in the chain: RRSA, Alibaba's pod identity for ACK.
//!
//! When `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` and
//! `ALIBABA_CLOUD_OIDC_TOKEN_FILE` are all set, the projected service-account token in that file
//! is exchanged for temporary keys with STS `AssumeRoleWithOIDC`. The call is anonymous; the
//! token travels in a form body, never in the URL. The file is read again on every call,
//! because the kubelet rotates it; wrap this source in a [`super::CachedProvider`] so it is
//! called only when the keys near expiry.

use std::path::PathBuf;

use futures::future::BoxFuture;
use jiff::Timestamp;
use serde::Deserialize;

use super::{Credential, CredentialError, ProvideCredential, SourceContext};
use crate::swas::sign::format_timestamp;

const SERVICE: &str = "STS AssumeRoleWithOIDC";

/// Exchanges an OIDC token for STS credentials.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    ctx: SourceContext,
}

struct Settings {
    role_arn: String,
    provider_arn: String,
    token_file: PathBuf,
    session_name: String,
    endpoint: String,
}

/// The parts of the STS answer used here.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StsCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    pub expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    credentials: Option<StsCredentials>,
    code: Option<String>,
    message: Option<String>,
}

impl StsCredentials {
    pub(crate) fn into_credential(
        self,
        service: &'static str,
    ) -> Result<Credential, CredentialError> {
        let expiration: Timestamp =
            self.expiration
                .parse()
                .map_err(|_| CredentialError::Service {
                    service,
                    reason: "answer has no valid Expiration".into(),
                })?;
        Ok(Credential::new(self.access_key_id, self.access_key_secret)
            .with_security_token(self.security_token)
            .with_expiration(expiration))
    }
}

impl OidcProvider {
    /// A provider over the context's environment, files and HTTP client.
    pub fn new(ctx: SourceContext) -> Self {
        Self { ctx }
    }

    fn settings(&self) -> Result<Option<Settings>, CredentialError> {
        let env = &self.ctx.env;
        let names = [
            "ALIBABA_CLOUD_ROLE_ARN",
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        ];
        let values: Vec<Option<String>> = names.iter().map(|n| env.var(n)).collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let missing: Vec<&str> = names
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            return Err(CredentialError::Invalid(format!(
                "RRSA is partly configured: {} not set",
                missing.join(", ")
            )));
        }
        let [role_arn, provider_arn, token_file] = <[Option<String>; 3]>::try_from(values)
            .map_err(|_| CredentialError::Invalid("RRSA settings could not be read".into()))?;
        let session_name = env
            .var("ALIBABA_CLOUD_ROLE_SESSION_NAME")
            .unwrap_or_else(|| format!("swas-image-operator-{}", self.ctx.clock.now().as_second()));
        Ok(Some(Settings {
            role_arn: role_arn.unwrap_or_default(),
            provider_arn: provider_arn.unwrap_or_default(),
            token_file: PathBuf::from(token_file.unwrap_or_default()),
            session_name,
            endpoint: self.endpoint(),
        }))
    }

    fn endpoint(&self) -> String {
        if let Some(endpoint) = &self.ctx.sts_endpoint {
            return endpoint.trim_end_matches('/').to_string();
        }
        let env = &self.ctx.env;
        if let Some(endpoint) = env.var("ALIBABA_CLOUD_STS_ENDPOINT") {
            let endpoint = endpoint.trim_end_matches('/');
            return match endpoint.contains("://") {
                true => endpoint.to_string(),
                false => format!("https://{endpoint}"),
            };
        }
        let vpc = self.ctx.flag("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED");
        match env.var("ALIBABA_CLOUD_STS_REGION") {
            Some(region) if vpc => format!("https://sts-vpc.{region}.aliyuncs.com"),
            Some(region) => format!("https://sts.{region}.aliyuncs.com"),
            None => "https://sts.aliyuncs.com".to_string(),
        }
    }

    async fn assume_role(&self, settings: Settings) -> Result<Credential, CredentialError> {
        let token = self
            .ctx
            .fs
            .read_to_string(&settings.token_file)
            .map_err(|e| CredentialError::File {
                path: settings.token_file.display().to_string(),
                reason: format!("the RRSA token file (ALIBABA_CLOUD_OIDC_TOKEN_FILE): {e}"),
            })?;
        let timestamp = format_timestamp(self.ctx.clock.now());
        let query = [
            ("Action", "AssumeRoleWithOIDC"),
            ("Format", "JSON"),
            ("Version", "2015-04-01"),
            ("Timestamp", timestamp.as_str()),
        ];
        let form = [
            ("RoleArn", settings.role_arn.as_str()),
            ("OIDCProviderArn", settings.provider_arn.as_str()),
            ("OIDCToken", token.trim()),
            ("RoleSessionName", settings.session_name.as_str()),
            ("DurationSeconds", "3600"),
        ];
        let service_error = |reason: String| CredentialError::Service {
            service: SERVICE,
            reason,
        };
        let response = self
            .ctx
            .http
            .post(format!("{}/", settings.endpoint))
            .query(&query)
            .form(&form)
            .send()
            .await
            .map_err(|e| service_error(e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| service_error(e.without_url().to_string()))?;
        let answer: StsAnswer = serde_json::from_str(&body)
            .map_err(|_| service_error(format!("HTTP {status} with a body that is not JSON")))?;
        match answer.credentials {
            Some(credentials) if status.is_success() => credentials.into_credential(SERVICE),
            _ => Err(service_error(format!(
                "HTTP {status} {}: {}",
                answer.code.unwrap_or_default(),
                answer.message.unwrap_or_default()
            ))),
        }
    }
}

impl ProvideCredential for OidcProvider {
    fn name(&self) -> &'static str {
        "oidc"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move {
            match self.settings()? {
                None => Ok(None),
                Some(settings) => self.assume_role(settings).await.map(Some),
            }
        })
    }
}
