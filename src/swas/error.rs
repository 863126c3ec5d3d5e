//! The one error type of the SWAS client, and its classification.
//!
//! Every failure of a call (an API error answer, a transport failure, an answer that is not
//! the expected JSON, a request refused before sending, missing credentials) becomes a
//! [`SwasError`]. [`SwasError::class`] sorts it once into an [`ErrorClass`], and callers
//! decide on the class, never on message text.

use std::time::Duration;

use super::credentials::CredentialError;

/// How many bytes of an unexpected body are kept in an error.
const BODY_EXCERPT: usize = 256;

/// What kind of failure an error is, which decides what a caller does about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The image does not exist (`InvalidImageId.NotFound`); on delete this means done.
    NotFound,
    /// The image is shared and must be unshared first (`CustomImageInShare`).
    InShare,
    /// Flow control (`Throttling*`); wait, honouring the retry-after hint.
    Throttled,
    /// The credentials are wrong or lack permission; a person has to act.
    Auth,
    /// The request itself is wrong; retrying the same request will not help.
    InvalidRequest,
    /// The service failed (5xx or an unreadable answer); retry later.
    Server,
    /// The request or response was lost on the way; retry later.
    Transport,
}

impl ErrorClass {
    /// Whether repeating the same call later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Server | Self::Transport)
    }

    /// A fixed label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::InShare => "in_share",
            Self::Throttled => "throttled",
            Self::Auth => "auth",
            Self::InvalidRequest => "invalid_request",
            Self::Server => "server",
            Self::Transport => "transport",
        }
    }
}

/// A failed SWAS call.
#[derive(Debug, thiserror::Error)]
pub enum SwasError {
    /// The service answered with an error.
    #[error("{action} failed: HTTP {status} {code}: {message} (RequestId {request_id})")]
    Api {
        /// The API action called.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// The error `Code`.
        code: String,
        /// The error `Message`.
        message: String,
        /// The `RequestId`, for Alibaba support.
        request_id: String,
        /// The `x-acs-retry-after` hint, if any.
        retry_after: Option<Duration>,
    },
    /// The request or its answer was lost (connect, timeout, reset).
    #[error("{action} failed in transport: {source}")]
    Transport {
        /// The API action called.
        action: &'static str,
        /// The cause, stripped of the URL (V1 URLs carry the security token).
        source: reqwest::Error,
    },
    /// The answer could not be read as the expected JSON.
    #[error("{action} answered HTTP {status} with an unexpected body: {excerpt}")]
    Decode {
        /// The API action called.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// The start of the body, cut to a safe length.
        excerpt: String,
    },
    /// The request was refused before sending because it breaks an API limit.
    #[error("{action} not sent: {reason}")]
    Invalid {
        /// The API action.
        action: &'static str,
        /// Which limit.
        reason: String,
    },
    /// No credentials to sign with.
    #[error("no credentials for {action}: {source}")]
    Credentials {
        /// The API action.
        action: &'static str,
        /// Why.
        source: CredentialError,
    },
}

impl SwasError {
    /// Builds a decode error, keeping only the start of the body.
    pub fn decode(action: &'static str, status: u16, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]);
        let excerpt: String = text.chars().filter(|c| !c.is_control()).collect();
        Self::Decode {
            action,
            status,
            excerpt,
        }
    }

    /// The error without its request ID, for messages that must stay the same from one
    /// attempt to the next.
    pub fn summary(&self) -> String {
        match self {
            Self::Api {
                action,
                status,
                code,
                message,
                ..
            } => {
                format!("{action} failed: HTTP {status} {code}: {message}")
            }
            other => other.to_string(),
        }
    }

    /// The API action the error belongs to.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Api { action, .. }
            | Self::Transport { action, .. }
            | Self::Decode { action, .. }
            | Self::Invalid { action, .. }
            | Self::Credentials { action, .. } => action,
        }
    }

    /// The service's error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The retry-after hint of a throttled call.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Sorts the error into the class that decides what to do about it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Api {
                status,
                code,
                retry_after,
                ..
            } => classify_api(*status, code, retry_after.is_some()),
            Self::Transport { .. } => ErrorClass::Transport,
            Self::Decode { .. } => ErrorClass::Server,
            Self::Invalid { .. } => ErrorClass::InvalidRequest,
            Self::Credentials { source, .. } => match source {
                CredentialError::Service { .. } => ErrorClass::Transport,
                _ => ErrorClass::Auth,
            },
        }
    }
}

/// Codes that mean the caller's identity or permissions are wrong.
const AUTH_CODES: &[&str] = &[
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurityToken.Expired",
    "InvalidSecurityToken.Malformed",
    "InvalidSecurityToken.MismatchWithAccessKey",
    "InvalidTimeStamp.Expired",
    "InvalidTimeStamp.Format",
    "NoPermission",
];

fn classify_api(status: u16, code: &str, has_retry_after: bool) -> ErrorClass {
    if has_retry_after || code.contains("Throttling") {
        return ErrorClass::Throttled;
    }
    match code {
        "InvalidImageId.NotFound" => return ErrorClass::NotFound,
        "CustomImageInShare" => return ErrorClass::InShare,
        // A reused nonce is a one-off; a fresh request gets a fresh nonce.
        "SignatureNonceUsed" | "ServiceUnavailable" => return ErrorClass::Server,
        _ => {}
    }
    if AUTH_CODES.contains(&code) || code.starts_with("Forbidden") || status == 401 {
        return ErrorClass::Auth;
    }
    match status {
        500.. => ErrorClass::Server,
        403 => ErrorClass::Auth,
        _ => ErrorClass::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases = [
            (404, "InvalidImageId.NotFound", ErrorClass::NotFound),
            (400, "CustomImageInShare", ErrorClass::InShare),
            (400, "Throttling.User", ErrorClass::Throttled),
            (400, "Throttling.Api", ErrorClass::Throttled),
            (400, "Rejected.Throttling", ErrorClass::Throttled),
            (404, "InvalidAccessKeyId.NotFound", ErrorClass::Auth),
            (400, "SignatureDoesNotMatch", ErrorClass::Auth),
            (403, "Forbidden.RAM", ErrorClass::Auth),
            (403, "NoPermission", ErrorClass::Auth),
            (400, "InvalidParameter", ErrorClass::InvalidRequest),
            (400, "MissingParameter", ErrorClass::InvalidRequest),
            (500, "InternalError", ErrorClass::Server),
            (503, "ServiceUnavailable", ErrorClass::Server),
            (400, "SignatureNonceUsed", ErrorClass::Server),
        ];
        for (status, code, class) in cases {
            assert_eq!(classify_api(status, code, false), class, "{status} {code}");
        }
        assert_eq!(classify_api(400, "Anything", true), ErrorClass::Throttled);
    }

    #[test]
    fn decode_error_keeps_a_short_excerpt() {
        let body = vec![b'x'; 10_000];
        let SwasError::Decode { excerpt, .. } = SwasError::decode("ListCustomImages", 502, &body)
        else {
            panic!("not a decode error");
        };
        assert_eq!(excerpt.len(), BODY_EXCERPT);
    }

    #[test]
    fn retryable_classes() {
        assert!(ErrorClass::Throttled.is_retryable());
        assert!(ErrorClass::Server.is_retryable());
        assert!(ErrorClass::Transport.is_retryable());
        assert!(!ErrorClass::Auth.is_retryable());
        assert!(!ErrorClass::NotFound.is_retryable());
    }
}
