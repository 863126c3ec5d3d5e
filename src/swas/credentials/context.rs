//! What credential sources may touch: environment variables, files and HTTP endpoints.
//!
//! Production uses the process environment and the real file system; tests hand in maps, so
//! the chain can be exercised without changing the process or the disk. HTTP endpoints (STS,
//! ECS metadata) are plain settings that tests point at a local server.

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::swas::sign::{Clock, SystemClock};

/// Reads environment variables.
pub trait Environment: Send + Sync + Debug {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// Reads files.
pub trait FileSystem: Send + Sync + Debug {
    /// The whole file as UTF-8 text.
    fn read_to_string(&self, path: &Path) -> std::io::Result<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEnvironment;

impl Environment for OsEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFileSystem;

impl FileSystem for OsFileSystem {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// An environment made of a map, for tests.
#[derive(Debug, Default, Clone)]
pub struct MapEnvironment(pub HashMap<String, String>);

impl MapEnvironment {
    /// Builds one from pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// Files held in memory, changeable while in use (to model a rotated token file).
#[derive(Debug, Default, Clone)]
pub struct MapFileSystem(Arc<Mutex<HashMap<PathBuf, String>>>);

impl MapFileSystem {
    /// Writes (or replaces) a file.
    pub fn write(&self, path: impl Into<PathBuf>, contents: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.into(), contents.into());
    }
}

impl FileSystem for MapFileSystem {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        let files = self.0.lock().unwrap_or_else(|e| e.into_inner());
        files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }
}

/// Everything a credential source reads from.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// Environment variables.
    pub env: Arc<dyn Environment>,
    /// Files.
    pub fs: Arc<dyn FileSystem>,
    /// The clock used to judge expiry and stamp STS requests.
    pub clock: Arc<dyn Clock>,
    /// HTTP client for STS and the metadata service.
    pub http: reqwest::Client,
    /// STS endpoint base URL; `ALIBABA_CLOUD_STS_ENDPOINT` or the region's endpoint by default.
    pub sts_endpoint: Option<String>,
    /// ECS metadata base URL (`http://100.100.100.200` by default).
    pub metadata_endpoint: String,
}

impl SourceContext {
    /// The real process environment, file system, clock and network.
    pub fn system() -> Self {
        Self::new(Arc::new(OsEnvironment), Arc::new(OsFileSystem))
    }

    /// A context over the given environment and files, with the system clock.
    pub fn new(env: Arc<dyn Environment>, fs: Arc<dyn FileSystem>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            env,
            fs,
            clock: Arc::new(SystemClock),
            http,
            sts_endpoint: None,
            metadata_endpoint: "http://100.100.100.200".to_string(),
        }
    }

    /// The user's home directory, from `HOME`.
    pub fn home(&self) -> Option<PathBuf> {
        self.env.var("HOME").map(PathBuf::from)
    }

    /// True when the variable is set to `true` (any case).
    pub fn flag(&self, name: &str) -> bool {
        self.env
            .var(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}
