//! The `CustomImage` resource (`swas.image-operator.dev/v1alpha1`): what platform teams
//! declare, and what the operator reports back.
//!
//! Every rule the apiserver can enforce lives in the schema (patterns, bounds, one-of and
//! immutability as CEL rules with readable messages), so `kubectl apply` rejects a bad spec
//! before the controller sees it. The CRD YAML in `crds/` is generated from these types
//! ([`crd_yaml`]) and a test fails when it is out of date.

mod status;

use std::collections::BTreeMap;

use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use status::*;

/// API group of the operator's resources.
pub const GROUP: &str = "swas.image-operator.dev";
/// The finalizer that guards every image.
pub const FINALIZER: &str = "swas.image-operator.dev/cleanup";
/// Annotation that pauses cloud mutations for one resource.
pub const PAUSED_ANNOTATION: &str = "swas.image-operator.dev/paused";
/// Annotation whose new value asks for a reconcile now.
pub const RECONCILE_ANNOTATION: &str = "swas.image-operator.dev/reconcile-requested-at";
/// The tag the operator puts on images it owns; its value is the owner's UID.
pub const OWNER_TAG: &str = "swas.image-operator.dev/owner-uid";

/// A SWAS custom image, created from a server's snapshots or adopted by ID.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "swas.image-operator.dev",
    version = "v1alpha1",
    kind = "CustomImage",
    namespaced,
    shortname = "swasimage",
    status = "CustomImageStatus",
    printcolumn = r#"{"name":"Image ID","type":"string","jsonPath":".status.imageId"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.regionId"}"#,
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Shared","type":"boolean","jsonPath":".status.inShare"}"#,
    printcolumn = r#"{"name":"Ready","type":"string",
        "jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.imageId) != has(self.source)")
        .message("set exactly one of imageId (adopt an existing image) or source (create one)"),
    validation = Rule::new("!has(self.source) || has(self.imageName)")
        .message("imageName is required when creating from source"),
    validation = Rule::new("has(self.source) || (!has(self.imageName) && !has(self.description))")
        .message("imageName and description only apply when creating from source"),
    validation = Rule::new("has(self.imageId) == has(oldSelf.imageId)")
        .message("cannot switch between adopting (imageId) and creating (source)"),
    validation = Rule::new("has(self.description) == has(oldSelf.description)")
        .message("description is immutable: SWAS cannot change an image's description"),
)]
pub struct CustomImageSpec {
    /// Region of the image, e.g. `cn-hangzhou`. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("regionId is immutable"))]
    #[schemars(regex(pattern = r"^[a-z]{2,}(-[a-z0-9]+)+$"), length(max = 64))]
    pub region_id: String,

    /// Adopt this existing image instead of creating one. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("imageId is immutable"))]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$"))]
    pub image_id: Option<String>,

    /// Create the image from this server's snapshots. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf")
        .message("source is immutable: SWAS cannot rebuild an image in place"))]
    pub source: Option<ImageSource>,

    /// Name of the created image: 2 to 128 letters, digits, `:`, `_`, `-` or `.`, starting
    /// with a letter or digit. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf")
        .message("imageName is immutable: SWAS cannot rename an image"))]
    #[schemars(regex(pattern = r"^[\p{L}\p{N}][\p{L}\p{N}:_.-]{1,127}$"))]
    pub image_name: Option<String>,

    /// Description of the created image (at most 256 characters). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf")
        .message("description is immutable: SWAS cannot change an image's description"))]
    #[schemars(length(max = 256))]
    pub description: Option<String>,

    /// Share the image to ECS.
    #[serde(default)]
    pub share_to_ecs: bool,

    /// Alibaba Cloud account IDs to share the image with (same region, at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 10),
        inner(regex(pattern = r"^[0-9]{1,20}$")),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub shared_accounts: Vec<String>,

    /// Tags to keep on the image (at most 19; the operator adds one ownership tag).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 19,
        "additionalProperties" = {"type": "string", "maxLength": 64}
    ))]
    #[x_kube(
        validation = Rule::new("self.all(k, k.size() >= 1 && k.size() <= 64 \
            && !k.startsWith('acs:') && !k.startsWith('aliyun') \
            && !k.contains('http://') && !k.contains('https://'))")
            .message("tag keys are 1 to 64 characters, must not start with acs: or aliyun, \
                and must not contain URLs"),
        validation = Rule::new("self.all(k, !self[k].contains('http://') \
            && !self[k].contains('https://'))")
            .message("tag values must not contain URLs"),
        validation = Rule::new("!('swas.image-operator.dev/owner-uid' in self)")
            .message("the tag swas.image-operator.dev/owner-uid is reserved for the operator"),
    )]
    pub tags: BTreeMap<String, String>,

    /// What happens to the image when the resource is deleted: `Delete` (default) or `Retain`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// A Secret in the same namespace with `accessKeyId`, `accessKeySecret` and optional
    /// `securityToken`. Without it the operator's default credential chain is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretReference>,
}

/// The snapshots an image is made from.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    /// The simple application server.
    #[schemars(length(min = 1, max = 64))]
    pub instance_id: String,
    /// Its system disk snapshot.
    #[schemars(length(min = 1, max = 64))]
    pub system_snapshot_id: String,
    /// Optionally, its data disk snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub data_snapshot_id: Option<String>,
}

/// A Secret in the resource's namespace.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretReference {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What deleting the resource does to the image.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeletionPolicy {
    /// Unshare and delete the image.
    #[default]
    Delete,
    /// Leave the image as it is.
    Retain,
}

/// The CRD as YAML, as checked in under `crds/`.
pub fn crd_yaml() -> String {
    let crd = CustomImage::crd();
    format!(
        "# Generated from src/crd by `swas-image-operator crd`; do not edit.\n{}",
        serde_norway::to_string(&crd).unwrap_or_default()
    )
}
