//! The shortest whole story on the real control plane and the emulator: a CustomImage is
//! created, becomes Ready, and its deletion unshares nothing, deletes the image with the UID as
//! ClientToken and releases the finalizer.

mod common;

use common::operator::{Env, uid};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_delete() {
    let env = Env::start("smoke").await;
    env.create(
        "web",
        json!({
            "regionId": "cn-hangzhou",
            "source": {
                "instanceId": "cn-hangzhou-server-1",
                "systemSnapshotId": "s-cn-hangzhou-sys-1",
            },
            "imageName": "web",
        }),
    )
    .await;
    let ready = env.wait_ready("web").await;
    let image_id = ready.status.as_ref().unwrap().image_id.clone().unwrap();
    assert_eq!(env.calls("CreateCustomImage").await.len(), 1);

    env.delete("web").await;
    env.wait_gone("web", 60).await;
    let deletes = env.calls("DeleteCustomImages").await;
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(deletes[0]["clientToken"], uid(&ready));
    assert_eq!(
        deletes[0]["params"]["ImageIds"],
        format!("[\"{image_id}\"]")
    );
    let image = &env.world().await["images"][&image_id];
    assert!(
        image.is_null() || image["deleted_at"].is_string(),
        "the image is deleted: {image}"
    );
}
