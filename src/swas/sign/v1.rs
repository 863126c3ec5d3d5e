//! RPC signature version 1.0 (HMAC-SHA1), still accepted by every RPC endpoint and used by
//! Terraform and the legacy SDKs.
//!
//! Stages: the common parameters are added to the query; every query and form parameter but
//! `Signature` is canonicalised ([`canonicalized_parameters`]); the string to sign is
//! `METHOD&%2F&enc(canonical)` ([`string_to_sign`]); the signature is base64 HMAC-SHA1 keyed
//! by `secret&` ([`signature`]) and travels as the `Signature` query parameter.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use secrecy::ExposeSecret;
use sha1::Sha1;

use super::{SignableRequest, canonical_query, format_timestamp, percent_encode};
use crate::swas::credentials::Credential;

/// Sorted `enc(key)=enc(value)` over query and form parameters, without `Signature`.
pub fn canonicalized_parameters(query: &[(String, String)], form: &[(String, String)]) -> String {
    canonical_query(
        query
            .iter()
            .chain(form)
            .filter(|(k, _)| k != "Signature")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// `METHOD&%2F&enc(canonicalized)`.
pub fn string_to_sign(method: &str, canonicalized: &str) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(canonicalized)
    )
}

/// Base64 HMAC-SHA1 of the string to sign, keyed by the secret followed by `&`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds the V1 common parameters (`Timestamp`, `SignatureNonce`, `SignatureMethod`,
/// `SignatureVersion`, `AccessKeyId`, `SecurityToken` for STS) and then `Signature`.
///
/// `Action`, `Version` and `Format` belong to the request and are set by the caller.
pub fn sign(request: &mut SignableRequest, credential: &Credential, now: Timestamp, nonce: &str) {
    let common = [
        ("Timestamp", format_timestamp(now)),
        ("SignatureNonce", nonce.to_string()),
        ("SignatureMethod", "HMAC-SHA1".to_string()),
        ("SignatureVersion", "1.0".to_string()),
        ("AccessKeyId", credential.access_key_id().to_string()),
    ];
    for (k, v) in common {
        request.query.push((k.to_string(), v));
    }
    if let Some(token) = credential.security_token() {
        request
            .query
            .push(("SecurityToken".into(), token.expose_secret().into()));
    }

    let canonical = canonicalized_parameters(&request.query, &request.form);
    let sts = string_to_sign(&request.method, &canonical);
    let sig = signature(credential.access_key_secret().expose_secret(), &sts);
    request.query.push(("Signature".into(), sig));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tea-openapi's `test_get_rpc_signature` (Python).
    #[test]
    fn published_vector() {
        let query = vec![("query".to_string(), "test".to_string())];
        let form = vec![("body".to_string(), "test".to_string())];
        let canonical = canonicalized_parameters(&query, &form);
        assert_eq!(canonical, "body=test&query=test");
        let sts = string_to_sign("GET", &canonical);
        assert_eq!(sts, "GET&%2F&body%3Dtest%26query%3Dtest");
        assert_eq!(signature("secret", &sts), "XlUyV4sXjOuX5FnjUz9IF9tm5rU=");
    }

    #[test]
    fn signature_parameter_is_never_signed() {
        let query = vec![
            ("A".to_string(), "1".to_string()),
            ("Signature".to_string(), "x".to_string()),
        ];
        assert_eq!(canonicalized_parameters(&query, &[]), "A=1");
    }
}
