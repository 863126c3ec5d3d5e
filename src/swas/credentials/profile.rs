//! The third source in the chain: an INI credentials file.
//!
//! The path is `ALIBABA_CLOUD_CREDENTIALS_FILE`, or `~/.alibabacloud/credentials` (the Go SDK's
//! default). The section is `ALIBABA_CLOUD_PROFILE`, or `default`. Profiles of
//! `type = access_key` are supported; other types are reported as unsupported rather than
//! skipped, so a user is never silently given another identity.

use std::path::PathBuf;

use futures::future::BoxFuture;
use ini::Ini;

use super::{Credential, CredentialError, ProvideCredential, SourceContext};

/// Reads an `access_key` profile from the credentials file.
#[derive(Debug, Clone)]
pub struct ProfileFileProvider {
    ctx: SourceContext,
}

impl ProfileFileProvider {
    /// A provider over the context's environment and files.
    pub fn new(ctx: SourceContext) -> Self {
        Self { ctx }
    }

    fn read(&self) -> Result<Option<Credential>, CredentialError> {
        let explicit = self
            .ctx
            .env
            .var("ALIBABA_CLOUD_CREDENTIALS_FILE")
            .map(PathBuf::from);
        let path = match explicit.clone() {
            Some(path) => path,
            None => match self.ctx.home() {
                Some(home) => home.join(".alibabacloud").join("credentials"),
                None => return Ok(None),
            },
        };
        let text = match self.ctx.fs.read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(None);
            }
            Err(e) => {
                let path = path.display().to_string();
                return Err(CredentialError::File {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let ini = Ini::load_from_str(&text).map_err(|e| CredentialError::File {
            path: path.display().to_string(),
            reason: format!("not a valid INI file: {e}"),
        })?;

        let profile = self
            .ctx
            .env
            .var("ALIBABA_CLOUD_PROFILE")
            .unwrap_or("default".into());
        let Some(section) = ini.section(Some(profile.as_str())) else {
            return match explicit {
                Some(_) => Err(CredentialError::Invalid(format!(
                    "profile [{profile}] not found in {}",
                    path.display()
                ))),
                None => Ok(None),
            };
        };
        let kind = section.get("type").unwrap_or("access_key");
        if kind != "access_key" {
            return Err(CredentialError::Invalid(format!(
                "profile [{profile}] has type {kind}; only access_key is supported"
            )));
        }
        let field = |key: &str| {
            section
                .get(key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    CredentialError::Invalid(format!("profile [{profile}] has no {key}"))
                })
        };
        Ok(Some(Credential::new(
            field("access_key_id")?,
            field("access_key_secret")?,
        )))
    }
}

impl ProvideCredential for ProfileFileProvider {
    fn name(&self) -> &'static str {
        "credentials file"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Option<Credential>, CredentialError>> {
        Box::pin(async move { self.read() })
    }
}
