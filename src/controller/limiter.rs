//! Keeps SWAS calls under a quota: one token bucket per credentials, region and action (SWAS
//! counts its quotas per API), paused for the `x-acs-retry-after` time when the service
//! throttles anyway.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// How long to hold back after throttling when the service gives no hint.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// (credentials, region, action).
type BucketKey = (String, String, &'static str);

#[derive(Debug)]
struct Bucket {
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

/// Rate limiters by (credentials, region, action).
#[derive(Debug)]
pub struct Limiters {
    quota: Quota,
    buckets: Mutex<HashMap<BucketKey, Arc<Bucket>>>,
}

impl Limiters {
    /// Limiters allowing `per_second` calls per second for each key, in bursts of the same.
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            quota: Quota::per_second(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn bucket(&self, account: &str, region: &str, action: &'static str) -> Arc<Bucket> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (account.to_string(), region.to_string(), action);
        buckets
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Bucket {
                    limiter: RateLimiter::direct(self.quota),
                    paused_until: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits until a call may be made.
    pub async fn acquire(&self, account: &str, region: &str, action: &'static str) {
        let bucket = self.bucket(account, region, action);
        loop {
            let paused = *bucket
                .paused_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match paused {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        bucket.limiter.until_ready().await;
    }

    /// Holds every call of this key back for `retry_after` (or a second).
    pub fn pause(
        &self,
        account: &str,
        region: &str,
        action: &'static str,
        retry_after: Option<Duration>,
    ) {
        let bucket = self.bucket(account, region, action);
        let until = Instant::now() + retry_after.unwrap_or(DEFAULT_PAUSE);
        let mut paused = bucket
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }
}
