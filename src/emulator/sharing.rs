//! Sharing actions: to ECS (`ModifyImageShareStatus`) and with other accounts (at most 10,
//! same region; only available images can be shared).

use serde_json::{Value, json};

use super::api::Call;
use super::error::ApiError;
use super::request::client_token;
use super::state::{Image, World};

fn image<'w>(world: &'w mut World, call: &Call<'_>) -> Result<&'w mut Image, ApiError> {
    let region = call.region()?.to_string();
    let id = call.params.required("ImageId")?.to_string();
    client_token(call.params)?;
    world
        .image_mut(call.account, &region, &id)
        .ok_or_else(ApiError::image_not_found)
}

fn require_available(image: &Image, call: &Call<'_>) -> Result<(), ApiError> {
    match image.status(call.now) {
        "1" => Ok(()),
        _ => Err(ApiError::new(
            400,
            "IncorrectImageStatus",
            "The current status of the image does not support this operation.",
        )),
    }
}

pub(super) fn modify_share_status(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let operation = call.params.required("Operation")?;
    let share = match operation {
        "Share" => true,
        "UnShare" => false,
        other => {
            return Err(ApiError::invalid(
                "Operation",
                format!("{other:?}: Share or UnShare"),
            ));
        }
    };
    let image = image(world, call)?;
    if share {
        require_available(image, call)?;
    }
    image.in_share = share;
    Ok(json!({}))
}

fn accounts(call: &Call<'_>) -> Result<Vec<u64>, ApiError> {
    let raw = call.params.list("Account", 10)?;
    if raw.is_empty() {
        return Err(ApiError::missing("Account.1"));
    }
    raw.iter()
        .map(|a| match a.parse::<u64>() {
            Ok(n) if n > 0 && a.len() <= 20 => Ok(n),
            _ => Err(ApiError::invalid(
                "Account.N",
                format!("{a:?} is not an account ID"),
            )),
        })
        .collect()
}

pub(super) fn add_accounts(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let accounts = accounts(call)?;
    let owner = call.account;
    let image = image(world, call)?;
    require_available(image, call)?;
    if accounts.contains(&owner) {
        return Err(ApiError::invalid(
            "Account.N",
            "an image cannot be shared with its owner",
        ));
    }
    let mut after = image.share_accounts.clone();
    let shared_time = call.now.strftime("%Y-%m-%d %H:%M:%S.0").to_string();
    for account in accounts {
        after.entry(account).or_insert_with(|| shared_time.clone());
    }
    if after.len() > 10 {
        return Err(ApiError::new(
            400,
            "ShareAccountLimitExceeded",
            "An image can be shared with at most 10 accounts.",
        ));
    }
    image.share_accounts = after;
    Ok(json!({}))
}

pub(super) fn remove_accounts(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let accounts = accounts(call)?;
    let image = image(world, call)?;
    for account in accounts {
        image.share_accounts.remove(&account);
    }
    Ok(json!({}))
}

pub(super) fn list_accounts(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    let page = call.params.int("PageNumber", 1, 1_000_000)?.unwrap_or(1) as usize;
    let size = call.params.int("PageSize", 1, 50)?.unwrap_or(10) as usize;
    let image = image(world, call)?;
    let users: Vec<Value> = image
        .share_accounts
        .iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|(user, time)| json!({ "UserId": user, "SharedTime": time }))
        .collect();
    Ok(json!({
        "PageNumber": page,
        "PageSize": size,
        "TotalCount": image.share_accounts.len(),
        "ImageShareUsers": users,
    }))
}
