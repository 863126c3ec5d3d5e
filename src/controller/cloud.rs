//! The narrow interface between the controller and the cloud.
//!
//! The controller never builds SWAS requests itself: it asks for a [`Snapshot`] of a region
//! (all images, shared by every resource in that region), looks one image up freshly, and asks
//! for the few changes it makes. [`super::swas_cloud::SwasCloud`] implements this over the SWAS
//! client with batching and rate limiting; errors are the client's classified
//! [`SwasError`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use crate::crd::OWNER_TAG;
use crate::swas::credentials::Credential;
use crate::swas::ops::{CustomImage, ImageStatus};
use crate::swas::{SwasError, Tag};

/// An image as the controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageView {
    /// Image ID.
    pub id: String,
    /// Status reported by SWAS.
    pub status: ImageStatus,
    /// Shared to ECS.
    pub in_share: bool,
    /// Shared with other accounts.
    pub in_share_user: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ImageView {
    /// The UID of the resource that owns the image, from its ownership tag.
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }
}

impl From<CustomImage> for ImageView {
    fn from(image: CustomImage) -> Self {
        Self {
            status: image.status(),
            in_share: image.in_share,
            in_share_user: image.in_share_user,
            tags: image.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            id: image.image_id,
        }
    }
}

/// Every image of one region, as listed at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When the listing started; every change before this instant is in it.
    pub taken_at: Instant,
    /// Images by ID.
    pub images: HashMap<String, ImageView>,
}

impl Snapshot {
    /// The image with this ID.
    pub fn get(&self, id: &str) -> Option<&ImageView> {
        self.images.get(id)
    }

    /// The image tagged as owned by resource `uid`.
    pub fn owned_by(&self, uid: &str) -> Option<&ImageView> {
        self.images.values().find(|i| i.owner() == Some(uid))
    }
}

/// Whose credentials a call uses.
#[derive(Clone)]
pub enum Account {
    /// The operator's default credential chain.
    Default,
    /// Keys from a Kubernetes Secret.
    Secret {
        /// Names the keys for caches (`namespace/name@resourceVersion`); not secret.
        key: String,
        /// The keys.
        credential: Credential,
    },
}

impl Account {
    /// A name for caches, limiters and logs; never contains a secret.
    pub fn key(&self) -> &str {
        match self {
            Self::Default => "default",
            Self::Secret { key, .. } => key,
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What a new image is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewImage {
    /// Image name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The server.
    pub instance_id: String,
    /// Its system disk snapshot.
    pub system_snapshot_id: String,
    /// Its data disk snapshot.
    pub data_snapshot_id: Option<String>,
    /// Tags, the ownership tag included.
    pub tags: Vec<Tag>,
    /// Idempotency token.
    pub client_token: String,
}

/// A future returned by the cloud.
pub type CloudFuture<'a, T> = BoxFuture<'a, Result<T, SwasError>>;

/// What the controller may ask of the cloud.
pub trait Cloud: Send + Sync + fmt::Debug {
    /// A listing of the region taken no earlier than `not_before`; one listing serves every
    /// caller that accepts it.
    fn snapshot<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        not_before: Instant,
    ) -> CloudFuture<'a, Arc<Snapshot>>;

    /// One image, looked up now.
    fn lookup<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
    ) -> CloudFuture<'a, Option<ImageView>>;

    /// Creates an image and returns its ID.
    fn create<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        image: NewImage,
    ) -> CloudFuture<'a, String>;

    /// Shares the image to ECS or stops sharing it.
    fn set_ecs_sharing<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        share: bool,
    ) -> CloudFuture<'a, ()>;

    /// The accounts the image is shared with.
    fn share_accounts<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
    ) -> CloudFuture<'a, Vec<u64>>;

    /// Shares with `add` and stops sharing with `remove`.
    fn change_accounts<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        add: Vec<u64>,
        remove: Vec<u64>,
    ) -> CloudFuture<'a, ()>;

    /// Sets `set` (adding or overwriting) and removes the keys in `remove`.
    fn change_tags<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        set: Vec<Tag>,
        remove: Vec<String>,
    ) -> CloudFuture<'a, ()>;

    /// Deletes the image with `DeleteCustomImages`, `ImageIds=["id"]` and `client_token`.
    fn delete<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        client_token: &'a str,
    ) -> CloudFuture<'a, ()>;
}
