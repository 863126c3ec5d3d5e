//! Creating, listing and deleting custom images.

use serde::Deserialize;

use super::{Acknowledged, Operation, lenient_u64, validate_common, validate_len};
use crate::swas::params::{Params, Tag};

/// Most IDs or names one `ListCustomImages` call takes, and its largest page.
pub const LIST_BATCH: usize = 100;
/// Most IDs one `DeleteCustomImages` call takes.
pub const DELETE_BATCH: usize = 15;
/// Most tags an image carries.
pub const MAX_TAGS: usize = 20;

/// `CreateCustomImage`: makes an image from a server's system (and data) disk snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateCustomImage {
    /// Region of the server.
    pub region_id: String,
    /// The server the snapshots belong to.
    pub instance_id: String,
    /// Image name: 2 to 128 characters.
    pub image_name: String,
    /// The system disk snapshot.
    pub system_snapshot_id: Option<String>,
    /// An optional data disk snapshot.
    pub data_snapshot_id: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// A resource group.
    pub resource_group_id: Option<String>,
    /// Tags set at creation (at most 20).
    pub tags: Vec<Tag>,
    /// Idempotency token.
    pub client_token: Option<String>,
}

/// What `CreateCustomImage` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateCustomImageResponse {
    /// The service's request ID.
    pub request_id: String,
    /// The new image's ID.
    pub image_id: String,
}

impl Operation for CreateCustomImage {
    const ACTION: &'static str = "CreateCustomImage";
    type Response = CreateCustomImageResponse;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("InstanceId", &self.instance_id)
            .set("ImageName", &self.image_name)
            .opt("SystemSnapshotId", self.system_snapshot_id.as_ref())
            .opt("DataSnapshotId", self.data_snapshot_id.as_ref())
            .opt("Description", self.description.as_ref())
            .opt("ResourceGroupId", self.resource_group_id.as_ref())
            .tags("Tag", &self.tags)
            .opt("ClientToken", self.client_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, self.client_token.as_deref())?;
        if self.instance_id.is_empty() {
            return Err("InstanceId is empty".into());
        }
        let len = self.image_name.chars().count();
        if !(2..=128).contains(&len) {
            return Err(format!("ImageName must be 2 to 128 characters, got {len}"));
        }
        validate_len("Tag", &self.tags, 0, MAX_TAGS)
    }
}

/// `ListCustomImages`: one page of images, optionally filtered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListCustomImages {
    /// Region to list.
    pub region_id: String,
    /// Only these IDs (at most 100).
    pub image_ids: Vec<String>,
    /// Only these names (at most 100).
    pub image_names: Vec<String>,
    /// Only images of this server.
    pub instance_id: Option<String>,
    /// Only images made from this system snapshot.
    pub system_snapshot_id: Option<String>,
    /// Only images made from this data snapshot.
    pub data_snapshot_id: Option<String>,
    /// Only images in this resource group.
    pub resource_group_id: Option<String>,
    /// Filter on sharing.
    pub share: Option<bool>,
    /// Only images carrying all these tags.
    pub tags: Vec<Tag>,
    /// Page number, from 1.
    pub page_number: Option<u32>,
    /// Page size, at most 100.
    pub page_size: Option<u32>,
}

/// What `ListCustomImages` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListCustomImagesResponse {
    /// The service's request ID.
    pub request_id: String,
    /// The page returned.
    #[serde(deserialize_with = "lenient_u64")]
    pub page_number: u64,
    /// The page size used.
    #[serde(deserialize_with = "lenient_u64")]
    pub page_size: u64,
    /// How many images match in all.
    #[serde(deserialize_with = "lenient_u64")]
    pub total_count: u64,
    /// The images on this page.
    pub custom_images: Vec<CustomImage>,
}

/// The status of an image, as the `Status` field reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageStatus {
    /// "0": being copied.
    Copying,
    /// "1": ready to use.
    Available,
    /// "2": not usable.
    Unavailable,
    /// "3": creation failed.
    CreateFailed,
    /// "4": being created.
    Creating,
    /// Any other value.
    Unknown,
}

/// One image as `ListCustomImages` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CustomImage {
    /// The image ID.
    pub image_id: String,
    /// The name (`Name` here, `ImageName` in requests).
    pub name: String,
    /// The description.
    pub description: String,
    /// Status code; see [`CustomImage::status`].
    pub status: String,
    /// Shared to ECS.
    pub in_share: bool,
    /// Shared with other accounts.
    pub in_share_user: bool,
    /// When it was made, `yyyy-MM-ddTHH:mm:ssZ`.
    pub creation_time: String,
    /// Its region.
    pub region_id: String,
    /// The source server.
    pub instance_id: String,
    /// The source server's name.
    pub instance_name: String,
    /// The system disk snapshot it was made from.
    pub system_snapshot_id: String,
    /// That snapshot's name.
    pub system_snapshot_name: String,
    /// The data disk snapshot it was made from.
    pub data_snapshot_id: String,
    /// That snapshot's name.
    pub data_snapshot_name: String,
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// Its resource group.
    pub resource_group_id: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Servers created from it.
    pub create_instances: Vec<String>,
    /// The owning account.
    #[serde(deserialize_with = "lenient_u64")]
    pub user_id: u64,
}

impl CustomImage {
    /// The status as an enum.
    pub fn status(&self) -> ImageStatus {
        match self.status.as_str() {
            "0" => ImageStatus::Copying,
            "1" => ImageStatus::Available,
            "2" => ImageStatus::Unavailable,
            "3" => ImageStatus::CreateFailed,
            "4" => ImageStatus::Creating,
            _ => ImageStatus::Unknown,
        }
    }

    /// The value of a tag, if the image carries it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

impl Operation for ListCustomImages {
    const ACTION: &'static str = "ListCustomImages";
    type Response = ListCustomImagesResponse;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .json_array("ImageIds", &self.image_ids)
            .json_array("ImageNames", &self.image_names)
            .opt("InstanceId", self.instance_id.as_ref())
            .opt("SystemSnapshotId", self.system_snapshot_id.as_ref())
            .opt("DataSnapshotId", self.data_snapshot_id.as_ref())
            .opt("ResourceGroupId", self.resource_group_id.as_ref())
            .boolean("Share", self.share)
            .tags("Tag", &self.tags)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, None)?;
        validate_len("ImageIds", &self.image_ids, 0, LIST_BATCH)?;
        validate_len("ImageNames", &self.image_names, 0, LIST_BATCH)?;
        validate_len("Tag", &self.tags, 0, MAX_TAGS)?;
        match self.page_size {
            Some(size) if size == 0 || size as usize > LIST_BATCH => {
                Err(format!("PageSize must be 1 to {LIST_BATCH}, got {size}"))
            }
            _ => Ok(()),
        }
    }
}

/// `DeleteCustomImages`: deletes up to 15 images in one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteCustomImages {
    /// Region of the images.
    pub region_id: String,
    /// The images, sent as one JSON array (1 to 15).
    pub image_ids: Vec<String>,
    /// Idempotency token.
    pub client_token: Option<String>,
}

impl Operation for DeleteCustomImages {
    const ACTION: &'static str = "DeleteCustomImages";
    type Response = Acknowledged;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .json_array("ImageIds", &self.image_ids)
            .opt("ClientToken", self.client_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, self.client_token.as_deref())?;
        validate_len("ImageIds", &self.image_ids, 1, DELETE_BATCH)
    }
}
