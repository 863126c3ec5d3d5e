//! What the operator reports on a `CustomImage`: the image it manages, the image's state and
//! sharing, and kstatus-style conditions (`Ready`, `Reconciling`, `Stalled`), each with the
//! generation it describes, a fixed PascalCase reason and a message a person can act on.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of a `CustomImage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomImageStatus {
    /// The SWAS image this resource manages, recorded as soon as it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The image's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ImageState>,
    /// Whether the image is shared to ECS.
    #[serde(default)]
    pub in_share: bool,
    /// The accounts the image is shared with, as observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_accounts: Vec<String>,
    /// The generation of the spec the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last `swas.image-operator.dev/reconcile-requested-at` value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// `Ready`, `Reconciling` and `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The lifecycle state of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ImageState {
    /// SWAS is building the image.
    Creating,
    /// The image can be used.
    Available,
    /// SWAS reports the image as unavailable.
    Unavailable,
    /// Creation failed.
    Failed,
    /// The image is being unshared and deleted.
    Deleting,
}
