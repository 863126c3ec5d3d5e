//! What the benchmarks run on: the shared control plane, a release-built emulator and operator
//! as separate processes, and readers for the numbers (emulator audit, apiserver request
//! counters, the operator's peak memory and CPU time).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use swas_image_operator::crd::CustomImage;

use crate::common::controlplane::{self, ControlPlane, apply_crds};

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The release binary, built once.
pub fn binary() -> PathBuf {
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--bin",
            "swas-image-operator",
        ])
        .current_dir(repo())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "release build failed");
    repo().join("target/release/swas-image-operator")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One benchmark's world.
pub struct World {
    pub cp: &'static ControlPlane,
    pub client: Client,
    pub ns: String,
    pub emulator_url: String,
    pub operator: Option<Process>,
    _emulator: Process,
    bin: PathBuf,
    pub http: reqwest::Client,
}

impl World {
    /// Starts an emulator process with `emulator_args`.
    pub async fn start(name: &str, emulator_args: &[&str]) -> Self {
        let cp = controlplane::shared();
        apply_crds(cp);
        let client = cp.client().await;
        let ns = format!("{name}-{}", hex::encode(rand::random::<[u8; 3]>()));
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let bin = binary();
        let port = free_port();
        let child = Command::new(&bin)
            .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
            .args(emulator_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let emulator_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{emulator_url}/admin/health"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "emulator did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            cp,
            client,
            ns,
            emulator_url,
            operator: None,
            _emulator: Process(child),
            bin,
            http,
        }
    }

    /// Starts the operator process with extra flags.
    pub fn start_operator(&mut self, args: &[&str]) {
        let log =
            std::fs::File::create(self.cp.dir.join(format!("operator-{}.log", self.ns))).unwrap();
        let child = Command::new(&self.bin)
            .args([
                "run",
                "--namespace",
                &self.ns,
                "--swas-endpoint",
                &self.emulator_url,
            ])
            .arg(format!("--metrics-address=127.0.0.1:{}", free_port()))
            .args(args)
            .env("KUBECONFIG", self.cp.kubeconfig())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "emulator-ak")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "emulator-secret")
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.operator = Some(Process(child));
    }

    pub fn images(&self) -> Api<CustomImage> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates `count` CustomImages named `<prefix>-<n>` from the seeded servers.
    pub async fn create_many(&self, prefix: &str, count: usize, extra: Value) {
        for n in 0..count {
            let server = n % 3 + 1;
            let mut spec = json!({
                "regionId": "cn-hangzhou",
                "source": {
                    "instanceId": format!("cn-hangzhou-server-{server}"),
                    "systemSnapshotId": format!("s-cn-hangzhou-sys-{server}"),
                },
                "imageName": format!("{prefix}-{n}"),
            });
            if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
                spec.extend(extra.clone());
            }
            let object: CustomImage = serde_json::from_value(json!({
                "apiVersion": "swas.image-operator.dev/v1alpha1",
                "kind": "CustomImage",
                "metadata": { "name": format!("{prefix}-{n}") },
                "spec": spec,
            }))
            .unwrap();
            self.images()
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
    }

    /// Waits until `count` objects are Ready; returns when that happened.
    pub async fn wait_ready(&self, count: usize, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let list = self.images().list(&Default::default()).await.unwrap().items;
            let ready = list.iter().filter(|o| {
                o.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            });
            if ready.count() >= count {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "not all {count} resources became Ready"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the namespace holds no CustomImage.
    pub async fn wait_empty(&self, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .images()
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
            {
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "resources were not all deleted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The emulator's audit log since `since`.
    pub async fn audit(&self, since: u64) -> Vec<Value> {
        let url = format!("{}/admin/audit?since={since}", self.emulator_url);
        let log: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log.as_array().cloned().unwrap_or_default()
    }

    /// The sequence number of the last audit entry.
    pub async fn audit_mark(&self) -> u64 {
        self.audit(0)
            .await
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Sets emulator faults.
    pub async fn faults(&self, faults: Value) {
        let url = format!("{}/admin/faults", self.emulator_url);
        self.http.put(url).json(&faults).send().await.unwrap();
    }

    /// apiserver_request_total summed by verb, from the apiserver's own /metrics, leaving out
    /// Leases (kube-apiserver renews its own identity Lease every 10 s).
    pub async fn apiserver_requests(&self) -> BTreeMap<String, f64> {
        let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
        let text = self.client.request_text(request).await.unwrap();
        let mut by_verb = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("apiserver_request_total{"))
            .filter(|l| !l.contains("resource=\"leases\""))
        {
            let verb = line
                .split("verb=\"")
                .nth(1)
                .and_then(|v| v.split('"').next());
            let value = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
            if let (Some(verb), Some(value)) = (verb, value) {
                *by_verb.entry(verb.to_string()).or_insert(0.0) += value;
            }
        }
        by_verb
    }

    /// The operator's peak RSS (MiB) and CPU time (s).
    pub fn operator_usage(&self) -> (f64, f64) {
        let pid = self.operator.as_ref().map(|p| p.0.id()).unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let hwm_kib = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i)?.parse::<f64>().ok())
            .sum();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (hwm_kib / 1024.0, ticks / per_second.max(1.0))
    }

    /// Deletes every CustomImage of the namespace at once; returns when the calls were made.
    pub async fn delete_all(&self) -> Instant {
        let names: Vec<String> = self
            .images()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|o| o.name_any())
            .collect();
        let started = Instant::now();
        let api = self.images();
        let params = kube::api::DeleteParams::default();
        let deletes = names.iter().map(|n| api.delete(n, &params));
        for result in futures::future::join_all(deletes).await {
            result.unwrap();
        }
        started
    }
}

/// Counts audit entries by action.
pub fn by_action(entries: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts
            .entry(entry["action"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    counts
}
