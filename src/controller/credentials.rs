//! Which credentials a resource's calls use: the Secret named by `spec.credentialsSecretRef`,
//! read only from the resource's own namespace, or the operator's default chain.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use super::cloud::Account;
use super::error::Error;
use crate::crd::CustomImage;
use crate::swas::credentials::Credential;

/// The account for `object`'s calls.
pub async fn resolve(client: &Client, object: &CustomImage) -> Result<Account, Error> {
    let Some(reference) = &object.spec.credentials_secret_ref else {
        return Ok(Account::Default);
    };
    let namespace = object.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = secrets
        .get_opt(&reference.name)
        .await?
        .ok_or_else(|| Error::SecretNotFound(reference.name.clone()))?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    let credential = Credential::from_secret_data(&data).map_err(|e| Error::InvalidSecret {
        name: reference.name.clone(),
        reason: e.to_string(),
    })?;
    let version = secret.metadata.resource_version.unwrap_or_default();
    Ok(Account::Secret {
        key: format!("{namespace}/{}@{version}", reference.name),
        credential,
    })
}
