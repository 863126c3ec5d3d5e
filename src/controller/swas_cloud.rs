//! [`Cloud`] over the SWAS client: one client per set of credentials, every call through the
//! rate limiter, and region snapshots shared by all resources.
//!
//! A snapshot is a paged `ListCustomImages` of the whole region (100 per page), so observing N
//! resources costs ceil(N/100) calls however many resources ask. Concurrent askers wait for one
//! listing in flight instead of starting their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::cloud::{Account, Cloud, CloudFuture, ImageView, NewImage, Snapshot};
use super::limiter::Limiters;
use super::lookups::{self, Lookups};
use crate::metrics::Metrics;
use crate::swas::credentials::{ProvideCredential, StaticProvider};
use crate::swas::ops::*;
use crate::swas::{ClientConfig, ErrorClass, SwasClient, SwasError, Tag};

#[derive(Debug, Default)]
struct RegionCache {
    latest: Mutex<Option<Arc<Snapshot>>>,
    refresh: tokio::sync::Mutex<()>,
}

impl RegionCache {
    fn fresh(&self, not_before: Instant) -> Option<Arc<Snapshot>> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest
            .as_ref()
            .filter(|s| s.taken_at >= not_before)
            .cloned()
    }
}

/// The SWAS implementation of [`Cloud`].
#[derive(Debug)]
pub struct SwasCloud {
    config: ClientConfig,
    default_credentials: Arc<dyn ProvideCredential>,
    clients: Mutex<HashMap<String, SwasClient>>,
    regions: Mutex<HashMap<(String, String), Arc<RegionCache>>>,
    limiters: Limiters,
    lookups: Lookups,
    metrics: Option<Arc<Metrics>>,
}

impl SwasCloud {
    /// A cloud with the default credentials and `calls_per_second` per action.
    pub fn new(
        config: ClientConfig,
        default_credentials: Arc<dyn ProvideCredential>,
        calls_per_second: u32,
    ) -> Self {
        Self {
            config,
            default_credentials,
            clients: Mutex::new(HashMap::new()),
            regions: Mutex::new(HashMap::new()),
            limiters: Limiters::new(calls_per_second),
            lookups: Lookups::default(),
            metrics: None,
        }
    }

    /// Counts every call in `metrics`.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }

    fn client(&self, account: &Account) -> Result<SwasClient, SwasError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(account.key()) {
            return Ok(client.clone());
        }
        let credentials: Arc<dyn ProvideCredential> = match account {
            Account::Default => self.default_credentials.clone(),
            Account::Secret { credential, .. } => Arc::new(StaticProvider::new(credential.clone())),
        };
        let client =
            SwasClient::new(self.config.clone(), credentials).map_err(|e| SwasError::Invalid {
                action: "client",
                reason: format!("cannot build HTTP client: {e}"),
            })?;
        if let Account::Secret { key, .. } = account {
            // A rotated Secret gets a new key; forget clients of older versions of it.
            let prefix = key.split('@').next().unwrap_or_default().to_string();
            clients.retain(|k, _| !k.starts_with(&format!("{prefix}@")));
        }
        clients.insert(account.key().to_string(), client.clone());
        Ok(client)
    }

    /// Makes one call once the limiter allows it.
    async fn call<O: Operation>(
        &self,
        account: &Account,
        op: &O,
    ) -> Result<O::Response, SwasError> {
        self.limiters
            .acquire(account.key(), op.region_id(), O::ACTION)
            .await;
        self.send(account, op).await
    }

    /// Makes one call whose turn under the limiter was already taken.
    async fn send<O: Operation>(
        &self,
        account: &Account,
        op: &O,
    ) -> Result<O::Response, SwasError> {
        let client = self.client(account)?;
        let region = op.region_id();
        let result = client.call(op).await;
        if let Some(metrics) = &self.metrics {
            let outcome = result
                .as_ref()
                .map_or_else(|e| e.class().as_str(), |_| "ok");
            metrics.called(O::ACTION, outcome);
        }
        match &result {
            Err(e) if e.class() == ErrorClass::Throttled => {
                self.limiters
                    .pause(account.key(), region, O::ACTION, e.retry_after());
                tracing::debug!(action = O::ACTION, region, "throttled by SWAS");
            }
            Err(e) => tracing::debug!(
                action = O::ACTION,
                region,
                class = e.class().as_str(),
                "SWAS call failed"
            ),
            Ok(_) => {}
        }
        result
    }

    fn region_cache(&self, account: &Account, region: &str) -> Arc<RegionCache> {
        let mut regions = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        let key = (account.key().to_string(), region.to_string());
        regions.entry(key).or_default().clone()
    }

    /// Waits for a turn to call `ListCustomImages` in `region`.
    async fn list_turn(&self, account: &Account, region: &str) {
        self.limiters
            .acquire(account.key(), region, ListCustomImages::ACTION)
            .await;
    }

    /// The images among `ids` (at most 100) that exist, by ID. The caller has taken the
    /// call's turn ([`Self::list_turn`]).
    async fn list_ids(
        &self,
        account: &Account,
        region: &str,
        ids: Vec<String>,
    ) -> Result<HashMap<String, ImageView>, SwasError> {
        let op = ListCustomImages {
            region_id: region.to_string(),
            page_size: Some(LIST_BATCH as u32),
            image_ids: ids,
            ..Default::default()
        };
        let answer = self.send(account, &op).await?;
        let images = answer.custom_images.into_iter();
        Ok(images
            .map(|i| (i.image_id.clone(), ImageView::from(i)))
            .collect())
    }

    /// Answers every lookup queued for `key`. Lookups arriving within the window, and while
    /// this flush waits for its turn under the limiter, share its calls: when the quota is
    /// busy, lookups gather into fewer calls instead of queueing one call each.
    async fn flush_lookups(&self, account: &Account, region: &str, key: &(String, String)) {
        tokio::time::sleep(lookups::WINDOW).await;
        self.list_turn(account, region).await;
        for (n, batch) in self.lookups.take(key, LIST_BATCH).into_iter().enumerate() {
            if n > 0 {
                self.list_turn(account, region).await;
            }
            let ids = batch.iter().map(|(id, _)| id.clone()).collect();
            if let Ok(found) = self.list_ids(account, region, ids).await {
                for (id, sender) in batch {
                    let _ = sender.send(found.get(&id).cloned());
                }
            }
        }
    }

    async fn list_region(&self, account: &Account, region: &str) -> Result<Snapshot, SwasError> {
        let taken_at = Instant::now();
        let mut images = HashMap::new();
        let mut page = 1;
        loop {
            let op = ListCustomImages {
                region_id: region.to_string(),
                page_number: Some(page),
                page_size: Some(LIST_BATCH as u32),
                ..Default::default()
            };
            let answer = self.call(account, &op).await?;
            let received = answer.custom_images.len();
            for image in answer.custom_images {
                images.insert(image.image_id.clone(), ImageView::from(image));
            }
            if received < LIST_BATCH || images.len() as u64 >= answer.total_count {
                break;
            }
            page += 1;
        }
        Ok(Snapshot { taken_at, images })
    }
}

impl Cloud for SwasCloud {
    fn snapshot<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        not_before: Instant,
    ) -> CloudFuture<'a, Arc<Snapshot>> {
        Box::pin(async move {
            let cache = self.region_cache(account, region);
            if let Some(snapshot) = cache.fresh(not_before) {
                return Ok(snapshot);
            }
            let _one_listing_at_a_time = cache.refresh.lock().await;
            if let Some(snapshot) = cache.fresh(not_before) {
                return Ok(snapshot);
            }
            let snapshot = Arc::new(self.list_region(account, region).await?);
            tracing::debug!(region, images = snapshot.images.len(), "listed region");
            *cache.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
            Ok(snapshot)
        })
    }

    fn lookup<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
    ) -> CloudFuture<'a, Option<ImageView>> {
        Box::pin(async move {
            let key = (account.key().to_string(), region.to_string());
            let (flush, answer) = self.lookups.join(&key, id);
            if flush {
                self.flush_lookups(account, region, &key).await;
            }
            match answer.await {
                Ok(found) => Ok(found),
                // The batch failed or its flusher was cancelled: ask alone, for our own error.
                Err(_) => {
                    self.list_turn(account, region).await;
                    let mut found = self.list_ids(account, region, vec![id.to_string()]).await?;
                    Ok(found.remove(id))
                }
            }
        })
    }

    fn create<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        image: NewImage,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let op = CreateCustomImage {
                region_id: region.to_string(),
                instance_id: image.instance_id,
                image_name: image.name,
                system_snapshot_id: Some(image.system_snapshot_id),
                data_snapshot_id: image.data_snapshot_id,
                description: image.description,
                resource_group_id: None,
                tags: image.tags,
                client_token: Some(image.client_token),
            };
            Ok(self.call(account, &op).await?.image_id)
        })
    }

    fn set_ecs_sharing<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        share: bool,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let operation = if share {
                ShareOperation::Share
            } else {
                ShareOperation::UnShare
            };
            let op = ModifyImageShareStatus {
                region_id: region.to_string(),
                image_id: id.to_string(),
                operation,
                client_token: None,
            };
            self.call(account, &op).await.map(drop)
        })
    }

    fn share_accounts<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
    ) -> CloudFuture<'a, Vec<u64>> {
        Box::pin(async move {
            let mut users = Vec::new();
            let mut page = 1;
            loop {
                let op = ListCustomImageShareAccounts {
                    region_id: region.to_string(),
                    image_id: id.to_string(),
                    page_number: Some(page),
                    page_size: Some(SHARE_PAGE),
                };
                let answer = self.call(account, &op).await?;
                let received = answer.image_share_users.len();
                users.extend(answer.image_share_users.into_iter().map(|u| u.user_id));
                if received < SHARE_PAGE as usize || users.len() as u64 >= answer.total_count {
                    return Ok(users);
                }
                page += 1;
            }
        })
    }

    fn change_accounts<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        add: Vec<u64>,
        remove: Vec<u64>,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            if !remove.is_empty() {
                let op = RemoveCustomImageShareAccount {
                    region_id: region.to_string(),
                    image_id: id.to_string(),
                    accounts: remove,
                    client_token: None,
                };
                self.call(account, &op).await?;
            }
            if !add.is_empty() {
                let op = AddCustomImageShareAccount {
                    region_id: region.to_string(),
                    image_id: id.to_string(),
                    accounts: add,
                    client_token: None,
                };
                self.call(account, &op).await?;
            }
            Ok(())
        })
    }

    fn change_tags<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        set: Vec<Tag>,
        remove: Vec<String>,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            if !remove.is_empty() {
                let op = UntagResources {
                    region_id: region.to_string(),
                    resource_ids: vec![id.to_string()],
                    tag_keys: remove,
                    all: None,
                    client_token: None,
                };
                self.call(account, &op).await?;
            }
            if !set.is_empty() {
                let op = TagResources {
                    region_id: region.to_string(),
                    resource_ids: vec![id.to_string()],
                    tags: set,
                    client_token: None,
                };
                self.call(account, &op).await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        id: &'a str,
        client_token: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let op = DeleteCustomImages {
                region_id: region.to_string(),
                image_ids: vec![id.to_string()],
                client_token: Some(client_token.to_string()),
            };
            self.call(account, &op).await.map(drop)
        })
    }
}

#[cfg(test)]
mod tests;
