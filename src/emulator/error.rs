//! Error answers of the emulated service, with the codes, statuses and messages the real
//! service uses (where documented) so clients see exactly what they would see in the cloud.

use axum::http::StatusCode;

/// An error answer: HTTP status, `Code`, `Message`, and for throttling a retry-after hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The error `Code`.
    pub code: String,
    /// The error `Message`.
    pub message: String,
    /// Milliseconds for `x-acs-retry-after`.
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    /// An error with any status, code and message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.to_string(),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// `400 MissingParameter` naming the parameter.
    pub fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request \
                 is not supplied."
            ),
        )
    }

    /// `400 InvalidParameter` naming the parameter and why.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: {why}"),
        )
    }

    /// `404 InvalidImageId.NotFound`, as the DeleteCustomImages reference gives it.
    pub fn image_not_found() -> Self {
        Self::new(
            404,
            "InvalidImageId.NotFound",
            "The specified ImageId does not exist.",
        )
    }

    /// `400 CustomImageInShare`, byte for byte as the DeleteCustomImages reference gives it.
    pub fn in_share() -> Self {
        Self::new(
            400,
            "CustomImageInShare",
            "The custom image is in sharing,please unshare first then to retry.",
        )
    }

    /// `500 InternalError`, as the DeleteCustomImages reference gives it.
    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalError",
            "An error occurred while processing your request.",
        )
    }

    /// `400 Throttling.User` with a retry-after hint.
    pub fn throttled(retry_after_ms: u64) -> Self {
        let mut error = Self::new(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        );
        error.retry_after_ms = Some(retry_after_ms.max(1));
        error
    }

    /// `404 InvalidApi.NotFound` for an unknown action.
    pub fn unknown_action(action: &str) -> Self {
        Self::new(
            404,
            "InvalidApi.NotFound",
            format!("Specified api is not found, please check your url and method. ({action})"),
        )
    }
}
