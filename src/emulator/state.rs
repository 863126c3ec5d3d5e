//! What the emulated cloud holds: servers and their snapshots (seeded), custom images with
//! their sharing and tags, and the idempotency records of `ClientToken` calls.
//!
//! Time-driven behaviour (an image turning from "4" creating to "1" available, a new image
//! becoming visible, a deleted one disappearing) is computed from timestamps when the state is
//! read, so nothing runs in the background and tests can move a manual clock.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::swas::params::Tag;

/// The account the default access key belongs to.
pub const DEFAULT_ACCOUNT: u64 = 1_234_567_890_123_456;

/// A simple application server that images can be made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Owning account.
    pub account: u64,
    /// Region.
    pub region: String,
    /// Instance ID.
    pub instance_id: String,
    /// Instance name.
    pub instance_name: String,
    /// Its system disk snapshot.
    pub system_snapshot_id: String,
    /// Its data disk snapshot.
    pub data_snapshot_id: String,
}

/// A custom image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Image ID.
    pub id: String,
    /// Owning account.
    pub account: u64,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Source server.
    pub instance_id: String,
    /// Source system snapshot.
    pub system_snapshot_id: String,
    /// Source data snapshot (may be empty).
    pub data_snapshot_id: String,
    /// Resource group.
    pub resource_group_id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it turns available.
    pub ready_at: Timestamp,
    /// Before this instant, lists do not show it yet.
    pub visible_at: Timestamp,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
    /// Until this instant a deleted image still shows in lists.
    pub gone_at: Option<Timestamp>,
    /// Shared to ECS.
    pub in_share: bool,
    /// Accounts it is shared with, and when.
    pub share_accounts: BTreeMap<u64, String>,
    /// Tags, in the order they were set.
    pub tags: Vec<Tag>,
}

/// The status code lists report.
impl Image {
    /// "4" creating until ready, then "1" available.
    pub fn status(&self, now: Timestamp) -> &'static str {
        if now < self.ready_at { "4" } else { "1" }
    }

    /// Still exists for API calls (not deleted).
    pub fn alive(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// Shown by lists at `now`: created and visible, and not yet gone.
    pub fn listed(&self, now: Timestamp) -> bool {
        now >= self.visible_at && self.gone_at.is_none_or(|gone| now < gone)
    }

    /// Shared in either way.
    pub fn shared(&self) -> bool {
        self.in_share || !self.share_accounts.is_empty()
    }
}

/// The first successful answer to a `ClientToken` call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The call's API parameters, to reject the same token with other parameters.
    pub params: BTreeMap<String, String>,
    /// The answer body.
    pub body: serde_json::Value,
}

/// Everything the emulator holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Seeded servers.
    pub servers: Vec<Server>,
    /// Images by ID, deleted ones included (with `deleted_at`).
    pub images: BTreeMap<String, Image>,
    /// Idempotency records by `account/action/token`.
    pub tokens: BTreeMap<String, Recorded>,
    /// Counter behind image IDs.
    pub next_image: u64,
}

impl World {
    /// A world with `per_region` servers (each with a system and a data snapshot) in each
    /// region for `account`. IDs are predictable: `<region>-server-1`, `s-<region>-sys-1`,
    /// `s-<region>-data-1`.
    pub fn seeded(account: u64, regions: &[String], per_region: usize) -> Self {
        let mut world = Self::default();
        for region in regions {
            for n in 1..=per_region {
                world.servers.push(Server {
                    account,
                    region: region.clone(),
                    instance_id: format!("{region}-server-{n}"),
                    instance_name: format!("server-{n}"),
                    system_snapshot_id: format!("s-{region}-sys-{n}"),
                    data_snapshot_id: format!("s-{region}-data-{n}"),
                });
            }
        }
        world
    }

    /// A fresh image ID: `m-` and 20 lowercase letters and digits, like the real ones.
    pub fn new_image_id(&mut self) -> String {
        self.next_image += 1;
        let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut state = self.next_image;
        let mut id = String::from("m-");
        for _ in 0..20 {
            // splitmix64: every character from a fresh, well-mixed step.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            id.push(alphabet[((z ^ (z >> 31)) % 36) as usize] as char);
        }
        id
    }

    /// The live image `id` of `account` in `region`.
    pub fn image_mut(&mut self, account: u64, region: &str, id: &str) -> Option<&mut Image> {
        self.images
            .get_mut(id)
            .filter(|i| i.account == account && i.region == region && i.alive())
    }

    /// Live images of an account in a region.
    pub fn live_count(&self, account: u64, region: &str) -> usize {
        let live = |i: &&Image| i.account == account && i.region == region && i.alive();
        self.images.values().filter(live).count()
    }

    /// Forgets images whose deletion has fully propagated.
    pub fn purge(&mut self, now: Timestamp) {
        self.images
            .retain(|_, i| i.gone_at.is_none_or(|gone| now < gone));
    }

    /// Loads a world saved by [`World::save`].
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Saves the world atomically (write, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }
}

/// `now + millis`, saturating.
pub fn after(now: Timestamp, millis: u64) -> Timestamp {
    let millis = i64::try_from(millis).unwrap_or(i64::MAX);
    now.saturating_add(SignedDuration::from_millis(millis))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_look_real_and_differ() {
        let mut world = World::default();
        let ids: Vec<String> = (0..1000).map(|_| world.new_image_id()).collect();
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 22, "{id}");
            assert!(
                id[2..]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
    }
}
