//! The HTTP face of the emulator: the SWAS RPC endpoint on `/`, the credential services, and
//! the admin endpoints under `/admin/` (audit log, state, faults, reset).
//!
//! One SWAS call goes: read and bound the body -> verify the signature -> find the action ->
//! injected latency and faults -> `ClientToken` replay check -> act -> record the token ->
//! save the state -> answer (or, for a drop fault, break the connection after acting).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde_json::{Value, json};

use super::api::{ACTIONS, Call, MUTATING, dispatch};
use super::audit::{Entry, Outcome};
use super::auth::{Caller, Incoming};
use super::error::ApiError;
use super::faults::{Decision, FaultConfig, OneShot};
use super::request::{Params, decode_pairs};
use super::state::Recorded;
use super::{Emulator, sts};
use crate::swas::ops::API_VERSION;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The emulator's routes.
pub fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/", any(swas))
        .route("/sts/", any(sts::assume_role_with_oidc))
        .route("/latest/api/token", put(sts::metadata_token))
        .route(
            "/latest/meta-data/ram/security-credentials/",
            get(sts::metadata_role),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            get(sts::metadata_credentials),
        )
        .route("/admin/audit", get(audit).delete(clear_audit))
        .route("/admin/state", get(state))
        .route("/admin/faults", get(faults).put(set_faults))
        .route("/admin/faults/next", post(push_fault))
        .route("/admin/reset", post(reset))
        .route("/admin/health", get(|| async { "ok" }))
        .fallback(|| async { error_response(&ApiError::unknown_action("(unknown path)")) })
        .with_state(emulator)
}

/// A request ID shaped like the service's.
pub fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let value = "application/json;charset=utf-8"
        .parse()
        .expect("static header value");
    response.headers_mut().insert("content-type", value);
    response
}

fn error_response(error: &ApiError) -> Response {
    let body = json!({
        "RequestId": request_id(),
        "HostId": "swas.aliyuncs.com",
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}", error.code),
    });
    let mut response = json_response(error.status, &body);
    if let Some(ms) = error.retry_after_ms {
        response
            .headers_mut()
            .insert("x-acs-retry-after", ms.into());
    }
    response
}

/// An answer whose body fails after the headers: the client sees a broken connection.
fn dropped_response() -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    });
    Response::new(Body::from_stream(broken))
}

/// Reads a request the way the pipeline does: bounded body, form body only, query and form
/// decoded, header names as `http` lower-cases them.
pub(crate) fn incoming(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Incoming, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("The body exceeds {MAX_BODY} bytes."),
        ));
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = match body.is_empty() {
        true => Vec::new(),
        false if content_type.starts_with("application/x-www-form-urlencoded") => {
            decode_pairs(&body)
        }
        false => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "Content-Type {content_type:?} is not supported; \
                     use application/x-www-form-urlencoded."
                ),
            ));
        }
    };
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Incoming {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: decode_pairs(uri.query().unwrap_or_default().as_bytes()),
        form,
        headers,
        body: body.to_vec(),
    })
}

async fn swas(
    State(emulator): State<Arc<Emulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = emulator.clock.now();
    let mut entry = Entry {
        seq: 0,
        time: now,
        account: None,
        action: String::new(),
        params: Default::default(),
        client_token: None,
        status: 200,
        code: None,
        outcome: Outcome::Ok,
    };
    let response = serve_swas(&emulator, &method, &uri, &headers, body, &mut entry).await;
    entry.status = response.status().as_u16();
    emulator
        .audit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(entry);
    response
}

async fn serve_swas(
    emulator: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    entry: &mut Entry,
) -> Response {
    let fail = |entry: &mut Entry, outcome: Outcome, error: ApiError| {
        entry.outcome = outcome;
        entry.code = Some(error.code.clone());
        error_response(&error)
    };
    if method != Method::POST && method != Method::GET {
        let error = ApiError::new(400, "UnsupportedHTTPMethod", "Use POST or GET.");
        return fail(entry, Outcome::Error, error);
    }
    let request = match incoming(method, uri, headers, body) {
        Ok(request) => request,
        Err(error) => return fail(entry, Outcome::Error, error),
    };
    let params = Params::from_pairs(request.query.iter().chain(&request.form));
    entry.params = params.api_params();
    entry.client_token = params.opt("ClientToken").map(str::to_string);
    let action = request
        .header("x-acs-action")
        .or_else(|| request.param("Action"))
        .unwrap_or("");
    entry.action = action.to_string();

    let now = emulator.clock.now();
    let caller = match emulator.keys.verify(&request, now) {
        Ok(caller) => caller,
        Err(error) => return fail(entry, Outcome::Rejected, error),
    };
    entry.account = Some(caller.account);
    if action.is_empty() {
        return fail(entry, Outcome::Error, ApiError::missing("Action"));
    }
    if !ACTIONS.contains(&action) {
        return fail(entry, Outcome::Error, ApiError::unknown_action(action));
    }
    let version = request
        .header("x-acs-version")
        .or_else(|| request.param("Version"));
    if version != Some(API_VERSION) {
        let error = ApiError::invalid("Version", format!("{version:?}; this API is {API_VERSION}"));
        return fail(entry, Outcome::Error, error);
    }

    let (latency, decision) = {
        let mut faults = emulator.faults.lock().unwrap_or_else(|e| e.into_inner());
        let now_ms = u64::try_from(now.as_millisecond()).unwrap_or_default();
        (faults.latency(), faults.decide(action, now_ms))
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let drop_after = match decision {
        Decision::Error => return fail(entry, Outcome::InjectedError, ApiError::internal()),
        Decision::Throttle(ms) => return fail(entry, Outcome::Throttled, ApiError::throttled(ms)),
        Decision::Serve { drop_after } => drop_after,
    };

    match act(emulator, &caller, action, &params) {
        Ok((body, replayed)) => {
            entry.outcome = match (drop_after, replayed) {
                (true, _) => Outcome::Dropped,
                (false, true) => Outcome::Replayed,
                (false, false) => Outcome::Ok,
            };
            match drop_after {
                true => dropped_response(),
                false => json_response(StatusCode::OK, &body),
            }
        }
        Err(error) => fail(entry, Outcome::Error, error),
    }
}

/// Runs the action under the state lock, with `ClientToken` idempotency. Returns the answer
/// and whether it was replayed.
fn act(
    emulator: &Emulator,
    caller: &Caller,
    action: &str,
    params: &Params,
) -> Result<(Value, bool), ApiError> {
    let now = emulator.clock.now();
    let mut world = emulator.world.lock().unwrap_or_else(|e| e.into_inner());
    let mutating = MUTATING.contains(&action);
    let token = params.opt("ClientToken").filter(|_| mutating);
    let key = token.map(|t| format!("{}/{action}/{t}", caller.account));
    let api_params = params.api_params();
    if let Some(recorded) = key.as_ref().and_then(|k| world.tokens.get(k)) {
        return match recorded.params == api_params {
            true => Ok((recorded.body.clone(), true)),
            false => Err(ApiError::new(
                400,
                "IdempotentParameterMismatch",
                "The ClientToken was already used with other parameters.",
            )),
        };
    }

    let call = Call {
        account: caller.account,
        action,
        params,
        now,
        behaviour: &emulator.behaviour,
    };
    let mut body = dispatch(&mut world, &call)?;
    body["RequestId"] = json!(request_id());
    if let Some(key) = key {
        world.tokens.insert(
            key,
            Recorded {
                params: api_params,
                body: body.clone(),
            },
        );
    }
    if mutating
        && let Some(path) = &emulator.config.state_file
        && let Err(e) = world.save(path)
    {
        tracing::warn!(error = %e, path = %path.display(), "cannot save emulator state");
    }
    Ok((body, false))
}

#[derive(serde::Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn audit(State(emulator): State<Arc<Emulator>>, Query(q): Query<Since>) -> Response {
    let entries = emulator
        .audit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .since(q.since);
    axum::Json(entries).into_response()
}

async fn clear_audit(State(emulator): State<Arc<Emulator>>) -> StatusCode {
    emulator
        .audit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

async fn state(State(emulator): State<Arc<Emulator>>) -> Response {
    let world = emulator
        .world
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    axum::Json(world).into_response()
}

async fn faults(State(emulator): State<Arc<Emulator>>) -> Response {
    let faults = emulator.faults.lock().unwrap_or_else(|e| e.into_inner());
    axum::Json(json!({ "config": faults.config(), "counts": faults.counts() })).into_response()
}

async fn set_faults(
    State(emulator): State<Arc<Emulator>>,
    axum::Json(config): axum::Json<FaultConfig>,
) -> StatusCode {
    emulator
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .configure(config);
    StatusCode::NO_CONTENT
}

async fn push_fault(
    State(emulator): State<Arc<Emulator>>,
    axum::Json(rule): axum::Json<OneShot>,
) -> StatusCode {
    emulator
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(rule);
    StatusCode::NO_CONTENT
}

async fn reset(State(emulator): State<Arc<Emulator>>) -> StatusCode {
    emulator.reset();
    StatusCode::NO_CONTENT
}
