//! The Helm chart and the plain manifests, on the real control plane: lint, kept in sync with
//! `crds/` and `deploy/`, accepted by server-side dry run (pods too) in a namespace enforcing
//! the restricted Pod Security profile, and the chart's RBAC is exactly what the code needs:
//! the operator, run with a token of the chart's ServiceAccount, creates, shares and deletes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::controlplane::{self, ControlPlane, apply_crds, namespace};
use serde_json::{Value, json};

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/swas-image-operator");

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn helm(cp: &ControlPlane) -> Command {
    Command::new(cp.bin.join("helm"))
}

fn template(cp: &ControlPlane, release: &str, ns: &str, extra: &[&str]) -> String {
    run(helm(cp)
        .args(["template", release, CHART, "--namespace", ns])
        .args(extra))
}

fn apply(cp: &ControlPlane, manifest: &str, extra: &[&str]) -> String {
    let mut child = cp
        .kubectl()
        .args(["apply", "--server-side", "-f", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "kubectl apply failed: {text}");
    text
}

#[test]
fn the_chart_lints_and_stays_in_sync() {
    let cp = controlplane::shared();
    run(helm(cp).args(["lint", "--strict", CHART]));
    let crd = std::fs::read_to_string(Path::new(CHART).join("crds/customimage.yaml")).unwrap();
    let generated = swas_image_operator::crd::crd_yaml();
    assert!(
        crd == generated,
        "the chart's CRD differs from crds/: run `make manifests`"
    );

    let render = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/render.sh");
    let rendered = run(Command::new("bash").arg(render));
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/operator.yaml"))
            .unwrap();
    assert!(
        rendered == checked_in,
        "deploy/operator.yaml is stale: run `make manifests`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_passes_server_side_dry_run_under_restricted_pod_security() {
    let cp = controlplane::shared();
    apply_crds(cp);
    let client = cp.client().await;
    let ns = namespace(&client, "restricted").await;
    run(cp
        .kubectl()
        .args(["label", "namespace", &ns])
        .arg("pod-security.kubernetes.io/enforce=restricted"));
    for values in [vec![], vec!["--set", "credentials.source=rrsa"]] {
        let manifest = template(cp, "dry", &ns, &values);
        apply(cp, &manifest, &["--dry-run=server"]);

        // Pod Security admission judges pods, not Deployments: try the pod itself.
        let deployment = manifest
            .split("\n---")
            .find(|doc| doc.contains("kind: Deployment"))
            .expect("the chart renders a Deployment");
        let deployment: Value = serde_norway::from_str(deployment).unwrap();
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "operator-pod", "namespace": ns },
            "spec": deployment["spec"]["template"]["spec"],
        });
        let output = apply(cp, &pod.to_string(), &["--dry-run=server"]);
        assert!(!output.contains("violate"), "{output}");
    }
}

/// What the operator's code calls, and so all its ServiceAccount may do (besides the
/// self-review rules every authenticated user has).
const EXPECTED_RULES: &[(&str, &str)] = &[
    // controller: watch (get, list, watch) and the finalizer JSON patches
    (
        "customimages.swas.image-operator.dev",
        "[get list watch patch]",
    ),
    // status::write: server-side apply on the status subresource
    ("customimages.swas.image-operator.dev/status", "[get patch]"),
    // events::Recorder: create, and patch for repeated events
    ("events.events.k8s.io", "[create patch]"),
    // credentials::resolve: get the Secret a resource names
    ("secrets", "[get]"),
];

/// The leader-election Role, in the release namespace only.
const LEASE_RULE: (&str, &str) = ("leases.coordination.k8s.io", "[get create patch]");

fn can_i(cp: &ControlPlane, kubeconfig: &Path, ns: &str) -> Vec<(String, String)> {
    let text = run(Command::new(cp.bin.join("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["auth", "can-i", "--list", "-n", ns]));
    // Granted to every authenticated user by the default cluster roles, not by the chart.
    let defaults = ["selfsubject", "clustertrustbundles.certificates.k8s.io"];
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // Columns: resource, non-resource URLs, resource names, verbs (last, in brackets).
            let resource = line.split_whitespace().next()?;
            let verbs = line[line.rfind('[')?..].trim();
            (!resource.starts_with('[')).then(|| (resource.to_string(), verbs.to_string()))
        })
        .filter(|(resource, _)| !defaults.iter().any(|s| resource.starts_with(s)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn sorted(rules: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = rules
        .iter()
        .map(|(r, v)| (r.to_string(), v.to_string()))
        .collect();
    rules.sort();
    rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_rbac_is_sufficient_and_nothing_more() {
    let cp = controlplane::shared();
    apply_crds(cp);
    let admin = cp.client().await;
    let release_ns = namespace(&admin, "operator").await;
    let watched = namespace(&admin, "images").await;
    let release = format!("rbac-{}", &release_ns[release_ns.len() - 8..]);
    let manifest = template(
        cp,
        &release,
        &release_ns,
        &["--set", "credentials.source=none"],
    );
    let rbac: Vec<&str> = manifest
        .split("\n---")
        .filter(|doc| {
            ["kind: ServiceAccount", "kind: ClusterRole", "kind: Role"]
                .iter()
                .any(|kind| doc.contains(kind))
        })
        .collect();
    apply(cp, &rbac.join("\n---"), &[]);

    let sa = format!("{release}-swas-image-operator");
    let token = run(cp
        .kubectl()
        .args(["-n", &release_ns, "create", "token", &sa]));
    let kubeconfig = token_kubeconfig(cp, token.trim());

    let mut expected = sorted(EXPECTED_RULES);
    assert_eq!(
        can_i(cp, kubeconfig.path(), &watched),
        expected,
        "rules in a watched namespace"
    );
    expected.push((LEASE_RULE.0.to_string(), LEASE_RULE.1.to_string()));
    expected.sort();
    assert_eq!(
        can_i(cp, kubeconfig.path(), &release_ns),
        expected,
        "rules in its own namespace"
    );

    let emulator = common::start_fast().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_swas-image-operator"))
        .args([
            "run",
            "--leader-elect",
            "--poll-seconds",
            "1",
            "--namespace",
            &watched,
        ])
        .arg(format!("--swas-endpoint={}", emulator.url()))
        .arg(format!("--metrics-address=127.0.0.1:{port}"))
        .env("KUBECONFIG", kubeconfig.path())
        .env("POD_NAMESPACE", &release_ns)
        .env("POD_NAME", "operator-0")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", common::AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", common::SECRET)
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let images = format!("--namespace={watched}");
    let spec = json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": "rbac-check", "namespace": watched },
        "spec": {
            "regionId": "cn-hangzhou",
            "source": {
                "instanceId": "cn-hangzhou-server-1",
                "systemSnapshotId": "s-cn-hangzhou-sys-1"
            },
            "imageName": "rbac-check",
        },
    });
    apply(cp, &spec.to_string(), &[]);
    let wait = |condition: &str| {
        run(cp.kubectl().args([
            &images,
            "wait",
            "--timeout=90s",
            condition,
            "customimage/rbac-check",
        ]))
    };
    wait("--for=condition=Ready");
    run(cp
        .kubectl()
        .args([
            &images,
            "patch",
            "customimage",
            "rbac-check",
            "--type=merge",
            "-p",
        ])
        .arg(r#"{"spec":{"shareToEcs":true}}"#));
    wait("--for=jsonpath={.status.inShare}=true");
    run(cp.kubectl().args([
        &images,
        "delete",
        "customimage",
        "rbac-check",
        "--timeout=90s",
    ]));

    let deletes: Vec<Value> = common::admin(&emulator.url(), "/admin/audit")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "DeleteCustomImages" && e["status"] == 200)
        .cloned()
        .collect();
    assert_eq!(
        deletes.len(),
        1,
        "the image was deleted with the chart's permissions"
    );
    assert!(
        operator.try_wait().unwrap().is_none(),
        "the operator is still running"
    );
    operator.kill().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), operator.wait()).await;
}

/// A kubeconfig that authenticates with a bearer token.
fn token_kubeconfig(cp: &ControlPlane, token: &str) -> tempfile::NamedTempFile {
    let admin = std::fs::read_to_string(cp.kubeconfig()).unwrap();
    let admin: Value = serde_norway::from_str(&admin).unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "local", "cluster": cluster }],
        "users": [{ "name": "operator", "user": { "token": token } }],
        "contexts": [{ "name": "local", "context": { "cluster": "local", "user": "operator" } }],
        "current-context": "local",
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config.to_string()).unwrap();
    file
}
