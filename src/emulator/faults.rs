//! Fault injection: errors, throttling, latency and "act, then drop the connection", set by
//! flags at start and by the admin endpoint while running.
//!
//! Rates and quotas are keyed by action name, by `mutating` (every call that changes state) or
//! by `*` (every call); the most specific key wins. Random choices come from a seeded generator
//! so a run can be repeated. One-shot rules (`next`) make a test's fault deterministic: "the
//! next DeleteCustomImages is dropped after acting".

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::api::MUTATING;

/// What can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Answer `500 InternalError` without acting.
    Error,
    /// Answer `Throttling.User` without acting.
    Throttle,
    /// Act, then break the connection before the answer is complete.
    Drop,
}

/// A fault for the next `count` calls of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneShot {
    /// Action name, `mutating` or `*`.
    pub action: String,
    /// What to inject.
    pub kind: FaultKind,
    /// How many calls it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// The standing fault settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FaultConfig {
    /// Seed of the random generator.
    pub seed: u64,
    /// Probability of `500 InternalError`, by key.
    pub error_rate: BTreeMap<String, f64>,
    /// Probability of "act, then drop", by key.
    pub drop_rate: BTreeMap<String, f64>,
    /// Calls allowed per second, by key; beyond it `Throttling.User`.
    pub quota_per_second: BTreeMap<String, u32>,
    /// Added latency, uniformly between the two values, in milliseconds.
    pub latency_ms: Option<(u64, u64)>,
}

/// How many faults were injected, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    /// Injected `500`s.
    pub errors: u64,
    /// Throttled calls.
    pub throttled: u64,
    /// Calls that acted and then lost their answer.
    pub dropped: u64,
}

/// What to do with one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve it; if `drop_after`, break the connection after acting.
    Serve {
        /// Drop the answer.
        drop_after: bool,
    },
    /// Refuse with `500 InternalError`.
    Error,
    /// Refuse with throttling; retry after this many milliseconds.
    Throttle(u64),
}

/// Live fault state.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: StdRng,
    windows: HashMap<String, (u64, u32)>,
    next: Vec<OneShot>,
    counts: FaultCounts,
}

impl Faults {
    /// Fault state from settings.
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            config,
            rng,
            windows: HashMap::new(),
            next: Vec::new(),
            counts: FaultCounts::default(),
        }
    }

    /// Replaces the settings (and reseeds).
    pub fn configure(&mut self, config: FaultConfig) {
        self.rng = StdRng::seed_from_u64(config.seed);
        self.windows.clear();
        self.config = config;
    }

    /// The settings in force.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Adds a one-shot rule.
    pub fn push(&mut self, rule: OneShot) {
        self.next.push(rule);
    }

    /// Counts so far.
    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }

    /// Clears one-shot rules and counts.
    pub fn reset(&mut self) {
        self.next.clear();
        self.counts = FaultCounts::default();
        self.windows.clear();
    }

    fn lookup<T: Copy>(map: &BTreeMap<String, T>, action: &str) -> Option<T> {
        let mutating = MUTATING.contains(&action);
        map.get(action)
            .or_else(|| mutating.then(|| map.get("mutating")).flatten())
            .or_else(|| map.get("*"))
            .copied()
    }

    /// Milliseconds of latency to add to this call.
    pub fn latency(&mut self) -> u64 {
        match self.config.latency_ms {
            Some((low, high)) if high > low => self.rng.random_range(low..=high),
            Some((low, _)) => low,
            None => 0,
        }
    }

    /// Decides the fate of a call of `action` at `now_ms` (milliseconds since the epoch).
    pub fn decide(&mut self, action: &str, now_ms: u64) -> Decision {
        let mutating = MUTATING.contains(&action);
        let rule = self.next.iter().position(|r| {
            r.action == action || r.action == "*" || (mutating && r.action == "mutating")
        });
        if let Some(i) = rule {
            let kind = self.next[i].kind;
            self.next[i].count -= 1;
            if self.next[i].count == 0 {
                self.next.remove(i);
            }
            return self.count(match kind {
                FaultKind::Error => Decision::Error,
                FaultKind::Throttle => Decision::Throttle(1000 - now_ms % 1000),
                FaultKind::Drop => Decision::Serve { drop_after: true },
            });
        }

        if let Some(quota) = Self::lookup(&self.config.quota_per_second, action) {
            let second = now_ms / 1000;
            let window = self
                .windows
                .entry(action.to_string())
                .or_insert((second, 0));
            if window.0 != second {
                *window = (second, 0);
            }
            if window.1 >= quota {
                return self.count(Decision::Throttle(1000 - now_ms % 1000));
            }
            window.1 += 1;
        }
        let error_rate = Self::lookup(&self.config.error_rate, action).unwrap_or(0.0);
        if error_rate > 0.0 && self.rng.random_bool(error_rate.clamp(0.0, 1.0)) {
            return self.count(Decision::Error);
        }
        let drop_rate = Self::lookup(&self.config.drop_rate, action).unwrap_or(0.0);
        let drop_after = drop_rate > 0.0 && self.rng.random_bool(drop_rate.clamp(0.0, 1.0));
        self.count(Decision::Serve { drop_after })
    }

    fn count(&mut self, decision: Decision) -> Decision {
        match decision {
            Decision::Error => self.counts.errors += 1,
            Decision::Throttle(_) => self.counts.throttled += 1,
            Decision::Serve { drop_after: true } => self.counts.dropped += 1,
            Decision::Serve { drop_after: false } => {}
        }
        decision
    }
}

/// Parses `KEY=VALUE` flag values into a map.
pub fn parse_rates<T: std::str::FromStr>(items: &[String]) -> Result<BTreeMap<String, T>, String> {
    items
        .iter()
        .map(|item| {
            let (key, value) = item
                .split_once('=')
                .ok_or(format!("{item:?}: expected KEY=VALUE"))?;
            let value = value.parse().map_err(|_| format!("{item:?}: bad value"))?;
            Ok((key.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_throttles_beyond_the_calls_of_one_second() {
        let mut config = FaultConfig::default();
        config.quota_per_second.insert("mutating".into(), 2);
        let mut faults = Faults::new(config);
        let serve = Decision::Serve { drop_after: false };
        assert_eq!(faults.decide("DeleteCustomImages", 10_000), serve);
        assert_eq!(faults.decide("DeleteCustomImages", 10_100), serve);
        assert_eq!(
            faults.decide("DeleteCustomImages", 10_250),
            Decision::Throttle(750)
        );
        assert_eq!(
            faults.decide("ListCustomImages", 10_300),
            serve,
            "reads are not mutating"
        );
        assert_eq!(
            faults.decide("DeleteCustomImages", 11_000),
            serve,
            "a new second"
        );
        assert_eq!(faults.counts().throttled, 1);
    }

    #[test]
    fn one_shot_rules_apply_to_the_next_calls_only() {
        let mut faults = Faults::new(FaultConfig::default());
        faults.push(OneShot {
            action: "CreateCustomImage".into(),
            kind: FaultKind::Drop,
            count: 1,
        });
        assert_eq!(
            faults.decide("ListCustomImages", 0),
            Decision::Serve { drop_after: false }
        );
        assert_eq!(
            faults.decide("CreateCustomImage", 0),
            Decision::Serve { drop_after: true }
        );
        assert_eq!(
            faults.decide("CreateCustomImage", 0),
            Decision::Serve { drop_after: false }
        );
    }

    #[test]
    fn rates_are_reproducible_from_the_seed() {
        let mut config = FaultConfig {
            seed: 7,
            ..Default::default()
        };
        config.error_rate.insert("*".into(), 0.3);
        let run = |config: FaultConfig| {
            let mut faults = Faults::new(config);
            (0..200)
                .map(|i| faults.decide("ListCustomImages", i))
                .collect::<Vec<_>>()
        };
        let first = run(config.clone());
        assert_eq!(first, run(config));
        let errors = first.iter().filter(|d| **d == Decision::Error).count();
        assert!((30..=90).contains(&errors), "{errors} errors of 200 at 30%");
    }
}
