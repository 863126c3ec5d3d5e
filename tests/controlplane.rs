//! The test control plane itself: a real kube-apiserver v1.37.2 on etcd that enforces the CRD
//! schema and CEL rules, holds deletions behind finalizers, applies RBAC to lower-privilege
//! users, and is started and stopped by `cluster.sh up` / `down` without leaving processes.

mod common;

use std::process::Command;

use common::controlplane::{self, apply_crds, client_for, namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use swas_image_operator::crd::CustomImage;

fn image(name: &str, spec: serde_json::Value) -> CustomImage {
    serde_json::from_value(json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": name },
        "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_apiserver_reports_its_version() {
    let client = controlplane::shared().client().await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.37.2");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "37")
    );
}

#[tokio::test]
async fn crd_schema_and_finalizers_behave_as_in_a_real_cluster() {
    let cp = controlplane::shared();
    apply_crds(cp);
    let client = cp.client().await;
    let ns = namespace(&client, "crd").await;
    let images: Api<CustomImage> = Api::namespaced(client, &ns);

    let good = image(
        "adopted",
        json!({ "regionId": "cn-hangzhou", "imageId": "m-abc" }),
    );
    let created = images.create(&PostParams::default(), &good).await.unwrap();
    assert_eq!(
        created.spec.deletion_policy,
        swas_image_operator::crd::DeletionPolicy::Delete
    );

    let bad = image(
        "both",
        json!({
            "regionId": "cn-hangzhou",
            "imageId": "m-abc",
            "source": { "instanceId": "i", "systemSnapshotId": "s" },
            "imageName": "x1",
        }),
    );
    let error = images
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("set exactly one of imageId"), "{error}");

    let finalizer = json!({ "metadata": { "finalizers": ["swas.image-operator.dev/cleanup"] } });
    images
        .patch(
            "adopted",
            &PatchParams::default(),
            &Patch::Merge(&finalizer),
        )
        .await
        .unwrap();
    images
        .delete("adopted", &DeleteParams::default())
        .await
        .unwrap();
    let held = images.get("adopted").await.unwrap();
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "deletion is held by the finalizer"
    );

    let release = json!({ "metadata": { "finalizers": null } });
    images
        .patch("adopted", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(images.get_opt("adopted").await.unwrap().is_none());
}

#[tokio::test]
async fn lower_privilege_users_are_held_to_rbac() {
    let cp = controlplane::shared();
    apply_crds(cp);
    let admin = cp.client().await;
    let ns = namespace(&admin, "rbac").await;
    let viewer = client_for(&cp.user_kubeconfig("viewer", &["team-a"])).await;
    let images: Api<CustomImage> = Api::namespaced(viewer, &ns);
    let error = images
        .list(&Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("forbidden"), "{error}");

    // A Role of our own: without kube-controller-manager, ClusterRole aggregation never runs.
    let kubectl = |args: &[&str]| {
        let status = cp.kubectl().args(["-n", &ns]).args(args).status().unwrap();
        assert!(status.success(), "kubectl {args:?}");
    };
    kubectl(&[
        "create",
        "role",
        "images-view",
        "--verb=get,list,watch",
        RESOURCE,
    ]);
    kubectl(&[
        "create",
        "rolebinding",
        "team-a-view",
        "--role=images-view",
        "--group=team-a",
    ]);
    images.list(&Default::default()).await.unwrap();
}

const RESOURCE: &str = "--resource=customimages.swas.image-operator.dev";

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(cmdline);
        }
    }
    found
}

#[test]
fn cluster_up_and_down_leave_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/controlplane/cluster.sh");

    let up = Command::new(script)
        .arg("up")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let export = String::from_utf8(up.stdout).unwrap();
    assert!(
        export.contains(&format!("export KUBECONFIG={dir_text}/kubeconfig")),
        "{export}"
    );
    assert!(
        processes_mentioning(&dir_text).len() >= 3,
        "supervisor, etcd and apiserver run"
    );

    let bin = std::fs::read_to_string(dir.path().join("bin")).unwrap();
    let get = Command::new(format!("{}/kubectl", bin.trim()))
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .args(["get", "ns", "default"])
        .output()
        .unwrap();
    assert!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );

    let down = Command::new(script)
        .arg("down")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(down.success());
    assert_all_stop(&dir_text);
}

/// Waits (at most 30 s) until no process mentions `dir`; then kills what is left and fails.
fn assert_all_stop(dir: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !processes_mentioning(dir).is_empty() {
        if std::time::Instant::now() >= deadline {
            let left = processes_mentioning(dir);
            let _ = Command::new("pkill").args(["-f", dir]).status();
            panic!("left behind: {left:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A test binary's launcher gets its stop signal once per thread of the dying binary (the
/// kernel sends the parent-death signal each time the launcher is handed to the next thread),
/// so signals keep arriving while it stops etcd and kube-apiserver. It must still stop both.
#[test]
fn repeated_stop_signals_still_stop_both_processes() {
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/controlplane/cluster.sh");
    let mut launcher = Command::new(script)
        .arg("run")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !dir.path().join("ready").exists() {
        assert!(
            launcher.try_wait().unwrap().is_none(),
            "the launcher exited"
        );
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Signals spread over the time kube-apiserver takes to stop, as a dying binary's are.
    let pid = launcher.id() as libc::pid_t;
    for _ in 0..10 {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = launcher.wait();
    assert_all_stop(&dir_text);
}
