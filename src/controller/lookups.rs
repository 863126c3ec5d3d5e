//! Coalescing fresh lookups of single images into one `ListCustomImages` of up to 100 IDs.
//!
//! Deletion looks each image up afresh. When many resources are deleted at once, their
//! lookups arriving within a short window share one call per 100 IDs instead of one call each.
//! The first caller of a window flushes it; the others wait for its answer. The flusher takes
//! the queue only once the rate limiter gives it a turn, so while the quota is busy, lookups
//! keep joining the waiting batch rather than queueing a call each: their cost and latency
//! stay bounded by the quota instead of growing with the queue. A caller whose batch failed,
//! or whose flusher was cancelled, looks its image up on its own, so every error reaches the
//! caller it belongs to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use super::cloud::ImageView;

/// How long a flusher waits for company.
pub const WINDOW: Duration = Duration::from_millis(20);

type Waiter = (String, oneshot::Sender<Option<ImageView>>);

/// Pending lookups by (credentials, region).
#[derive(Debug, Default)]
pub struct Lookups {
    queues: Mutex<HashMap<(String, String), Vec<Waiter>>>,
}

impl Lookups {
    /// Queues a lookup of `id`. Returns whether this caller must flush the window, and where
    /// the answer arrives.
    pub fn join(
        &self,
        key: &(String, String),
        id: &str,
    ) -> (bool, oneshot::Receiver<Option<ImageView>>) {
        let (sender, receiver) = oneshot::channel();
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.entry(key.clone()).or_default();
        queue.push((id.to_string(), sender));
        (queue.len() == 1, receiver)
    }

    /// Takes every lookup queued for `key`, in batches of at most `size`.
    pub fn take(&self, key: &(String, String), size: usize) -> Vec<Vec<Waiter>> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let mut waiting = queues.remove(key).unwrap_or_default();
        let mut batches = Vec::new();
        while !waiting.is_empty() {
            let rest = waiting.split_off(waiting.len().min(size));
            batches.push(std::mem::replace(&mut waiting, rest));
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_caller_flushes_and_batches_hold_at_most_the_size() {
        let lookups = Lookups::default();
        let key = ("default".to_string(), "cn-hangzhou".to_string());
        let flushes: Vec<bool> = (0..250)
            .map(|i| lookups.join(&key, &format!("m-{i}")).0)
            .collect();
        assert_eq!(flushes.iter().filter(|f| **f).count(), 1);
        assert!(flushes[0]);
        let sizes: Vec<usize> = lookups.take(&key, 100).iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(lookups.take(&key, 100).is_empty());
    }
}
