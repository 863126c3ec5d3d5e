//! Flux needs no health check of its own for `CustomImage`: it reads the `Ready`,
//! `Reconciling` and `Stalled` conditions with kstatus. This test puts CustomImages into each
//! state on a real kube-apiserver (writing the status through the status subresource, as the
//! operator does; no operator runs here), reads them back live with `kubectl get -o json`, and
//! checks what kstatus itself (`tests/kstatus`, a small Go program around
//! `sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute`) says about them. It also runs the Argo CD
//! health check on the same live objects, to show where the two agree and where they differ.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::controlplane::{self, apply_crds, namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaOptions, LuaSerdeExt, StdLib, Table};
use serde_json::{Value, json};
use swas_image_operator::crd::CustomImage;

const FINALIZER: &str = "swas.image-operator.dev/cleanup";
const GO_BUILD_DEADLINE: Duration = Duration::from_secs(900);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn newest_mtime(paths: &[PathBuf]) -> SystemTime {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap())
        .max()
        .unwrap()
}

/// Runs `command` to completion, or kills it and panics after `deadline`.
fn output_within(mut command: Command, deadline: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(deadline) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on the child this function started; it has not been reaped, as
            // the waiting thread has not returned.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{command:?} did not finish within {deadline:?}");
        }
    }
}

/// `target/kstatus/kstatus`, built from `tests/kstatus` unless it is newer than its sources.
fn kstatus() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let source = repo().join("tests/kstatus");
        let bin = repo().join("target/kstatus/kstatus");
        let sources: Vec<PathBuf> = ["main.go", "go.mod", "go.sum"]
            .iter()
            .map(|f| source.join(f))
            .collect();
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        if built.is_some_and(|built| built >= newest_mtime(&sources)) {
            return bin;
        }
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        // Build beside it and rename, so that no one ever runs a half-written binary.
        let partial = bin.with_extension(format!("partial-{}", std::process::id()));
        let mut go = Command::new("go");
        go.current_dir(&source)
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=readonly -trimpath")
            .args(["build", "-p", "2", "-o"])
            .arg(&partial)
            .arg(".");
        let output = output_within(go, GO_BUILD_DEADLINE);
        assert!(
            output.status.success(),
            "go build in tests/kstatus failed (Go 1.26+ and the module proxy are needed):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&partial, &bin).unwrap();
        bin
    })
}

/// kstatus' `(status, message)` for every object of a JSON object or list, by name.
fn compute(objects: &[u8]) -> BTreeMap<String, (String, String)> {
    let mut child = Command::new(kstatus())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(objects).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kstatus: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let mut next = || fields.next().unwrap_or_default().to_string();
            (next(), (next(), next()))
        })
        .collect()
}

/// The Argo CD health check's `(status, message)` for one object, run as argocd-cm would.
fn argocd_health(object: &Value) -> (String, String) {
    let path = "deploy/argocd/swas.image-operator.dev/CustomImage/health.lua";
    let script = std::fs::read_to_string(repo().join(path)).unwrap();
    let lua = Lua::new_with(StdLib::TABLE | StdLib::PACKAGE, LuaOptions::default()).unwrap();
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
        .set_array_metatable(false);
    let obj = lua.to_value_with(object, options).unwrap();
    lua.globals().set("obj", obj).unwrap();
    let result: Table = lua.load(&script).eval().unwrap();
    let message: Option<String> = result.get("message").unwrap();
    (result.get("status").unwrap(), message.unwrap_or_default())
}

fn image(name: &str, finalizers: &[&str]) -> CustomImage {
    serde_json::from_value(json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "metadata": { "name": name, "finalizers": finalizers },
        "spec": { "regionId": "cn-hangzhou", "imageId": format!("m-{name}") },
    }))
    .unwrap()
}

/// A condition; `write_status` fills in its `observedGeneration`.
fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-02T09:14:05Z",
    })
}

/// Writes the status through the status subresource with server-side apply, as the operator
/// does, for the generation the object has now.
async fn write_status(api: &Api<CustomImage>, name: &str, conditions: Vec<Value>) {
    let generation = api.get(name).await.unwrap().metadata.generation.unwrap();
    let conditions: Vec<Value> = conditions
        .into_iter()
        .map(|mut c| {
            c["observedGeneration"] = json!(generation);
            c
        })
        .collect();
    let patch = json!({
        "apiVersion": "swas.image-operator.dev/v1alpha1",
        "kind": "CustomImage",
        "status": {
            "imageId": format!("m-{name}"),
            "observedGeneration": generation,
            "conditions": conditions,
        },
    });
    let params = PatchParams::apply("swas-image-operator").force();
    api.patch_status(name, &params, &Patch::Apply(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn kstatus_reads_the_conditions_as_flux_does() {
    // Build the Go program while the control plane starts.
    let build = std::thread::spawn(|| kstatus().to_path_buf());
    let cp = controlplane::shared();
    apply_crds(cp);
    build.join().expect("kstatus builds");
    let client = cp.client().await;
    let ns = namespace(&client, "kstatus").await;
    let api: Api<CustomImage> = Api::namespaced(client, &ns);
    let create = |name: &'static str, finalizers: &'static [&'static str]| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &image(name, finalizers))
                .await
                .unwrap()
        }
    };

    let available = "The image is available and matches the spec";
    let creating = "Image m-reconciling is being created";
    let refused = "ListCustomImages failed: HTTP 404 InvalidAccessKeyId.NotFound: Specified \
                   access key is not found. Check the credentials";
    let paused = "Paused by the swas.image-operator.dev/paused annotation";
    let looking = "Looking up the image in SWAS";

    create("ready", &[]).await;
    write_status(
        &api,
        "ready",
        vec![condition("Ready", "True", "Available", available)],
    )
    .await;

    create("reconciling", &[]).await;
    let reconciling = vec![
        condition("Ready", "False", "Creating", creating),
        condition("Reconciling", "True", "Creating", creating),
    ];
    write_status(&api, "reconciling", reconciling).await;

    create("stalled", &[]).await;
    let stalled = vec![
        condition("Ready", "False", "AuthFailed", refused),
        condition("Stalled", "True", "AuthFailed", refused),
    ];
    write_status(&api, "stalled", stalled).await;

    create("paused", &[]).await;
    write_status(
        &api,
        "paused",
        vec![condition("Ready", "False", "Paused", paused)],
    )
    .await;

    // The first status kstatus asks an operator to write on sight: working, not Ready yet.
    create("initial", &[]).await;
    let initial = vec![
        condition("Ready", "Unknown", "Converging", looking),
        condition("Reconciling", "True", "Converging", looking),
    ];
    write_status(&api, "initial", initial).await;

    // Ready for generation 1, then the spec changes: the status describes an older spec.
    create("stale", &[]).await;
    write_status(
        &api,
        "stale",
        vec![condition("Ready", "True", "Available", available)],
    )
    .await;
    let tags = json!({ "spec": { "tags": { "team": "web" } } });
    let changed = api
        .patch("stale", &PatchParams::default(), &Patch::Merge(&tags))
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));

    // Held by the finalizer after deletion, as while the operator deletes the image.
    create("terminating", &[FINALIZER]).await;
    let ready = vec![condition("Ready", "True", "Available", available)];
    write_status(&api, "terminating", ready).await;
    api.delete("terminating", &DeleteParams::default())
        .await
        .unwrap();

    // Created, and no status written yet.
    create("fresh", &[]).await;

    let listed = cp
        .kubectl()
        .args([
            "-n",
            &ns,
            "get",
            "customimages.swas.image-operator.dev",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let computed = compute(&listed.stdout);
    let live: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let argocd: BTreeMap<String, (String, String)> = live["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                argocd_health(o),
            )
        })
        .collect();

    // Release the finalizer before asserting anything, so that a failure leaves nothing held.
    let release = json!({ "metadata": { "finalizers": null } });
    api.patch(
        "terminating",
        &PatchParams::default(),
        &Patch::Merge(&release),
    )
    .await
    .unwrap();
    assert!(api.get_opt("terminating").await.unwrap().is_none());

    let stale_message = "CustomImage generation is 2, but latest observed generation is 1";
    let expected = [
        ("ready", "Current", "Resource is Ready", "Healthy"),
        ("reconciling", "InProgress", creating, "Progressing"),
        ("stalled", "Failed", refused, "Degraded"),
        // kstatus has no "suspended": a paused image is simply not Ready yet.
        ("paused", "InProgress", paused, "Suspended"),
        ("initial", "InProgress", looking, "Progressing"),
        ("stale", "InProgress", stale_message, "Progressing"),
        (
            "terminating",
            "Terminating",
            "Resource scheduled for deletion",
            "Progressing",
        ),
        // kstatus calls an object without any status Current ("Resource is current"), so Flux's
        // `wait` and health checks would pass before the operator has looked at it. This is why
        // the operator must write a first status quickly, before any slow cloud call
        // (Reconciling=True with Ready=Unknown, as "initial" above, reads InProgress). The Argo
        // CD check says Progressing for a missing status, so it does not have this gap.
        ("fresh", "Current", "Resource is current", "Progressing"),
    ];
    let mut failures = Vec::new();
    for (name, status, message, health) in expected {
        let got = computed.get(name).cloned().unwrap_or_default();
        if got != (status.to_string(), message.to_string()) {
            failures.push(format!(
                "kstatus {name}: expected {status} {message:?}, got {got:?}"
            ));
        }
        let got = argocd.get(name).cloned().unwrap_or_default();
        if got.0 != health {
            failures.push(format!("Argo CD {name}: expected {health}, got {got:?}"));
        }
    }
    assert_eq!(computed.len(), expected.len(), "{computed:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
