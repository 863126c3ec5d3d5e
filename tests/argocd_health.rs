//! The Argo CD health check in `deploy/argocd/swas.image-operator.dev/CustomImage/` runs in a
//! real Lua 5.1 against every case of its `health_test.yaml`, as Argo CD's own
//! `TestLuaHealthScript` would: once with all standard libraries (Argo CD's test runner and
//! built-in scripts) and once with only `table` and `package` besides the base library (a
//! script from argocd-cm without useOpenLibs), so it must not need `string` or `math`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaOptions, LuaSerdeExt, StdLib, Table, Value};
use serde::Deserialize;
use swas_image_operator::crd::CustomImage;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd/swas.image-operator.dev/CustomImage")
}

fn script() -> String {
    std::fs::read_to_string(dir().join("health.lua")).unwrap()
}

#[derive(Debug, Deserialize)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: Health,
    input_path: String,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
struct Health {
    status: String,
    #[serde(default)]
    message: String,
}

fn cases() -> Vec<HealthTest> {
    let text = std::fs::read_to_string(dir().join("health_test.yaml")).unwrap();
    let tests: HealthTests = serde_norway::from_str(&text).unwrap();
    assert!(!tests.tests.is_empty());
    tests.tests
}

fn object(input_path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join(input_path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{input_path}: {e}"))
}

/// Runs the script on `obj` as Argo CD does: the object in the global `obj`, nulls as nil,
/// arrays as plain 1-based tables, and the chunk must return a table.
fn run(lua: &Lua, script: &str, obj: &serde_json::Value) -> mlua::Result<Health> {
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
        .set_array_metatable(false);
    lua.globals().set("obj", lua.to_value_with(obj, options)?)?;
    let result: Table = lua.load(script).set_name("health.lua").eval()?;
    let message = match result.get::<Value>("message")? {
        Value::Nil => String::new(),
        other => lua.from_value(other)?,
    };
    Ok(Health {
        status: result.get("status")?,
        message,
    })
}

fn check_all(lua: &Lua, libraries: &str) {
    let script = script();
    let mut failures = Vec::new();
    for case in cases() {
        let obj = object(&case.input_path);
        match run(lua, &script, &obj) {
            Ok(health) if health == case.health_status => {}
            Ok(health) => failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.input_path, case.health_status, health
            )),
            Err(error) => failures.push(format!("{}: {error}", case.input_path)),
        }
    }
    assert!(
        failures.is_empty(),
        "with {libraries}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_case_passes_with_all_standard_libraries() {
    let lua = Lua::new();
    assert!(lua.globals().get::<Table>("string").is_ok());
    check_all(&lua, "all standard libraries");
}

#[test]
fn every_case_passes_without_string_and_math_as_in_argocd_cm() {
    let lua = Lua::new_with(StdLib::TABLE | StdLib::PACKAGE, LuaOptions::default()).unwrap();
    for missing in ["string", "math", "os", "io"] {
        let value: Value = lua.globals().get(missing).unwrap();
        assert!(value.is_nil(), "{missing} must not be loaded");
    }
    check_all(&lua, "only base, table and package");
}

#[test]
fn the_script_names_no_string_or_math_function() {
    let script = script();
    for library in ["string.", "math.", "string[", "math["] {
        assert!(!script.contains(library), "health.lua uses {library}");
    }
    // Methods on strings (`s:len()`) go through the string library's metatable too.
    let methods = [
        "byte", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep", "reverse",
        "sub", "upper",
    ];
    for method in methods {
        let call = format!(":{method}(");
        assert!(!script.contains(&call), "health.lua calls {call}");
    }
}

#[test]
fn testdata_are_real_customimages_and_every_file_is_tested() {
    let tested: BTreeSet<String> = cases().into_iter().map(|c| c.input_path).collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(dir().join("testdata")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        present.insert(format!("testdata/{name}"));
    }
    assert_eq!(
        tested, present,
        "health_test.yaml and testdata/ list the same files"
    );

    let required = [
        "healthy",
        "creating",
        "throttled",
        "stalled-auth",
        "stalled-owned-by-another",
        "paused",
        "stale-generation",
        "no-status",
        "deleting",
    ];
    for case in required {
        let path = format!("testdata/{case}.yaml");
        assert!(tested.contains(&path), "{path} is tested");
    }

    for path in &tested {
        let value = object(path);
        let image: CustomImage = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{path} is not a CustomImage: {e}"));
        assert_eq!(
            value["apiVersion"], "swas.image-operator.dev/v1alpha1",
            "{path}"
        );
        assert_eq!(value["kind"], "CustomImage", "{path}");
        assert!(
            image.metadata.generation.is_some(),
            "{path} has metadata.generation"
        );
        assert!(image.metadata.uid.is_some(), "{path} is a full object");
        for condition in image.status.iter().flat_map(|s| &s.conditions) {
            let kinds = ["Ready", "Reconciling", "Stalled"];
            assert!(kinds.contains(&condition.type_.as_str()), "{path}");
            let statuses = ["True", "False", "Unknown"];
            assert!(statuses.contains(&condition.status.as_str()), "{path}");
        }
    }
}

#[test]
fn the_argocd_cm_patch_carries_the_tested_script() {
    let path = dir().join("../../argocd-cm-patch.yaml");
    let patch: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(patch["kind"], "ConfigMap");
    assert_eq!(patch["metadata"]["name"], "argocd-cm");
    let key = "resource.customizations.health.swas.image-operator.dev_CustomImage";
    let embedded = patch["data"][key].as_str().expect("the health key is set");
    assert!(
        embedded == script(),
        "argocd-cm-patch.yaml differs from health.lua; copy health.lua into it again"
    );
}
