//! Image actions: create, list, delete (one or a batch), and the custom part of ListImages.
//!
//! A batch delete is all-or-nothing: every ID is checked first (unknown -> 404
//! `InvalidImageId.NotFound`, shared in either way -> 400 `CustomImageInShare`) and only when
//! all pass are they deleted. A partly applied batch would leave a caller unable to tell what
//! happened from an error answer that has no per-image result.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::Call;
use super::error::ApiError;
use super::request::{check_tag, client_token};
use super::state::{Image, World, after};
use crate::swas::sign::format_timestamp;

pub(super) fn create(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let region = call.region()?;
    let p = call.params;
    let instance_id = p.required("InstanceId")?;
    let name = p.required("ImageName")?;
    let system_snapshot = p.required("SystemSnapshotId")?;
    let data_snapshot = p.opt("DataSnapshotId").unwrap_or_default();
    let tags = p.tags("Tag", 20)?;
    tags.iter().try_for_each(check_tag)?;
    client_token(p)?;
    check_image_name(name)?;
    if let Some(description) = p.opt("Description")
        && description.chars().count() > 256
    {
        return Err(ApiError::invalid("Description", "at most 256 characters"));
    }

    let server = world
        .servers
        .iter()
        .find(|s| s.account == call.account && s.region == region && s.instance_id == instance_id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidInstanceId.NotFound",
                "The specified instance does not exist.",
            )
        })?;
    if server.system_snapshot_id != system_snapshot {
        return Err(ApiError::new(
            404,
            "InvalidSystemSnapshotId.NotFound",
            "The specified system snapshot does not exist on this instance.",
        ));
    }
    if !data_snapshot.is_empty() && server.data_snapshot_id != data_snapshot {
        return Err(ApiError::new(
            404,
            "InvalidDataSnapshotId.NotFound",
            "The specified data snapshot does not exist on this instance.",
        ));
    }
    if world.live_count(call.account, region) >= call.behaviour.image_quota {
        return Err(ApiError::new(
            400,
            "QuotaExceeded.CustomImage",
            format!(
                "The custom image quota of {} is used up.",
                call.behaviour.image_quota
            ),
        ));
    }

    let id = world.new_image_id();
    let behaviour = call.behaviour;
    let image = Image {
        id: id.clone(),
        account: call.account,
        region: region.to_string(),
        name: name.to_string(),
        description: p.opt("Description").unwrap_or_default().to_string(),
        instance_id: instance_id.to_string(),
        system_snapshot_id: system_snapshot.to_string(),
        data_snapshot_id: data_snapshot.to_string(),
        resource_group_id: p.opt("ResourceGroupId").unwrap_or_default().to_string(),
        created_at: call.now,
        ready_at: after(call.now, behaviour.create_delay_ms),
        visible_at: after(call.now, behaviour.visibility_lag_ms),
        deleted_at: None,
        gone_at: None,
        in_share: false,
        share_accounts: BTreeMap::new(),
        tags,
    };
    world.images.insert(id.clone(), image);
    Ok(json!({ "ImageId": id }))
}

fn check_image_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let first_ok = name.chars().next().is_some_and(char::is_alphanumeric);
    let chars_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'));
    match (2..=128).contains(&len) && first_ok && chars_ok {
        true => Ok(()),
        false => Err(ApiError::invalid(
            "ImageName",
            "2 to 128 letters, digits, ':', '_', '-' or '.', starting with a letter or digit",
        )),
    }
}

pub(super) fn list(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let region = call.region()?;
    let p = call.params;
    let ids = p.json_array("ImageIds", 100)?;
    let names = p.json_array("ImageNames", 100)?;
    let share = p.boolean("Share")?;
    let tags = p.tags("Tag", 20)?;
    let page = p.int("PageNumber", 1, 1_000_000)?.unwrap_or(1) as usize;
    let size = p.int("PageSize", 1, 100)?.unwrap_or(10) as usize;
    let filters = [
        ("InstanceId", p.opt("InstanceId")),
        ("SystemSnapshotId", p.opt("SystemSnapshotId")),
        ("DataSnapshotId", p.opt("DataSnapshotId")),
        ("ResourceGroupId", p.opt("ResourceGroupId")),
    ];

    let now = call.now;
    let matching: Vec<&Image> = world
        .images
        .values()
        .filter(|i| i.account == call.account && i.region == region && i.listed(now))
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| names.is_empty() || names.contains(&i.name))
        .filter(|i| share.is_none_or(|s| i.shared() == s))
        .filter(|i| tags.iter().all(|t| carries(i, t)))
        .filter(|i| {
            filters.iter().all(|(field, wanted)| {
                wanted.is_none_or(|w| match *field {
                    "InstanceId" => i.instance_id == w,
                    "SystemSnapshotId" => i.system_snapshot_id == w,
                    "DataSnapshotId" => i.data_snapshot_id == w,
                    _ => i.resource_group_id == w,
                })
            })
        })
        .collect();
    let total = matching.len();
    let page_items: Vec<Value> = matching
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|i| describe(world, i, now))
        .collect();
    Ok(json!({
        "PageNumber": page,
        "PageSize": size,
        "TotalCount": total,
        "CustomImages": page_items,
    }))
}

/// A tag filter with an empty value matches any value of the key.
fn carries(image: &Image, filter: &crate::swas::params::Tag) -> bool {
    image
        .tags
        .iter()
        .any(|t| t.key == filter.key && (filter.value.is_empty() || t.value == filter.value))
}

fn describe(world: &World, image: &Image, now: jiff::Timestamp) -> Value {
    let server = world
        .servers
        .iter()
        .find(|s| s.instance_id == image.instance_id);
    let tags: Vec<Value> = image
        .tags
        .iter()
        .map(|t| json!({ "Key": t.key, "Value": t.value }))
        .collect();
    json!({
        "ImageId": image.id,
        "Name": image.name,
        "Description": image.description,
        "Status": image.status(now),
        "InShare": image.in_share,
        "InShareUser": !image.share_accounts.is_empty(),
        "CreationTime": format_timestamp(image.created_at),
        "RegionId": image.region,
        "InstanceId": image.instance_id,
        "InstanceName": server.map(|s| s.instance_name.as_str()).unwrap_or_default(),
        "SystemSnapshotId": image.system_snapshot_id,
        "SystemSnapshotName": format!("{}-system", image.name),
        "DataSnapshotId": image.data_snapshot_id,
        "DataSnapshotName": "",
        "OsType": "Linux",
        "RequiredSystemDiskSize": 40,
        "RequiredDataDiskSize": if image.data_snapshot_id.is_empty() { 0 } else { 20 },
        "SourceImageName": "Alibaba Cloud Linux",
        "SourceImageVersion": "3.2104 LTS",
        "ResourceGroupId": image.resource_group_id,
        "Tags": tags,
        "CreateInstances": [],
        "UserId": image.account,
    })
}

pub(super) fn delete_one(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let id = call.params.required("ImageId")?.to_string();
    delete(world, call, &[id])
}

pub(super) fn delete_many(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let ids = call.params.json_array("ImageIds", 15)?;
    if ids.is_empty() {
        return Err(ApiError::missing("ImageIds"));
    }
    delete(world, call, &ids)
}

fn delete(world: &mut World, call: &Call<'_>, ids: &[String]) -> Result<Value, ApiError> {
    let region = call.region()?.to_string();
    client_token(call.params)?;
    for id in ids {
        match world.image_mut(call.account, &region, id) {
            None => return Err(ApiError::image_not_found()),
            Some(image) if image.shared() => return Err(ApiError::in_share()),
            Some(_) => {}
        }
    }
    let gone_at = after(call.now, call.behaviour.deletion_lag_ms);
    for id in ids {
        if let Some(image) = world.image_mut(call.account, &region, id) {
            image.deleted_at = Some(call.now);
            image.gone_at = Some(gone_at);
        }
    }
    Ok(json!({}))
}

pub(super) fn list_images(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let region = call.region()?;
    let ids = call.params.json_array("ImageIds", 50)?;
    let kind = call.params.opt("ImageType");
    if let Some(kind) = kind
        && !matches!(kind, "system" | "app" | "custom")
    {
        return Err(ApiError::invalid("ImageType", "one of system, app, custom"));
    }
    let images: Vec<Value> = match kind {
        Some("system" | "app") => Vec::new(),
        _ => world
            .images
            .values()
            .filter(|i| i.account == call.account && i.region == region && i.listed(call.now))
            .filter(|i| ids.is_empty() || ids.contains(&i.id))
            .map(|i| {
                json!({
                    "ImageId": i.id,
                    "ImageName": i.name,
                    "ImageType": "custom",
                    "Platform": "Linux",
                    "Description": i.description,
                })
            })
            .collect(),
    };
    Ok(json!({ "Images": images }))
}
