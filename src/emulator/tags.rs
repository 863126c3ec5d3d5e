//! Tag actions on custom images (`ResourceType=customimage`; other resource types are not
//! emulated). An image carries at most 20 tags; setting an existing key overwrites it.

use serde_json::{Value, json};

use super::api::Call;
use super::error::ApiError;
use super::request::{check_tag, client_token};
use super::state::World;

/// Page size of `ListTagResources`.
const TAG_PAGE: usize = 50;

fn resource_type(call: &Call<'_>) -> Result<(), ApiError> {
    match call.params.required("ResourceType")? {
        "customimage" => Ok(()),
        other => Err(ApiError::invalid(
            "ResourceType",
            format!("{other:?} is not emulated; use customimage"),
        )),
    }
}

fn resources(call: &Call<'_>, required: bool) -> Result<Vec<String>, ApiError> {
    let ids = call.params.list("ResourceId", 50)?;
    if required && ids.is_empty() {
        return Err(ApiError::missing("ResourceId.1"));
    }
    Ok(ids)
}

fn check_exist(world: &mut World, call: &Call<'_>, ids: &[String]) -> Result<(), ApiError> {
    let region = call.region()?;
    for id in ids {
        if world.image_mut(call.account, region, id).is_none() {
            return Err(ApiError::new(
                404,
                "InvalidResourceId.NotFound",
                format!("The specified resource {id} does not exist."),
            ));
        }
    }
    Ok(())
}

pub(super) fn tag(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    resource_type(call)?;
    let ids = resources(call, true)?;
    let tags = call.params.tags("Tag", 20)?;
    if tags.is_empty() {
        return Err(ApiError::missing("Tag.1.Key"));
    }
    tags.iter().try_for_each(check_tag)?;
    client_token(call.params)?;
    check_exist(world, call, &ids)?;
    let region = call.region()?.to_string();

    for id in &ids {
        let image = world
            .image_mut(call.account, &region, id)
            .ok_or_else(ApiError::image_not_found)?;
        let mut merged = image.tags.clone();
        for tag in &tags {
            match merged.iter_mut().find(|t| t.key == tag.key) {
                Some(existing) => existing.value = tag.value.clone(),
                None => merged.push(tag.clone()),
            }
        }
        if merged.len() > 20 {
            return Err(ApiError::new(
                400,
                "InvalidTagCount",
                "A resource can carry at most 20 tags.",
            ));
        }
    }
    for id in &ids {
        if let Some(image) = world.image_mut(call.account, &region, id) {
            for tag in &tags {
                match image.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value.clone(),
                    None => image.tags.push(tag.clone()),
                }
            }
        }
    }
    Ok(json!({}))
}

pub(super) fn untag(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    resource_type(call)?;
    let ids = resources(call, true)?;
    let keys = call.params.list("TagKey", 20)?;
    let all = call.params.boolean("All")?.unwrap_or(false);
    if keys.is_empty() && !all {
        return Err(ApiError::missing("TagKey.1"));
    }
    client_token(call.params)?;
    check_exist(world, call, &ids)?;
    let region = call.region()?.to_string();
    for id in &ids {
        if let Some(image) = world.image_mut(call.account, &region, id) {
            match keys.is_empty() {
                true => image.tags.clear(),
                false => image.tags.retain(|t| !keys.contains(&t.key)),
            }
        }
    }
    Ok(json!({}))
}

pub(super) fn list(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    resource_type(call)?;
    let region = call.region()?;
    let ids = resources(call, false)?;
    let filter = call.params.tags("Tag", 20)?;
    let start: usize = match call.params.opt("NextToken") {
        None => 0,
        Some(token) => token
            .parse()
            .map_err(|_| ApiError::invalid("NextToken", "not a token from a previous answer"))?,
    };
    let pairs: Vec<Value> = world
        .images
        .values()
        .filter(|i| i.account == call.account && i.region == region && i.alive())
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| {
            filter.iter().all(|f| {
                i.tags
                    .iter()
                    .any(|t| t.key == f.key && (f.value.is_empty() || t.value == f.value))
            })
        })
        .flat_map(|i| {
            i.tags.iter().map(|t| {
                json!({
                    "ResourceId": i.id,
                    "ResourceType": "customimage",
                    "TagKey": t.key,
                    "TagValue": t.value,
                })
            })
        })
        .collect();
    // Saturating: a NextToken near usize::MAX is past the end, not a wrap back to the start.
    let end = start.saturating_add(TAG_PAGE);
    let next = if pairs.len() > end {
        end.to_string()
    } else {
        String::new()
    };
    let page: Vec<Value> = pairs.into_iter().skip(start).take(TAG_PAGE).collect();
    Ok(json!({ "NextToken": next, "TagResources": { "TagResource": page } }))
}
