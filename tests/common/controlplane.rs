//! One real etcd + kube-apiserver per test binary, started by `tests/controlplane/cluster.sh`
//! on loopback, and a fresh namespace per test.
//!
//! The launcher runs as a child that receives SIGTERM when the test binary exits for any
//! reason (normal end, panic, Ctrl-C), and stops both processes then. Clients are made per
//! test, because a client is bound to the runtime of the test that built it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    /// Its working directory (certificates, logs, kubeconfig).
    pub dir: PathBuf,
    /// Where kube-apiserver, kubectl, etcd and helm are.
    pub bin: PathBuf,
}

static SHARED: OnceLock<ControlPlane> = OnceLock::new();

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The control plane of this test binary, started on first use.
pub fn shared() -> &'static ControlPlane {
    SHARED.get_or_init(|| {
        let dir = repo()
            .join("target/controlplane")
            .join(format!("test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("launcher.log")).unwrap();
        let mut launcher = Command::new(repo().join("tests/controlplane/cluster.sh"));
        launcher
            .arg("run")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap());
        launcher.stderr(log);
        // SAFETY: prctl is async-signal-safe; it only asks for SIGTERM when the parent dies.
        unsafe {
            launcher.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        // The death signal follows the thread that spawned the child, and each test runs on a
        // thread of its own; so spawn from a thread that lives as long as the process.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            sender.send(launcher.spawn()).unwrap();
            loop {
                std::thread::park();
            }
        });
        let mut child = receiver.recv().unwrap().expect("cluster.sh starts");
        let deadline = Instant::now() + Duration::from_secs(1800);
        while !dir.join("ready").exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("launcher.log")).unwrap_or_default();
                panic!("control plane launcher exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "control plane not ready; see {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let bin = std::fs::read_to_string(dir.join("bin"))
            .unwrap()
            .trim()
            .into();
        // The launcher keeps running; PR_SET_PDEATHSIG stops it when this process ends.
        drop(child);
        ControlPlane { dir, bin }
    })
}

impl ControlPlane {
    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// An admin client.
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig()).await
    }

    /// A kubectl command against this control plane.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(self.bin.join("kubectl"));
        command.arg("--kubeconfig").arg(self.kubeconfig());
        command
    }

    /// A kubeconfig for a client-certificate user `name` in `groups`.
    pub fn user_kubeconfig(&self, name: &str, groups: &[&str]) -> PathBuf {
        let output = Command::new(repo().join("tests/controlplane/cluster.sh"))
            .arg("user")
            .arg(&self.dir)
            .arg(name)
            .args(groups)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    }
}

/// A client for any kubeconfig file.
pub async fn client_for(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Creates a namespace with a unique name starting with `prefix`.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = format!("{prefix}-{}", hex::encode(rand::random::<[u8; 4]>()));
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    name
}

/// Applies the CRD from `crds/` once per test binary and waits until it is established.
pub fn apply_crds(cp: &ControlPlane) {
    static APPLIED: OnceLock<()> = OnceLock::new();
    APPLIED.get_or_init(|| {
        let crds = repo().join("crds");
        let status = cp
            .kubectl()
            .args(["apply", "--server-side", "-f"])
            .arg(crds)
            .status();
        assert!(status.unwrap().success(), "the CRD applies");
        let status = cp
            .kubectl()
            .args(["wait", "--for=condition=Established", "--timeout=180s"])
            .arg("crd/customimages.swas.image-operator.dev")
            .status();
        assert!(status.unwrap().success(), "the CRD is established");
    });
}
