//! The bodies of the cargo-fuzz targets in `fuzz/`, kept in the library so that
//! `tests/fuzz_corpus.rs` replays the checked-in corpora on the stable toolchain through the
//! very code the fuzzer runs, and so the property tests share the request plumbing. Not part
//! of the public API.
//!
//! Each target takes the fuzzer's raw bytes and panics only when it has found a bug:
//!
//! - [`emulator_request`]: a script of HTTP requests (raw, or signed here first) run against a
//!   fresh in-process emulator. Every request must be answered without a panic and without a
//!   5xx, and every answer of the SWAS endpoint must read, in the client, as either a result
//!   or a service error.
//! - [`client_response`]: a body read as the answer of every operation, with several statuses;
//!   nothing may panic and every error must be a well-formed one.
//! - [`signing`]: arbitrary parameters signed by our [`Signer`] must verify in the emulator's
//!   [`KeyStore`] after a trip over the wire, and must stop verifying when a value changes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tower::ServiceExt;

use crate::emulator::auth::{Caller, Incoming, KeyStore, TemporaryKey};
use crate::emulator::http::{MAX_BODY, incoming, router};
use crate::emulator::request::decode_pairs;
use crate::emulator::state::DEFAULT_ACCOUNT;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::swas::client::read_answer;
use crate::swas::credentials::Credential;
use crate::swas::error::SwasError;
use crate::swas::ops::{
    AddCustomImageShareAccount, CreateCustomImage, DeleteCustomImages,
    ListCustomImageShareAccounts, ListCustomImages, ListTagResources, ModifyImageShareStatus,
    Operation, RemoveCustomImageShareAccount, TagResources, UntagResources,
};
use crate::swas::sign::{FixedNonce, ManualClock, SignableRequest, SignatureVersion, Signer};

/// The instant every fuzzed request is signed and checked at.
pub const NOW: &str = "2024-01-02T03:04:05Z";
/// The long-lived key the fuzzed emulator accepts.
pub const KEY_ID: &str = "fuzz-ak";
/// Its secret.
pub const SECRET: &str = "fuzz-secret";
/// The temporary key the fuzzed emulator accepts with [`STS_TOKEN`].
pub const STS_KEY_ID: &str = "STS.fuzz";
/// Its secret.
pub const STS_SECRET: &str = "fuzz-sts-secret";
/// The security token that goes with [`STS_KEY_ID`].
pub const STS_TOKEN: &str = "CAISfuzzsecuritytoken";
/// The account both keys belong to.
pub const ACCOUNT: u64 = DEFAULT_ACCOUNT;
/// The host signed requests are addressed to when the input names none.
pub const HOST: &str = "swas.cn-hangzhou.aliyuncs.com";

/// Most requests one [`emulator_request`] input runs.
const MAX_STEPS: usize = 8;
/// Farthest one `tick` step moves the clock, in milliseconds (a day).
const MAX_TICK_MS: i64 = 86_400_000;
/// What separates the requests of one [`emulator_request`] input.
const STEP_SEPARATOR: &[u8] = b"\n---\n";

/// [`NOW`] as an instant.
pub fn now() -> Timestamp {
    NOW.parse().expect("NOW is a valid timestamp")
}

/// The credential the fuzzed emulator accepts: the long-lived key, or the temporary one.
pub fn credential(sts: bool) -> Credential {
    match sts {
        false => Credential::new(KEY_ID, SECRET),
        true => Credential::new(STS_KEY_ID, STS_SECRET).with_security_token(STS_TOKEN),
    }
}

/// A key store knowing `id` as a long-lived key with `secret`, and [`STS_KEY_ID`] (with
/// [`STS_TOKEN`], valid for an hour after [`NOW`]) as a temporary key with the same secret.
pub fn key_store(id: &str, secret: &str) -> KeyStore {
    let mut keys = KeyStore::default();
    keys.add_key(id, secret, ACCOUNT);
    keys.add_temporary(
        STS_KEY_ID.into(),
        TemporaryKey {
            secret: secret.into(),
            token: STS_TOKEN.into(),
            account: ACCOUNT,
            expires: now() + SignedDuration::from_hours(1),
        },
    );
    keys
}

/// A request as [`crate::swas::SwasClient`] puts it on the wire: query and form encoded the
/// SDK's way, headers as given. `None` when the method, path or a header cannot travel over
/// HTTP.
pub fn to_http(request: &SignableRequest) -> Option<Request<Bytes>> {
    let mut target = match request.path.is_empty() {
        true => "/".to_string(),
        false => request.path.clone(),
    };
    if !request.query.is_empty() {
        target.push('?');
        target.push_str(&request.query_string());
    }
    let mut builder = Request::builder()
        .method(Method::from_bytes(request.method.as_bytes()).ok()?)
        .uri(Uri::try_from(target).ok()?);
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        builder = builder.header(name, HeaderValue::from_str(value).ok()?);
    }
    builder.body(Bytes::from(request.body())).ok()
}

/// A request sent by the client and read by the emulator's pipeline, as the emulator sees it.
/// `None` when it cannot travel over HTTP or the pipeline refuses it before verification.
pub fn over_the_wire(request: &SignableRequest) -> Option<Incoming> {
    let (parts, body) = to_http(request)?.into_parts();
    incoming(&parts.method, &parts.uri, &parts.headers, body).ok()
}

/// Signs `query` and `form` (`POST /` to [`HOST`]) with `secret` under either scheme, sends
/// the request over the wire and checks it in a key store holding the same secret: it must
/// verify, and with the value of `query` pair `flip` changed (indexes past the query run on
/// into the form) it must not. In V1 the `Signature` parameter is never signed, so flipping
/// one of those is skipped. Panics when a check fails.
pub fn check_round_trip(
    version: SignatureVersion,
    sts: bool,
    secret: &str,
    query: &[(String, String)],
    form: &[(String, String)],
    flip: Option<usize>,
) {
    let credential = match sts {
        false => Credential::new(KEY_ID, secret),
        true => Credential::new(STS_KEY_ID, secret).with_security_token(STS_TOKEN),
    };
    let mut headers = vec![
        ("x-acs-action".to_string(), "ListCustomImages".to_string()),
        ("x-acs-version".to_string(), "2020-06-01".to_string()),
    ];
    if !form.is_empty() {
        let form_type = "application/x-www-form-urlencoded";
        headers.push(("content-type".into(), form_type.into()));
    }
    let unsigned = SignableRequest {
        method: "POST".into(),
        host: HOST.into(),
        path: "/".into(),
        query: query.to_vec(),
        headers,
        form: form.to_vec(),
    };
    if unsigned.body().len() > MAX_BODY {
        return;
    }
    let clock = Arc::new(ManualClock::new(now()));
    let nonce = Arc::new(FixedNonce("0123456789abcdef0123456789abcdef".into()));
    let mut signed = unsigned;
    Signer::with_sources(version, clock, nonce).sign(&mut signed, &credential);
    let keys = key_store(KEY_ID, secret);

    // The signer appends its own query parameters after the caller's and leaves the form
    // alone, so the caller's pair `i` is at the same place in the signed request.
    if let Some(i) = flip.filter(|&i| i < query.len() + form.len()) {
        let mut flipped = signed.clone();
        let pair = match i < query.len() {
            true => &mut flipped.query[i],
            false => &mut flipped.form[i - query.len()],
        };
        if version == SignatureVersion::V3 || pair.0 != "Signature" {
            pair.1.push('x');
            let wire = over_the_wire(&flipped).expect("a changed request travels over HTTP");
            assert!(
                keys.verify(&wire, now()).is_err(),
                "{version:?} request with pair {i} changed still verifies: {flipped:?}"
            );
        }
    }

    let wire = over_the_wire(&signed).expect("a signed request travels over HTTP");
    let expected = Caller {
        account: ACCOUNT,
        access_key_id: credential.access_key_id().to_string(),
    };
    match keys.verify(&wire, now()) {
        Ok(caller) => assert_eq!(caller, expected),
        Err(e) => panic!("{version:?} signature does not verify: {e:?}\n{signed:?}"),
    }
}

/// Fuzz target `signing`: byte 0 picks the scheme (bit 0: V1), STS (bit 1), whether the
/// parameters go in the form body (bit 2) and which one to flip (the rest); the remaining
/// bytes, split at NUL, are the secret and then alternating keys and values.
pub fn signing(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let version = match flags & 1 {
        0 => SignatureVersion::V3,
        _ => SignatureVersion::V1,
    };
    let sts = flags & 2 != 0;
    let in_form = flags & 4 != 0;
    let mut fields = rest
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let secret = fields.next().unwrap_or_default();
    let mut params = Vec::new();
    while let Some(key) = fields.next() {
        params.push((key, fields.next().unwrap_or_default()));
    }
    let flip = match params.is_empty() {
        true => None,
        false => Some(usize::from(flags >> 3) % params.len()),
    };
    match in_form {
        false => check_round_trip(version, sts, &secret, &params, &[], flip),
        true => check_round_trip(version, sts, &secret, &[], &params, flip),
    }
}

/// Reads `body` as the answer of `O` and checks what comes out.
fn answer<O: Operation>(status: u16, retry_after: Option<Duration>, body: &[u8]) {
    match read_answer::<O::Response>(O::ACTION, status, retry_after, body) {
        Ok(_) => assert!(
            (200..300).contains(&status),
            "{}: HTTP {status} read as a success",
            O::ACTION
        ),
        Err(error) => {
            let _ = (error.to_string(), error.summary(), error.class().as_str());
            match &error {
                SwasError::Api { code, .. } => {
                    assert!(!(200..300).contains(&status), "a 2xx read as an API error");
                    assert!(!code.is_empty(), "an API error without a code");
                }
                SwasError::Decode { excerpt, .. } => check_excerpt(excerpt),
                other => panic!("{}: reading an answer gave {other:?}", O::ACTION),
            }
        }
    }
}

/// A decode error quotes at most 256 characters of the body, none of them control characters.
fn check_excerpt(excerpt: &str) {
    assert!(excerpt.chars().count() <= 256, "excerpt too long");
    assert!(
        !excerpt.chars().any(char::is_control),
        "control characters in {excerpt:?}"
    );
}

/// Every operation's answer type, read from `body` with `status`.
fn answer_all(status: u16, retry_after: Option<Duration>, body: &[u8]) {
    answer::<CreateCustomImage>(status, retry_after, body);
    answer::<ListCustomImages>(status, retry_after, body);
    answer::<DeleteCustomImages>(status, retry_after, body);
    answer::<ModifyImageShareStatus>(status, retry_after, body);
    answer::<AddCustomImageShareAccount>(status, retry_after, body);
    answer::<RemoveCustomImageShareAccount>(status, retry_after, body);
    answer::<ListCustomImageShareAccounts>(status, retry_after, body);
    answer::<TagResources>(status, retry_after, body);
    answer::<UntagResources>(status, retry_after, body);
    answer::<ListTagResources>(status, retry_after, body);
}

/// Decodes `value` (already parsed JSON) as every answer type; only panics count.
fn from_value_all(value: &Value) {
    fn one<O: Operation>(value: &Value) {
        let _ = serde_json::from_value::<O::Response>(value.clone());
    }
    one::<CreateCustomImage>(value);
    one::<ListCustomImages>(value);
    one::<DeleteCustomImages>(value);
    one::<ListCustomImageShareAccounts>(value);
    one::<ListTagResources>(value);
}

/// Fuzz target `client_response`: `data` as the body of every operation's answer, with a
/// success, client-error, throttled and server-error status, and as a bare decode error.
pub fn client_response(data: &[u8]) {
    answer_all(200, None, data);
    answer_all(400, None, data);
    answer_all(404, None, data);
    answer_all(429, Some(Duration::from_millis(1500)), data);
    answer_all(503, None, data);
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        from_value_all(&value);
    }
    match SwasError::decode("ListCustomImages", 502, data) {
        SwasError::Decode { ref excerpt, .. } => check_excerpt(excerpt),
        other => panic!("decode built {other:?}"),
    }
}

thread_local! {
    /// One single-threaded runtime per thread (one per process under the fuzzer).
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// One step of an [`emulator_request`] script.
#[derive(Debug)]
enum Step<'a> {
    /// Move the emulator's clock by this many milliseconds.
    Tick(i64),
    /// Send a request.
    Send(RawRequest<'a>),
}

/// A request as the script spells it.
#[derive(Debug)]
struct RawRequest<'a> {
    /// `None` to send it as written, or the scheme and whether to sign with the STS key.
    sign: Option<(SignatureVersion, bool)>,
    method: &'a [u8],
    target: &'a [u8],
    headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
}

/// The first line of `text` (without `\r\n` / `\n`) and the rest.
fn split_line(text: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match text.iter().position(|b| *b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[][..]),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), rest)
}

/// The chunks of a script, split at [`STEP_SEPARATOR`].
fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(at) = data
        .windows(STEP_SEPARATOR.len())
        .position(|w| w == STEP_SEPARATOR)
    {
        out.push(&data[..at]);
        data = &data[at + STEP_SEPARATOR.len()..];
    }
    out.push(data);
    out
}

/// Reads one step: `tick <ms>`, or `<mode> <METHOD> <target>` with mode `raw`, `v1`, `v3`,
/// `v1-sts` or `v3-sts`, then `name: value` header lines, a blank line and the body.
fn parse_step(chunk: &[u8]) -> Option<Step<'_>> {
    let (line, mut rest) = split_line(chunk);
    let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
    let mode = words.next()?;
    if mode == b"tick" {
        let ms: i64 = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
        return Some(Step::Tick(ms.clamp(-MAX_TICK_MS, MAX_TICK_MS)));
    }
    let sign = match mode {
        b"raw" => None,
        b"v1" => Some((SignatureVersion::V1, false)),
        b"v3" => Some((SignatureVersion::V3, false)),
        b"v1-sts" => Some((SignatureVersion::V1, true)),
        b"v3-sts" => Some((SignatureVersion::V3, true)),
        _ => return None,
    };
    let method = words.next()?;
    let target = words.next()?;
    let mut headers = Vec::new();
    while !rest.is_empty() {
        let (line, after) = split_line(rest);
        rest = after;
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            headers.push((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()));
        }
    }
    Some(Step::Send(RawRequest {
        sign,
        method,
        target,
        headers,
        body: rest,
    }))
}

/// The HTTP request a step sends: as written, or signed first with the fuzz keys (query and
/// form body taken from the written request, the nonce unique to the step).
fn build(raw: &RawRequest<'_>, clock: Arc<ManualClock>, step: usize) -> Option<Request<Body>> {
    let method = Method::from_bytes(raw.method).ok()?;
    let uri = Uri::try_from(raw.target).ok()?;
    let Some((version, sts)) = raw.sign else {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in &raw.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                builder = builder.header(name, value);
            }
        }
        return builder.body(Body::from(raw.body.to_vec())).ok();
    };
    let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(str::to_string);
    let headers: Vec<(String, String)> = raw
        .headers
        .iter()
        .filter_map(|(name, value)| Some((text(name)?, text(value)?)))
        .collect();
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or_else(|| HOST.to_string(), |(_, value)| value.clone());
    let mut request = SignableRequest {
        method: method.as_str().to_string(),
        host,
        path: uri.path().to_string(),
        query: decode_pairs(uri.query().unwrap_or_default().as_bytes()),
        headers,
        form: decode_pairs(raw.body),
    };
    let nonce = Arc::new(FixedNonce(format!("fuzz-nonce-{step}")));
    Signer::with_sources(version, clock, nonce).sign(&mut request, &credential(sts));
    Some(to_http(&request)?.map(Body::from))
}

/// Whether a path may reach the fault-injection admin endpoints, which answer 5xx and sleep
/// on purpose and are left out of fuzzing.
fn reaches_faults(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    path.contains("fault") || path.contains('%')
}

/// Sends one request through the router; the status and the whole body.
async fn send(app: Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = match app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    (status, body)
}

/// An emulator in memory with the fuzz keys, seeded servers and the clock at [`NOW`].
fn fuzz_emulator(clock: Arc<ManualClock>) -> Arc<Emulator> {
    let config = EmulatorConfig {
        keys: vec![(KEY_ID.into(), SECRET.into(), ACCOUNT)],
        state_file: None,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::new(config, clock).expect("an in-memory emulator starts");
    emulator.keys.add_temporary(
        STS_KEY_ID.into(),
        TemporaryKey {
            secret: STS_SECRET.into(),
            token: STS_TOKEN.into(),
            account: ACCOUNT,
            expires: now() + SignedDuration::from_hours(1),
        },
    );
    Arc::new(emulator)
}

/// Fuzz target `emulator_request`: runs a script of at most eight steps, separated by lines
/// of `---`, against a fresh emulator (see [`parse_step`] for a step). Steps that do not parse
/// or cannot be built are skipped. Every answer must be free of 5xx, and every answer of the
/// SWAS endpoint must read in the client as a result or a service error, never as garbage.
/// Returns the status of every request sent, so seed replays can check they go deep.
pub fn emulator_request(data: &[u8]) -> Vec<u16> {
    let clock = Arc::new(ManualClock::new(now()));
    let app = router(fuzz_emulator(clock.clone()));
    let mut statuses = Vec::new();
    for (n, chunk) in chunks(data).into_iter().take(MAX_STEPS).enumerate() {
        let request = match parse_step(chunk) {
            None => continue,
            Some(Step::Tick(ms)) => {
                clock.advance(SignedDuration::from_millis(ms));
                continue;
            }
            Some(Step::Send(raw)) => match build(&raw, clock.clone(), n) {
                Some(request) => request,
                None => continue,
            },
        };
        let path = request.uri().path().to_string();
        if reaches_faults(&path) {
            continue;
        }
        let (status, body) = RUNTIME.with(|runtime| runtime.block_on(send(app.clone(), request)));
        assert!(
            !status.is_server_error(),
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if path == "/" {
            match read_answer::<Value>("(fuzz)", status.as_u16(), None, &body) {
                Ok(_) | Err(SwasError::Api { .. }) => {}
                Err(other) => panic!("the client cannot read the emulator's answer: {other}"),
            }
        }
        statuses.push(status.as_u16());
    }
    statuses
}
