//! Tagging custom images (`ResourceType=customimage`).

use serde::Deserialize;

use super::{Acknowledged, MAX_TAGS, Operation, validate_common, validate_len};
use crate::swas::params::{Params, Tag};

/// The `ResourceType` of custom images.
pub const CUSTOM_IMAGE: &str = "customimage";
/// Most resources one tag call takes.
pub const MAX_RESOURCES: usize = 50;

/// `TagResources`: adds or overwrites tags on resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagResources {
    /// Region of the resources.
    pub region_id: String,
    /// Resource IDs (1 to 50).
    pub resource_ids: Vec<String>,
    /// Tags to set (1 to 20).
    pub tags: Vec<Tag>,
    /// Idempotency token.
    pub client_token: Option<String>,
}

impl Operation for TagResources {
    const ACTION: &'static str = "TagResources";
    type Response = Acknowledged;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("ResourceType", CUSTOM_IMAGE)
            .list("ResourceId", &self.resource_ids)
            .tags("Tag", &self.tags)
            .opt("ClientToken", self.client_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, self.client_token.as_deref())?;
        validate_len("ResourceId", &self.resource_ids, 1, MAX_RESOURCES)?;
        validate_len("Tag", &self.tags, 1, MAX_TAGS)
    }
}

/// `UntagResources`: removes tags by key (or all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UntagResources {
    /// Region of the resources.
    pub region_id: String,
    /// Resource IDs (1 to 50).
    pub resource_ids: Vec<String>,
    /// Keys to remove (at most 20).
    pub tag_keys: Vec<String>,
    /// Remove every tag; only used when `tag_keys` is empty.
    pub all: Option<bool>,
    /// Idempotency token.
    pub client_token: Option<String>,
}

impl Operation for UntagResources {
    const ACTION: &'static str = "UntagResources";
    type Response = Acknowledged;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("ResourceType", CUSTOM_IMAGE)
            .list("ResourceId", &self.resource_ids)
            .list("TagKey", &self.tag_keys)
            .boolean("All", self.all)
            .opt("ClientToken", self.client_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, self.client_token.as_deref())?;
        validate_len("ResourceId", &self.resource_ids, 1, MAX_RESOURCES)?;
        validate_len("TagKey", &self.tag_keys, 0, MAX_TAGS)
    }
}

/// `ListTagResources`: one page of (resource, tag) pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListTagResources {
    /// Region of the resources.
    pub region_id: String,
    /// Only these resources (at most 50).
    pub resource_ids: Vec<String>,
    /// Only resources carrying these tags (at most 20).
    pub tags: Vec<Tag>,
    /// The page to fetch, from the previous answer.
    pub next_token: Option<String>,
}

/// What `ListTagResources` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagResourcesResponse {
    /// The service's request ID.
    pub request_id: String,
    /// Token of the next page; empty on the last page.
    pub next_token: String,
    /// The pairs on this page.
    pub tag_resources: TagResourceList,
}

/// The `TagResources` wrapper object of a `ListTagResources` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceList {
    /// The pairs.
    pub tag_resource: Vec<TagResource>,
}

/// One tag on one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResource {
    /// The resource ID.
    pub resource_id: String,
    /// Always `customimage` here.
    pub resource_type: String,
    /// Tag key.
    pub tag_key: String,
    /// Tag value.
    pub tag_value: String,
}

impl Operation for ListTagResources {
    const ACTION: &'static str = "ListTagResources";
    type Response = ListTagResourcesResponse;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("ResourceType", CUSTOM_IMAGE)
            .list("ResourceId", &self.resource_ids)
            .tags("Tag", &self.tags)
            .opt("NextToken", self.next_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, None)?;
        validate_len("ResourceId", &self.resource_ids, 0, MAX_RESOURCES)?;
        validate_len("Tag", &self.tags, 0, MAX_TAGS)
    }
}
