//! The operator as a real child process: `swas-image-operator run` against the shared control
//! plane and a test's emulator, with its output in files, its probe server on a free port, and
//! a guard that kills and reaps it when the test ends, passes or panics.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use super::controlplane::ControlPlane;
use super::{AK, SECRET};

/// A free port on loopback (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// How to start one operator process.
#[derive(Clone, Debug)]
pub struct Launch {
    /// A name for its log files and messages (also `POD_NAME` with leader election).
    pub name: String,
    /// The namespace it watches (and, with leader election, holds its Lease in).
    pub namespace: String,
    /// The emulator's URL.
    pub endpoint: String,
    /// The Lease name when leader election is on.
    pub lease: Option<String>,
    /// `--lease-duration-seconds`.
    pub lease_seconds: u64,
    /// Where its output goes.
    pub dir: PathBuf,
}

impl Launch {
    /// One replica without leader election.
    pub fn single(name: &str, namespace: &str, endpoint: &str, dir: &Path) -> Self {
        Self {
            name: name.to_string(),
            namespace: namespace.to_string(),
            endpoint: endpoint.to_string(),
            lease: None,
            lease_seconds: 6,
            dir: dir.to_path_buf(),
        }
    }

    /// One replica electing its leader on `lease`.
    pub fn replica(name: &str, namespace: &str, endpoint: &str, lease: &str, dir: &Path) -> Self {
        Self {
            lease: Some(lease.to_string()),
            ..Self::single(name, namespace, endpoint, dir)
        }
    }

    /// Starts the process.
    pub fn spawn(&self, cp: &ControlPlane) -> Operator {
        let port = free_port();
        let stdout = self.dir.join(format!("{}.stdout", self.name));
        let stderr = self.dir.join(format!("{}.stderr", self.name));
        let mut command = Command::new(env!("CARGO_BIN_EXE_swas-image-operator"));
        command
            .arg("run")
            .args(["--namespace", &self.namespace])
            .args(["--swas-endpoint", &self.endpoint])
            .args(["--poll-seconds", "1"])
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{port}"))
            .env_clear()
            .env("KUBECONFIG", cp.kubeconfig())
            .env("HOME", &self.dir)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        if let Some(lease) = &self.lease {
            command
                .arg("--leader-elect")
                .args(["--lease-name", lease])
                .arg("--lease-duration-seconds")
                .arg(self.lease_seconds.to_string())
                .env("POD_NAMESPACE", &self.namespace)
                .env("POD_NAME", &self.name);
        }
        // SAFETY: prctl is async-signal-safe. A backstop for a test binary that is killed
        // outright; the guard's Drop is what normally stops the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().expect("the operator binary starts");
        Operator {
            child,
            name: self.name.clone(),
            port,
            stdout,
            stderr,
            status: None,
        }
    }
}

/// A running operator process; dropping it kills and reaps the process.
#[derive(Debug)]
pub struct Operator {
    child: Child,
    /// Its name (and identity with leader election).
    pub name: String,
    /// The port of `/metrics`, `/healthz` and `/readyz`.
    pub port: u16,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Operator {
    /// Its process ID.
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Sends a signal.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with the PID of a child this guard has not reaped yet.
        let result = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(result, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Everything it wrote so far, stdout then stderr.
    pub fn log(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        out + &err
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Waits at most `within` for it to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GETs one of its endpoints: `(status, body)`, or `None` if nothing answers.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let response = client.get(url).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Waits at most `seconds` until `path` answers 200.
    pub async fn wait_ok(&mut self, path: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let answer = self.get(path).await;
            if let Some((200, _)) = answer {
                return;
            }
            if let Some(status) = self.exited() {
                panic!("{} exited with {status} before {path} answered", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{}: {path} never answered 200; last answer: {answer:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits at most `seconds` until its output contains `text`.
    pub async fn wait_log(&self, text: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{} never logged {text:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many times its output contains `text`.
    pub fn count(&self, text: &str) -> usize {
        self.log().matches(text).count()
    }

    /// Waits at most `seconds` until its output contains `text` more than `seen` times.
    pub async fn wait_count(&self, text: &str, seen: usize, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while self.count(text) <= seen {
            assert!(
                Instant::now() < deadline,
                "{} did not log {text:?} again",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last `lines` lines of its output.
    pub fn tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of operator {} ({}):\n{}",
                self.name,
                self.stderr.display(),
                self.tail(40)
            );
        }
    }
}
