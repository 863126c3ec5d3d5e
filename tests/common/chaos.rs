//! Helpers of the chaos suite (`tests/chaos.rs`): the operator as a real child process that a
//! seeded schedule SIGKILLs and restarts, a restart of kube-apiserver, and the emulator's admin
//! endpoints read back as the emulator's own types.
//!
//! The children are the test's to clean up: [`Chaos`] kills and reaps the current one when it
//! is stopped or dropped (also on panic), and each child also gets `PR_SET_PDEATHSIG` as a
//! backstop for a test binary that is killed outright.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swas_image_operator::emulator::audit::Entry;
use swas_image_operator::emulator::faults::{FaultConfig, FaultCounts};
use swas_image_operator::emulator::state::World;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{AK, SECRET};

/// How to start the operator: `swas-image-operator run` for one namespace and one emulator.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The namespace it watches.
    pub namespace: String,
    /// The emulator's URL (`--swas-endpoint`).
    pub endpoint: String,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// Where each process's output goes (`operator-<n>.log`).
    pub dir: PathBuf,
}

impl Launch {
    /// Starts process number `n`, its output in `operator-<n>.log`.
    pub fn spawn(&self, n: u32) -> std::io::Result<Child> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(self.log(n))?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_swas-image-operator"));
        command
            .arg("run")
            .args(["--namespace", &self.namespace])
            .args(["--swas-endpoint", &self.endpoint])
            .args(["--poll-seconds", "1"])
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{port}"))
            .env_clear()
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info,swas_image_operator=debug")
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe. A backstop only: `Chaos` kills its children.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command.spawn()
    }

    /// The output of process number `n`.
    pub fn log(&self, n: u32) -> PathBuf {
        self.dir.join(format!("operator-{n}.log"))
    }
}

/// What the schedule did to the operator.
#[derive(Clone, Debug, Default)]
pub struct ChaosCounts {
    /// Processes started.
    pub starts: u32,
    /// Processes SIGKILLed by the schedule.
    pub kills: u32,
    /// Processes that exited on their own (and were started again).
    pub exits: u32,
    /// How each of those exited, and where its output is.
    pub exit_notes: Vec<String>,
}

struct Current {
    child: Option<Child>,
    number: u32,
    counts: ChaosCounts,
}

impl Current {
    fn start(&mut self, launch: &Launch) {
        self.number += 1;
        match launch.spawn(self.number) {
            Ok(child) => {
                self.child = Some(child);
                self.counts.starts += 1;
            }
            Err(e) => panic!("the operator binary does not start: {e}"),
        }
    }

    fn kill(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        // SAFETY: kill(2) on a child not yet reaped (we hold it), so the PID is still ours.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait();
        true
    }
}

/// The operator under a kill schedule: SIGKILLed every `every` (seeded, uniform) and started
/// again at once; a process that exits on its own is started again within a second.
pub struct Chaos {
    current: Arc<Mutex<Current>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Chaos {
    /// Starts the first process and the schedule.
    pub fn start(launch: Launch, seed: u64, every: (Duration, Duration)) -> Self {
        let current = Arc::new(Mutex::new(Current {
            child: None,
            number: 0,
            counts: ChaosCounts::default(),
        }));
        current.lock().unwrap().start(&launch);
        let (stop, mut stopped) = watch::channel(false);
        let shared = current.clone();
        // The children are spawned from this task's worker thread, which lives as long as the
        // runtime, so PR_SET_PDEATHSIG does not fire early.
        let task = tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut last_start = Instant::now();
            loop {
                let (low, high) = (every.0.as_millis() as u64, every.1.as_millis() as u64);
                let kill_at = Instant::now() + Duration::from_millis(rng.random_range(low..=high));
                while Instant::now() < kill_at {
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    let mut current = shared.lock().unwrap();
                    let exited = match current.child.as_mut().map(Child::try_wait) {
                        Some(Ok(Some(status))) => Some(status.to_string()),
                        Some(Err(e)) => Some(e.to_string()),
                        Some(Ok(None)) => None,
                        None => Some("not running".into()),
                    };
                    if let Some(status) = exited {
                        if last_start.elapsed() < Duration::from_secs(1) {
                            continue; // a crash loop (apiserver down) restarts once a second
                        }
                        let log = launch.log(current.number);
                        let note =
                            format!("process {} {status}: {}", current.number, log.display());
                        current.child = None;
                        current.counts.exits += 1;
                        current.counts.exit_notes.push(note);
                        current.start(&launch);
                        last_start = Instant::now();
                    }
                }
                let mut current = shared.lock().unwrap();
                if current.kill() {
                    current.counts.kills += 1;
                }
                current.start(&launch);
                last_start = Instant::now();
            }
        });
        Self {
            current,
            stop,
            task: Some(task),
        }
    }

    /// Stops the schedule, kills the current process and reports.
    pub async fn stop(mut self) -> ChaosCounts {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let mut current = self.current.lock().unwrap();
        current.kill();
        current.counts.clone()
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.kill();
    }
}

/// Restarts kube-apiserver of the control plane in `dir` (etcd keeps its data); returns how
/// long it took, or the launcher's complaint.
pub async fn restart_apiserver(dir: &Path) -> Result<Duration, String> {
    let began = Instant::now();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/controlplane/cluster.sh");
    let log = dir.join("restart-apiserver.log");
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let status = tokio::process::Command::new(script)
        .arg("restart-apiserver")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .status()
        .await
        .map_err(|e| e.to_string())?;
    match status.success() {
        true => Ok(began.elapsed()),
        false => Err(format!("restart-apiserver {status}; see {}", log.display())),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str, path: &str) -> T {
    let response = reqwest::get(format!("{url}{path}")).await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Every call the emulator served, in order.
pub async fn audit(url: &str) -> Vec<Entry> {
    get_json(url, "/admin/audit").await
}

/// The emulator's world: images (deleted ones with `deleted_at` until purged) and the
/// idempotency records of `ClientToken` calls.
pub async fn world(url: &str) -> World {
    get_json(url, "/admin/state").await
}

/// How many faults the emulator injected.
pub async fn fault_counts(url: &str) -> FaultCounts {
    #[derive(serde::Deserialize)]
    struct Faults {
        counts: FaultCounts,
    }
    get_json::<Faults>(url, "/admin/faults").await.counts
}

/// Replaces the emulator's standing faults.
pub async fn set_faults(url: &str, config: &FaultConfig) {
    let response = reqwest::Client::new()
        .put(format!("{url}/admin/faults"))
        .json(config)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "PUT /admin/faults");
}

/// The value of tag `key` among a call's `Tag.N.Key` / `Tag.N.Value` parameters.
pub fn tag_param<'a>(params: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    params.iter().find_map(|(name, value)| {
        let n = name.strip_prefix("Tag.")?.strip_suffix(".Key")?;
        (value == key).then(|| params.get(&format!("Tag.{n}.Value")).map(String::as_str))?
    })
}

/// The `ImageIds` of a delete call (or its `ImageId`), `None` if they do not parse.
pub fn image_ids(entry: &Entry) -> Option<Vec<String>> {
    match (entry.params.get("ImageIds"), entry.params.get("ImageId")) {
        (Some(ids), _) => serde_json::from_str(ids).ok(),
        (None, Some(id)) => Some(vec![id.clone()]),
        (None, None) => None,
    }
}
