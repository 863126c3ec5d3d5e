//! The CRD checked in under `crds/` must be what the Rust types generate.

#[test]
fn checked_in_crd_matches_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/customimage.yaml");
    let checked_in = std::fs::read_to_string(path).expect("crds/customimage.yaml exists");
    assert!(
        checked_in == swas_image_operator::crd::crd_yaml(),
        "crds/customimage.yaml is out of date: run `cargo run -- crd > crds/customimage.yaml`"
    );
}
