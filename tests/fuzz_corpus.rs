//! Replays every checked-in seed corpus under `fuzz/corpus/<target>/` through the same
//! functions the cargo-fuzz targets call (`swas_image_operator::fuzzing`), so the corpora, and
//! any crash input added to them, run in `make test` on the stable toolchain without
//! cargo-fuzz or nightly.

use std::fs;
use std::path::{Path, PathBuf};

use swas_image_operator::fuzzing;

/// The files of one target's corpus, sorted; the corpus must not be empty.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seeds", dir.display());
    files
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn client_response_corpus() {
    for path in corpus("client_response") {
        let data = fs::read(&path).expect("a seed");
        fuzzing::client_response(&data);
    }
}

#[test]
fn signing_corpus() {
    for path in corpus("signing") {
        let data = fs::read(&path).expect("a seed");
        fuzzing::signing(&data);
    }
}

/// Seeds named `ok-*` are realistic scripts: every request in them must succeed, so they keep
/// leading the fuzzer past signature checks and into the actions.
#[test]
fn emulator_request_corpus() {
    for path in corpus("emulator_request") {
        let data = fs::read(&path).expect("a seed");
        let statuses = fuzzing::emulator_request(&data);
        if name(&path).starts_with("ok-") {
            assert!(!statuses.is_empty(), "{}: nothing sent", path.display());
            assert!(
                statuses.iter().all(|s| (200..300).contains(s)),
                "{}: statuses {statuses:?}",
                path.display()
            );
        }
    }
}
