//! The audit log: one entry per call, in order, with the API parameters (never signatures,
//! keys or tokens), the `ClientToken`, the answer and what the emulator did. Tests read it over
//! the admin endpoint to assert exactly which calls a client made.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What became of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Served and answered.
    Ok,
    /// Answered from an earlier call with the same `ClientToken`, without acting.
    Replayed,
    /// Refused by the service's own rules.
    Error,
    /// Refused because a signature, key or timestamp check failed.
    Rejected,
    /// An injected `500`.
    InjectedError,
    /// An injected or quota throttle.
    Throttled,
    /// Acted, then the connection was dropped.
    Dropped,
}

/// One call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When it arrived.
    pub time: Timestamp,
    /// The caller's account, once known.
    pub account: Option<u64>,
    /// The action.
    pub action: String,
    /// API parameters (protocol and secret ones removed).
    pub params: BTreeMap<String, String>,
    /// The `ClientToken`, if any.
    pub client_token: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Error code answered, if any.
    pub code: Option<String>,
    /// What the emulator did.
    pub outcome: Outcome,
}

/// The log.
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Vec<Entry>,
    next_seq: u64,
}

impl AuditLog {
    /// Appends an entry, numbering it.
    pub fn record(&mut self, mut entry: Entry) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.entries.push(entry);
    }

    /// Entries after `since`.
    pub fn since(&self, since: u64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.seq > since)
            .cloned()
            .collect()
    }

    /// Forgets every entry (numbering goes on).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
