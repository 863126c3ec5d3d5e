//! `make bench`: the operator's cost at scale and under a quota, measured with real parts (the
//! control plane, a release build of the operator and of the emulator, as processes).
//!
//! Scenarios: scale up N resources; one steady-state resync; a mass delete of shared images
//! under a per-action quota; delete latency (one at a time and back to back). Each prints a
//! table and writes it to `target/bench/<scenario>.md`. `BENCH_N` sets N (default 1000), `BENCH_QUOTA` the quota
//! (default 20 calls per second per action), `BENCH_DELETES` the mass-delete size (500),
//! `BENCH_LATENCY` the deletions timed (100), `BENCH_RESYNC` the resync interval (30 s) and
//! `BENCH_ONLY` a comma-separated choice of `scale`, `delete`, `latency`.

#[path = "../../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;
mod world;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use world::{World, by_action};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints a report and writes it under target/bench/.
fn report(name: &str, title: &str, rows: &[(String, String)]) {
    let mut text = format!("## {title}\n\n| measure | value |\n| --- | --- |\n");
    for (measure, value) in rows {
        let _ = writeln!(text, "| {measure} | {value} |");
    }
    println!("{text}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(format!("{dir}/{name}.md"), text);
}

fn calls_row(entries: &[Value]) -> String {
    let counts = by_action(entries);
    let parts: Vec<String> = counts.iter().map(|(a, n)| format!("{a} {n}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn verbs_delta(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> (String, f64) {
    let mut parts = Vec::new();
    let mut writes = 0.0;
    for (verb, value) in after {
        let delta = value - before.get(verb).copied().unwrap_or(0.0);
        if delta >= 1.0 {
            parts.push(format!("{verb} {delta}"));
            if matches!(
                verb.as_str(),
                "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY" | "CREATE" | "UPDATE"
            ) {
                writes += delta;
            }
        }
    }
    (parts.join(", "), writes)
}

/// Scenarios 1 and 2: scale up, then one resync of an unchanged world.
async fn scale_and_steady_state(n: usize) {
    let quota = format!("--image-quota={}", n + 10);
    let mut world = World::start("bench-scale", &["--create-delay-ms=1000", &quota]).await;
    let resync = env_number("BENCH_RESYNC", 30) as u64;
    world.start_operator(&["--resync-seconds", &resync.to_string(), "--swas-qps", "50"]);
    let mark = world.audit_mark().await;
    let requests_before = world.apiserver_requests().await;
    let started = Instant::now();
    world.create_many("img", n, json!({})).await;
    let created = started.elapsed();
    let ready_at = world
        .wait_ready(n, Duration::from_secs(60 + n as u64))
        .await;
    let calls = world.audit(mark).await;
    let (verbs, _) = verbs_delta(&requests_before, &world.apiserver_requests().await);
    let (rss, cpu) = world.operator_usage();
    report(
        "scale",
        &format!("Scale up: {n} CustomImages created from snapshots"),
        &[
            ("resources".into(), n.to_string()),
            (
                "time to create the objects".into(),
                format!("{:.1} s", created.as_secs_f64()),
            ),
            (
                "time until all Ready".into(),
                format!("{:.1} s", (ready_at - started).as_secs_f64()),
            ),
            ("SWAS calls".into(), calls_row(&calls)),
            (
                "apiserver requests (all clients, Leases aside)".into(),
                verbs,
            ),
            ("operator peak RSS".into(), format!("{rss:.1} MiB")),
            ("operator CPU time".into(), format!("{cpu:.1} s")),
        ],
    );

    // Steady state: let one full resync interval pass with nothing changed.
    let settle = Instant::now() + Duration::from_secs(resync);
    while Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mark = world.audit_mark().await;
    let before = world.apiserver_requests().await;
    let window = Instant::now() + Duration::from_secs(resync);
    while Instant::now() < window {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let calls = world.audit(mark).await;
    let (verbs, writes) = verbs_delta(&before, &world.apiserver_requests().await);
    let lists = calls
        .iter()
        .filter(|e| e["action"] == "ListCustomImages")
        .count();
    let (rss, _) = world.operator_usage();
    report(
        "steady-state",
        &format!("Steady state: one resync interval ({resync} s) of {n} unchanged resources"),
        &[
            ("SWAS calls".into(), calls_row(&calls)),
            (
                "target".into(),
                format!("{} ListCustomImages and nothing else", n.div_ceil(100)),
            ),
            (
                "per-object observer (1 call per resource)".into(),
                format!("{n} calls"),
            ),
            (
                "ratio to a per-object observer".into(),
                format!("{:.3}", lists as f64 / n as f64),
            ),
            (
                "apiserver requests (all clients, Leases aside)".into(),
                verbs,
            ),
            ("apiserver writes".into(), format!("{writes}")),
            ("operator peak RSS".into(), format!("{rss:.1} MiB")),
        ],
    );
}

/// Scenario 3: shared images deleted at once under a per-action quota.
async fn mass_delete(count: usize, quota: usize) {
    let image_quota = format!("--image-quota={}", count + 10);
    let mut world = World::start("bench-delete", &["--create-delay-ms=0", &image_quota]).await;
    world.start_operator(&["--swas-qps", &quota.to_string()]);
    world
        .create_many("shared", count, json!({ "shareToEcs": true }))
        .await;
    world
        .wait_ready(count, Duration::from_secs(120 + count as u64))
        .await;
    world
        .faults(json!({ "quotaPerSecond": { "*": quota } }))
        .await;
    let mark = world.audit_mark().await;
    let started = world.delete_all().await;
    let drained = world
        .wait_empty(Duration::from_secs(120 + 4 * count as u64))
        .await;
    let calls = world.audit(mark).await;
    let counts = by_action(&calls);
    let throttled = calls.iter().filter(|e| e["outcome"] == "throttled").count();
    let busiest = counts.values().copied().max().unwrap_or(0);
    let minimum = busiest as f64 / quota as f64;
    let drain = (drained - started).as_secs_f64();
    let stalled = world
        .images()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .len();
    report(
        "mass-delete",
        &format!("Mass delete: {count} images shared to ECS, quota {quota} calls/s per action"),
        &[
            ("SWAS calls".into(), calls_row(&calls)),
            ("throttled answers".into(), throttled.to_string()),
            ("drain time".into(), format!("{drain:.1} s")),
            (
                "minimum the quota allows (busiest action / quota)".into(),
                format!("{minimum:.1} s"),
            ),
            (
                "ratio (target <= 1.15)".into(),
                format!("{:.3}", drain / minimum.max(0.001)),
            ),
            ("resources left".into(), stalled.to_string()),
        ],
    );
}

/// Scenario 4: from `kubectl delete` to the emulator receiving DeleteCustomImages, with the
/// operator's default settings. Measured twice: one deletion at a time (the next one once the
/// previous resource is gone), which is a deletion's own latency; and back to back (the next
/// one as soon as the previous DeleteCustomImages arrived), where new deletions meet the
/// lookups of earlier ones under the operator's own limit of `--swas-qps` calls per second.
async fn delete_latency(count: usize) {
    let image_quota = format!("--image-quota={}", 2 * count + 10);
    let mut world = World::start("bench-latency", &["--create-delay-ms=0", &image_quota]).await;
    world.start_operator(&[]);
    world.create_many("alone", count, json!({})).await;
    world.create_many("stream", count, json!({})).await;
    world
        .wait_ready(2 * count, Duration::from_secs(120 + 2 * count as u64))
        .await;
    let alone = time_deletions(&world, "alone", count, true).await;
    let stream = time_deletions(&world, "stream", count, false).await;
    let row = |label: &str, latencies: &[f64]| {
        let percentile =
            |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
        let max = latencies.last().copied().unwrap_or(0.0);
        let figures = format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {max:.0} ms",
            percentile(0.50),
            percentile(0.99)
        );
        (label.to_string(), figures)
    };
    report(
        "delete-latency",
        &format!(
            "Delete latency: {count} deletions of unshared images, no quota (target p99 < 1 s)"
        ),
        &[row("one at a time", &alone), row("back to back", &stream)],
    );
}

/// Deletes `<prefix>-0..count` in order and returns each latency in ms, sorted. With `settle`,
/// each deletion starts once the previous resource is gone.
async fn time_deletions(world: &World, prefix: &str, count: usize, settle: bool) -> Vec<f64> {
    let mut latencies = Vec::new();
    for n in 0..count {
        let name = format!("{prefix}-{n}");
        let mark = world.audit_mark().await;
        let sent = jiff::Timestamp::now();
        world
            .images()
            .delete(&name, &Default::default())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let received = loop {
            let calls = world.audit(mark).await;
            if let Some(call) = calls.iter().find(|e| e["action"] == "DeleteCustomImages") {
                let time: jiff::Timestamp = call["time"].as_str().unwrap().parse().unwrap();
                break time;
            }
            assert!(
                Instant::now() < deadline,
                "no DeleteCustomImages for {name}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies.push(received.duration_since(sent).as_secs_f64() * 1000.0);
        while settle && world.images().get_opt(&name).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "{name} was never released");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    latencies
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_number("BENCH_N", 1000);
    let quota = env_number("BENCH_QUOTA", 20);
    let deletes = env_number("BENCH_DELETES", 500);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    if run("scale") {
        scale_and_steady_state(n).await;
    }
    if run("delete") {
        mass_delete(deletes, quota).await;
    }
    if run("latency") {
        delete_latency(env_number("BENCH_LATENCY", 100)).await;
    }
}
