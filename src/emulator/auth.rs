//! Checking who is calling: V1 and V3 signatures (V3 over exactly the headers the request says
//! it signed), STS tokens issued by the emulator's own STS and metadata service, a 15-minute
//! timestamp window and nonce replay. Every failure gets the service's own error code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::error::ApiError;
use crate::swas::sign::{v1, v3};

/// How far a request's timestamp may be from the emulator's clock.
pub const MAX_SKEW: SignedDuration = SignedDuration::from_mins(15);

/// Headers a V3 request must sign.
const REQUIRED_SIGNED: &[&str] = &[
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// A request as received, in the form verification needs.
#[derive(Debug, Default)]
pub struct Incoming {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Decoded form-body pairs.
    pub form: Vec<(String, String)>,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Incoming {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query or form parameter (the query wins).
    pub fn param(&self, name: &str) -> Option<&str> {
        fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
        find(&self.query, name).or_else(|| find(&self.form, name))
    }
}

/// A temporary key issued by the emulator's STS or metadata service.
#[derive(Clone, Debug)]
pub struct TemporaryKey {
    /// The secret.
    pub secret: String,
    /// The security token that must accompany it.
    pub token: String,
    /// Owning account.
    pub account: u64,
    /// When it stops working.
    pub expires: Timestamp,
}

/// Access keys the emulator accepts, and the nonces it has seen.
#[derive(Debug, Default)]
pub struct KeyStore {
    long_lived: BTreeMap<String, (String, u64)>,
    temporary: Mutex<BTreeMap<String, TemporaryKey>>,
    nonces: Mutex<HashMap<String, Timestamp>>,
}

/// Who a verified request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub account: u64,
    /// The access key ID used.
    pub access_key_id: String,
}

fn incomplete(what: &str) -> ApiError {
    ApiError::new(
        400,
        "IncompleteSignature",
        format!("The request signature is incomplete: {what}"),
    )
}

fn mismatch() -> ApiError {
    ApiError::new(
        400,
        "SignatureDoesNotMatch",
        "Specified signature does not match our calculation.",
    )
}

/// Compares two strings without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl KeyStore {
    /// Adds a long-lived access key.
    pub fn add_key(&mut self, id: &str, secret: &str, account: u64) {
        self.long_lived
            .insert(id.to_string(), (secret.to_string(), account));
    }

    /// Registers a temporary key.
    pub fn add_temporary(&self, id: String, key: TemporaryKey) {
        self.temporary
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, key);
    }

    /// The secret and account of a key, checking the STS token of temporary ones.
    fn lookup(
        &self,
        id: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<(String, u64), ApiError> {
        if let Some((secret, account)) = self.long_lived.get(id) {
            return Ok((secret.clone(), *account));
        }
        let temporary = self.temporary.lock().unwrap_or_else(|e| e.into_inner());
        let Some(key) = temporary.get(id) else {
            return Err(ApiError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        };
        match token {
            None => Err(ApiError::new(
                400,
                "MissingSecurityToken",
                "A temporary access key needs its SecurityToken.",
            )),
            Some(t) if !same(t, &key.token) => Err(ApiError::new(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "The security token does not belong to the access key.",
            )),
            Some(_) if now >= key.expires => Err(ApiError::new(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired.",
            )),
            Some(_) => Ok((key.secret.clone(), key.account)),
        }
    }

    fn check_time(&self, raw: &str, now: Timestamp) -> Result<(), ApiError> {
        let ts: Timestamp = raw.parse().map_err(|_| {
            ApiError::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
        if ts.duration_since(now).abs() > MAX_SKEW {
            return Err(ApiError::new(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        Ok(())
    }

    fn use_nonce(&self, nonce: &str, now: Timestamp) -> Result<(), ApiError> {
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        nonces.retain(|_, seen| now.duration_since(*seen) < MAX_SKEW * 2);
        if nonces.insert(nonce.to_string(), now).is_some() {
            return Err(ApiError::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        Ok(())
    }

    /// Verifies a request signed with either scheme.
    pub fn verify(&self, request: &Incoming, now: Timestamp) -> Result<Caller, ApiError> {
        match request.header("authorization") {
            Some(auth) if auth.starts_with(v3::ALGORITHM) => self.verify_v3(request, auth, now),
            Some(_) => Err(incomplete("unsupported Authorization scheme")),
            None if request.param("Signature").is_some() => self.verify_v1(request, now),
            None => Err(incomplete(
                "no Authorization header and no Signature parameter",
            )),
        }
    }

    fn verify_v3(
        &self,
        request: &Incoming,
        auth: &str,
        now: Timestamp,
    ) -> Result<Caller, ApiError> {
        let fields: BTreeMap<&str, &str> = auth[v3::ALGORITHM.len()..]
            .split(',')
            .filter_map(|part| part.trim().split_once('='))
            .collect();
        let (Some(id), Some(signed), Some(signature)) = (
            fields.get("Credential"),
            fields.get("SignedHeaders"),
            fields.get("Signature"),
        ) else {
            return Err(incomplete(
                "Authorization needs Credential, SignedHeaders and Signature",
            ));
        };
        let names: Vec<&str> = signed.split(';').collect();
        let token = request.header("x-acs-security-token");
        let mut required: Vec<&str> = REQUIRED_SIGNED.to_vec();
        if token.is_some() {
            required.push("x-acs-security-token");
        }
        if let Some(missing) = required.iter().find(|h| !names.contains(h)) {
            return Err(incomplete(&format!("header {missing} must be signed")));
        }
        let mut headers = Vec::new();
        for name in &names {
            let values: Vec<&(String, String)> =
                request.headers.iter().filter(|(k, _)| k == name).collect();
            if values.is_empty() {
                return Err(incomplete(&format!(
                    "signed header {name} is not in the request"
                )));
            }
            headers.extend(values.into_iter().cloned());
        }

        self.check_time(request.header("x-acs-date").unwrap_or_default(), now)?;
        let body_hash = v3::hash_payload(&request.body);
        if request.header("x-acs-content-sha256") != Some(body_hash.as_str()) {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                "x-acs-content-sha256 does not match the body.",
            ));
        }
        let (secret, account) = self.lookup(id, token, now)?;
        let cr = v3::canonical_request(
            &request.method,
            &request.path,
            &request.query,
            &headers,
            &body_hash,
        );
        if !same(&v3::signature(&secret, &v3::string_to_sign(&cr)), signature) {
            return Err(mismatch());
        }
        self.use_nonce(
            request.header("x-acs-signature-nonce").unwrap_or_default(),
            now,
        )?;
        Ok(Caller {
            account,
            access_key_id: id.to_string(),
        })
    }

    fn verify_v1(&self, request: &Incoming, now: Timestamp) -> Result<Caller, ApiError> {
        let param = |name: &str| request.param(name).filter(|v| !v.is_empty());
        for name in [
            "AccessKeyId",
            "SignatureMethod",
            "SignatureNonce",
            "Timestamp",
        ] {
            if param(name).is_none() {
                return Err(incomplete(&format!("parameter {name} is missing")));
            }
        }
        if param("SignatureMethod") != Some("HMAC-SHA1") {
            return Err(ApiError::new(
                400,
                "InvalidSignatureMethod",
                "Specified signature method is not supported.",
            ));
        }
        if param("SignatureVersion").is_some_and(|v| v != "1.0") {
            return Err(ApiError::new(
                400,
                "InvalidSignatureVersion",
                "Specified signature version is not supported.",
            ));
        }
        self.check_time(param("Timestamp").unwrap_or_default(), now)?;
        let id = param("AccessKeyId").unwrap_or_default();
        let (secret, account) = self.lookup(id, param("SecurityToken"), now)?;
        let canonical = v1::canonicalized_parameters(&request.query, &request.form);
        let expected = v1::signature(&secret, &v1::string_to_sign(&request.method, &canonical));
        if !same(&expected, param("Signature").unwrap_or_default()) {
            return Err(mismatch());
        }
        self.use_nonce(param("SignatureNonce").unwrap_or_default(), now)?;
        Ok(Caller {
            account,
            access_key_id: id.to_string(),
        })
    }
}
