//! Adding and removing the `swas.image-operator.dev/cleanup` finalizer with JSON patches that
//! test the list first, so a concurrent change by someone else makes the patch fail (and the
//! reconcile retry) instead of dropping their finalizer.

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::crd::{CustomImage, FINALIZER};

/// Whether the object carries our finalizer.
pub fn present(object: &CustomImage) -> bool {
    object.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer if it is missing.
pub async fn ensure(api: &Api<CustomImage>, object: &CustomImage) -> Result<(), kube::Error> {
    if present(object) {
        return Ok(());
    }
    let patch = match object.metadata.finalizers.as_ref() {
        None => json!([
            { "op": "test", "path": "/metadata/finalizers", "value": null },
            { "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] },
        ]),
        Some(list) => json!([
            { "op": "test", "path": "/metadata/finalizers", "value": list },
            { "op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER },
        ]),
    };
    patch_json(api, object, patch).await
}

/// Removes the finalizer, the last step of cleanup.
pub async fn release(api: &Api<CustomImage>, object: &CustomImage) -> Result<(), kube::Error> {
    let Some(index) = object.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let patch = json!([
        { "op": "test", "path": path, "value": FINALIZER },
        { "op": "remove", "path": path },
    ]);
    patch_json(api, object, patch).await
}

async fn patch_json(
    api: &Api<CustomImage>,
    object: &CustomImage,
    patch: serde_json::Value,
) -> Result<(), kube::Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}
