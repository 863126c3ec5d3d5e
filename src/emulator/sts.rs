//! The credential services of the emulated cloud: STS `AssumeRoleWithOIDC` under `/sts/` and
//! the ECS instance metadata paths under `/latest/`. The temporary keys they issue are
//! registered with the key store, so SWAS calls signed with them work until they expire.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde_json::json;

use super::Emulator;
use super::auth::TemporaryKey;
use super::request::decode_pairs;
use crate::swas::sign::format_timestamp;

fn random_text(len: usize) -> String {
    use rand::Rng;
    let alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Issues a temporary key for `account`, valid for `seconds`.
fn issue(emulator: &Emulator, account: u64, seconds: i64) -> serde_json::Value {
    let now = emulator.clock.now();
    let expires = now
        .saturating_add(SignedDuration::from_secs(seconds))
        .unwrap_or(now);
    let id = format!("STS.{}", random_text(24));
    let key = TemporaryKey {
        secret: random_text(30),
        token: format!("CAIS{}", random_text(96)),
        account,
        expires,
    };
    let answer = json!({
        "AccessKeyId": id,
        "AccessKeySecret": key.secret,
        "SecurityToken": key.token,
        "Expiration": format_timestamp(expires),
    });
    emulator.keys.add_temporary(id, key);
    answer
}

fn sts_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "RequestId": super::http::request_id(), "Code": code, "Message": message });
    (status, axum::Json(body)).into_response()
}

/// `AssumeRoleWithOIDC`, anonymous, parameters in the query or a form body.
pub async fn assume_role_with_oidc(
    State(emulator): State<Arc<Emulator>>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    let mut pairs = decode_pairs(uri.query().unwrap_or_default().as_bytes());
    pairs.extend(decode_pairs(&body));
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if get("Action") != "AssumeRoleWithOIDC" {
        return sts_error(
            StatusCode::NOT_FOUND,
            "InvalidApi.NotFound",
            "Only AssumeRoleWithOIDC is emulated.",
        );
    }
    for name in ["RoleArn", "OIDCProviderArn", "OIDCToken"] {
        if get(name).is_empty() {
            return sts_error(
                StatusCode::BAD_REQUEST,
                &format!("Missing{name}"),
                &format!("{name} is mandatory."),
            );
        }
    }
    let account = get("RoleArn")
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(":role/"))
        .and_then(|(account, _)| account.parse::<u64>().ok());
    let Some(account) = account else {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter.RoleArn",
            "RoleArn is not valid.",
        );
    };
    if get("OIDCToken").trim() == emulator.config.rejected_oidc_token {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "AuthenticationFail.OIDCToken.Invalid",
            "The OIDC token is not valid.",
        );
    }
    let seconds = get("DurationSeconds")
        .parse::<i64>()
        .unwrap_or(3600)
        .clamp(900, 43_200);
    let seconds = seconds.min(emulator.config.max_sts_seconds);
    let credentials = issue(&emulator, account, seconds);
    let body = json!({
        "RequestId": super::http::request_id(),
        "AssumedRoleUser": { "Arn": get("RoleArn"), "AssumedRoleId": "300000000000000000:session" },
        "Credentials": credentials,
    });
    axum::Json(body).into_response()
}

/// `PUT /latest/api/token`: a metadata session token.
pub async fn metadata_token(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    if headers
        .get("x-aliyun-ecs-metadata-token-ttl-seconds")
        .is_none()
    {
        return (StatusCode::BAD_REQUEST, "missing ttl header").into_response();
    }
    emulator.metadata_token.clone().into_response()
}

fn token_ok(emulator: &Emulator, headers: &HeaderMap) -> bool {
    match headers.get("x-aliyun-ecs-metadata-token") {
        Some(value) => value.as_bytes() == emulator.metadata_token.as_bytes(),
        None => true,
    }
}

/// `GET /latest/meta-data/ram/security-credentials/`: the role name.
pub async fn metadata_role(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    if !token_ok(&emulator, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    emulator.config.ecs_role.clone().into_response()
}

/// `GET /latest/meta-data/ram/security-credentials/<role>`: the role's temporary keys.
pub async fn metadata_credentials(
    State(emulator): State<Arc<Emulator>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !token_ok(&emulator, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != emulator.config.ecs_role {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut credentials = issue(
        &emulator,
        emulator.config.account,
        emulator.config.max_sts_seconds,
    );
    credentials["Code"] = json!("Success");
    credentials["LastUpdated"] = json!(format_timestamp(emulator.clock.now()));
    axum::Json(credentials).into_response()
}
