//! Request signing for Alibaba Cloud RPC APIs such as SWAS.
//!
//! Alibaba accepts two schemes on its RPC endpoints. [`v3`] (`ACS3-HMAC-SHA256`) signs a
//! canonical request that covers the method, path, query, chosen headers and body hash; it is
//! what the current official SDKs send by default. [`v1`] (HMAC-SHA1) signs the sorted
//! parameter list and travels as query parameters; older SDKs and Terraform use it. Both carry
//! an STS security token when the credential has one.
//!
//! Signing depends on the current time and a random nonce. Both come from injected sources
//! ([`Clock`], [`NonceSource`]) so that every stage can be checked against fixed vectors.

pub mod v1;
pub mod v3;

use std::fmt::Debug;
use std::sync::Arc;

use jiff::Timestamp;

use super::credentials::Credential;

/// The signature scheme a client uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureVersion {
    /// HMAC-SHA1 over the sorted parameters (`SignatureVersion=1.0`).
    V1,
    /// `ACS3-HMAC-SHA256` in the `Authorization` header.
    #[default]
    V3,
}

/// Where signing reads the current time from.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told to move; for tests and reproducible signatures.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where signing takes its one-time nonces from.
pub trait NonceSource: Send + Sync + Debug {
    /// A fresh nonce; never repeated within the server's replay window.
    fn nonce(&self) -> String;
}

/// 128 random bits as 32 lowercase hex digits, as the official SDKs send them.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> String {
        hex::encode(rand::random::<[u8; 16]>())
    }
}

/// Always the same nonce; for reproducing recorded signatures only.
#[derive(Debug, Clone)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> String {
        self.0.clone()
    }
}

/// An HTTP request before it goes on the wire, in the form signing needs.
///
/// Header names are kept as given; signing lower-cases them. `query` holds decoded values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignableRequest {
    /// `POST` or `GET`.
    pub method: String,
    /// The host (and port, if not the default) the request is addressed to.
    pub host: String,
    /// The request path; `/` for RPC APIs.
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Headers that are sent; in V3 every header listed here is signed.
    pub headers: Vec<(String, String)>,
    /// Form-encoded body parameters (V1 signs them with the query).
    pub form: Vec<(String, String)>,
}

impl SignableRequest {
    /// The value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body bytes that go on the wire (form-encoded parameters, or nothing).
    pub fn body(&self) -> Vec<u8> {
        wire_pairs(&self.form).into_bytes()
    }

    /// The query string that goes on the wire (without `?`; empty when there is no query).
    pub fn query_string(&self) -> String {
        wire_pairs(&self.query)
    }
}

/// `enc(key)=enc(value)` joined with `&`, in the order given, as the SDK puts pairs on the wire.
fn wire_pairs(pairs: &[(String, String)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect();
    pairs.join("&")
}

/// Signs requests with one scheme, reading time and nonces from injected sources.
#[derive(Clone, Debug)]
pub struct Signer {
    version: SignatureVersion,
    clock: Arc<dyn Clock>,
    nonces: Arc<dyn NonceSource>,
}

impl Signer {
    /// A signer with the system clock and random nonces.
    pub fn new(version: SignatureVersion) -> Self {
        Self::with_sources(version, Arc::new(SystemClock), Arc::new(RandomNonce))
    }

    /// A signer with the given time and nonce sources.
    pub fn with_sources(
        version: SignatureVersion,
        clock: Arc<dyn Clock>,
        nonces: Arc<dyn NonceSource>,
    ) -> Self {
        Self {
            version,
            clock,
            nonces,
        }
    }

    /// The scheme this signer uses.
    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    /// Adds the signature, the date, the nonce and (for STS) the token to `request`.
    pub fn sign(&self, request: &mut SignableRequest, credential: &Credential) {
        let now = self.clock.now();
        let nonce = self.nonces.nonce();
        match self.version {
            SignatureVersion::V1 => v1::sign(request, credential, now, &nonce),
            SignatureVersion::V3 => v3::sign(request, credential, now, &nonce),
        }
    }
}

/// Formats an instant as Alibaba's `YYYY-MM-DDThh:mm:ssZ` (UTC, whole seconds).
pub fn format_timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Percent-encodes per RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay, everything else becomes
/// `%XX` with upper-case hex, byte by byte over UTF-8. This is the encoding both schemes use
/// for canonical strings (space is `%20`, `*` is `%2A`).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Encodes a query or form value as the official Python SDK puts it on the wire
/// (`urlencode`): RFC 3986 with space as `+`.
pub fn form_encode(value: &str) -> String {
    percent_encode(value).replace("%20", "+")
}

/// Sorts parameters by key (byte order) and renders `enc(key)=enc(value)` joined with `&`.
///
/// V3 uses this for its canonical query; V1 for its canonicalised parameter string. Empty
/// values render as `key=`.
pub fn canonical_query<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let rendered: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    rendered.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_edge_cases() {
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("~"), "~");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("镜像"), "%E9%95%9C%E5%83%8F");
        assert_eq!(percent_encode("-_.AZaz09"), "-_.AZaz09");
        assert_eq!(percent_encode("[\"m-1\"]"), "%5B%22m-1%22%5D");
    }

    #[test]
    fn published_canonical_query_vector() {
        // tea-openapi test_get_canonical_query_string
        assert_eq!(canonical_query([("test", " ~/*-+")]), "test=%20~%2F%2A-%2B");
    }

    #[test]
    fn canonical_query_sorts_by_key_and_keeps_empty_values() {
        let q = canonical_query([("test", "ok"), ("empty", "")]);
        assert_eq!(q, "empty=&test=ok");
    }

    #[test]
    fn wire_encoding_writes_space_as_plus() {
        assert_eq!(form_encode("[\"a b*c~\"]"), "%5B%22a+b%2Ac~%22%5D");
    }

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let ts: Timestamp = "2024-01-02T03:04:05.678Z".parse().unwrap();
        assert_eq!(format_timestamp(ts), "2024-01-02T03:04:05Z");
    }
}
