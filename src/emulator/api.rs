//! The emulated SWAS actions: which exist, which change state, and the dispatcher that runs
//! one against the world. Each action checks its parameters before touching anything, so a
//! rejected call leaves the state as it was.

use jiff::Timestamp;
use serde_json::Value;

use super::error::ApiError;
use super::request::Params;
use super::state::World;
use super::{images, sharing, tags};

/// Every action the emulator serves.
pub const ACTIONS: &[&str] = &[
    "CreateCustomImage",
    "ListCustomImages",
    "DeleteCustomImage",
    "DeleteCustomImages",
    "ModifyImageShareStatus",
    "AddCustomImageShareAccount",
    "RemoveCustomImageShareAccount",
    "ListCustomImageShareAccounts",
    "ListImages",
    "TagResources",
    "UntagResources",
    "ListTagResources",
];

/// Actions that change state (fault injection's `mutating` key, persistence).
pub const MUTATING: &[&str] = &[
    "CreateCustomImage",
    "DeleteCustomImage",
    "DeleteCustomImages",
    "ModifyImageShareStatus",
    "AddCustomImageShareAccount",
    "RemoveCustomImageShareAccount",
    "TagResources",
    "UntagResources",
];

/// Timings and limits of the emulated service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Milliseconds an image stays "4" (creating) before "1" (available).
    pub create_delay_ms: u64,
    /// Milliseconds a new image is invisible to lists.
    pub visibility_lag_ms: u64,
    /// Milliseconds a deleted image still shows in lists.
    pub deletion_lag_ms: u64,
    /// Live images allowed per account and region.
    pub image_quota: usize,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            create_delay_ms: 2000,
            visibility_lag_ms: 0,
            deletion_lag_ms: 0,
            image_quota: 15,
        }
    }
}

/// One call, authenticated and parsed.
#[derive(Debug)]
pub struct Call<'a> {
    /// The caller's account.
    pub account: u64,
    /// The action.
    pub action: &'a str,
    /// Its parameters.
    pub params: &'a Params,
    /// The time of the call.
    pub now: Timestamp,
    /// Timings and limits.
    pub behaviour: &'a Behaviour,
}

impl Call<'_> {
    /// The `RegionId`, which every action requires.
    pub fn region(&self) -> Result<&str, ApiError> {
        let region = self.params.required("RegionId")?;
        let valid = region.len() <= 64
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        match valid {
            true => Ok(region),
            false => Err(ApiError::invalid(
                "RegionId",
                format!("{region:?} is not a region"),
            )),
        }
    }
}

/// Runs one action. The caller has checked that `call.action` is in [`ACTIONS`].
pub fn dispatch(world: &mut World, call: &Call<'_>) -> Result<Value, ApiError> {
    world.purge(call.now);
    match call.action {
        "CreateCustomImage" => images::create(world, call),
        "ListCustomImages" => images::list(world, call),
        "DeleteCustomImage" => images::delete_one(world, call),
        "DeleteCustomImages" => images::delete_many(world, call),
        "ListImages" => images::list_images(world, call),
        "ModifyImageShareStatus" => sharing::modify_share_status(world, call),
        "AddCustomImageShareAccount" => sharing::add_accounts(world, call),
        "RemoveCustomImageShareAccount" => sharing::remove_accounts(world, call),
        "ListCustomImageShareAccounts" => sharing::list_accounts(world, call),
        "TagResources" => tags::tag(world, call),
        "UntagResources" => tags::untag(world, call),
        "ListTagResources" => tags::list(world, call),
        other => Err(ApiError::unknown_action(other)),
    }
}
