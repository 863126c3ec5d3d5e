//! Turning what a reconcile concluded into the resource's status, and writing it only when it
//! changed.
//!
//! Conditions follow kstatus: `Ready` is always present (True once converged); `Reconciling`
//! is present and True only while work is under way; `Stalled` only when progress needs a
//! person. Each carries the generation it describes, a fixed PascalCase reason and a message.
//! A condition keeps its `lastTransitionTime` while its status stays the same.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::cloud::ImageView;
use crate::crd::{CustomImage, CustomImageStatus, ImageState};
use crate::swas::ops::ImageStatus;

/// The field manager of every write the operator makes.
pub const MANAGER: &str = "swas-image-operator";

/// Where a resource stands after a reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Converged with the spec.
    Ready,
    /// Work under way.
    Progressing {
        /// PascalCase reason.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// No progress without a change by a person.
    Stalled {
        /// PascalCase reason.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The paused annotation is set.
    Paused,
    /// Seen for the first time; nothing is known yet (`Ready` is `Unknown`).
    Starting,
}

impl Phase {
    /// `Progressing` with a message.
    pub fn progressing(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Progressing {
            reason,
            message: message.into(),
        }
    }

    /// `Stalled` with a message.
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Stalled {
            reason,
            message: message.into(),
        }
    }

    /// The reason shown on `Ready`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Ready => "Available",
            Self::Progressing { reason, .. } | Self::Stalled { reason, .. } => reason,
            Self::Paused => "Paused",
            Self::Starting => "Reconciling",
        }
    }
}

/// The state field for an observed image.
pub fn image_state(image: &ImageView) -> ImageState {
    match image.status {
        ImageStatus::Available => ImageState::Available,
        ImageStatus::Creating | ImageStatus::Copying => ImageState::Creating,
        ImageStatus::CreateFailed => ImageState::Failed,
        ImageStatus::Unavailable | ImageStatus::Unknown => ImageState::Unavailable,
    }
}

fn condition(
    old: &[Condition],
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let previous = old.iter().find(|c| c.type_ == kind && c.status == status);
    let last_transition_time = previous
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(jiff::Timestamp::now()));
    Condition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// The conditions for `phase`, keeping transition times from `old`.
pub fn conditions(old: &[Condition], generation: Option<i64>, phase: &Phase) -> Vec<Condition> {
    match phase {
        Phase::Ready => {
            let message = "The image is available and matches the spec";
            vec![condition(
                old,
                "Ready",
                "True",
                "Available",
                message,
                generation,
            )]
        }
        Phase::Progressing { reason, message } => vec![
            condition(old, "Ready", "False", reason, message, generation),
            condition(old, "Reconciling", "True", reason, message, generation),
        ],
        Phase::Stalled { reason, message } => vec![
            condition(old, "Ready", "False", reason, message, generation),
            condition(old, "Stalled", "True", reason, message, generation),
        ],
        Phase::Paused => {
            let message = "Paused by the swas.image-operator.dev/paused annotation: no changes \
                           are made in the cloud and deletion waits";
            vec![condition(
                old, "Ready", "False", "Paused", message, generation,
            )]
        }
        Phase::Starting => {
            let message = "The operator has seen the resource and is looking at the cloud";
            vec![
                condition(old, "Ready", "Unknown", "Reconciling", message, generation),
                condition(
                    old,
                    "Reconciling",
                    "True",
                    "Reconciling",
                    message,
                    generation,
                ),
            ]
        }
    }
}

/// Writes `status` with server-side apply unless it equals the current one. Returns whether
/// it wrote.
pub async fn write(
    api: &Api<CustomImage>,
    object: &CustomImage,
    status: CustomImageStatus,
) -> Result<bool, kube::Error> {
    if object.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": CustomImage::api_version(&()),
        "kind": CustomImage::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(MANAGER).force();
    api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch))
        .await?;
    Ok(true)
}
