//! Deleting a resource: the finalizer contract.
//!
//! # Flow
//!
//! When a `CustomImage` carrying `swas.image-operator.dev/cleanup` is deleted, the apiserver
//! only sets `deletionTimestamp`; the object stays until the finalizer is removed. Then:
//!
//! 1. `deletionPolicy: Retain`: the finalizer is released and the image is left untouched.
//! 2. Paused (`swas.image-operator.dev/paused: "true"`): nothing happens until unpaused.
//! 3. The credentials are resolved; failing that, the resource is `Stalled` with a Warning
//!    event saying what to fix (or that `Retain` releases it) and the finalizer stays.
//! 4. The image is looked up now (`ListCustomImages` with its ID), never from a cached
//!    listing. Which image: `status.imageId`; else, for an adopted image, `spec.imageId`, and
//!    for a created one, the image tagged with this object's UID. Gone: go to 8.
//! 5. Not tagged as owned by this object's UID: it is never deleted; the finalizer is released
//!    with a Warning event.
//! 6. Shared to ECS: `ModifyImageShareStatus UnShare`. Shared with accounts: every account is
//!    removed. (Reason `Unsharing`.)
//! 7. `DeleteCustomImages` with `ImageIds=["<id>"]` and `ClientToken` = the object's UID,
//!    exactly. `InvalidImageId.NotFound` means done; `CustomImageInShare` (a share made in
//!    between) goes back to 4. Then the image is polled until listings no longer show it
//!    (reason `Deleting`): once the status records that reason, later passes only look.
//! 8. The conditions are written, then the finalizer is released.
//!
//! # Guarantees
//!
//! - Never deletes twice: every attempt for one object sends the same `ClientToken`, so a
//!   retry after a lost answer or a crash is answered from the first call and acts no more.
//! - Never deletes the wrong image: only the image recorded for this object, and only when it
//!   carries this object's UID as its ownership tag.
//! - No orphan: the finalizer is released only after a fresh lookup shows the image gone, and
//!   a created image is found by its tag even if its ID never reached the status.
//!
//! # Assumptions
//!
//! - Every step is idempotent and may be cut short at any await (a crash, a lost answer); the
//!   next reconcile starts again at step 1 and arrives at the same place.
//! - SWAS honours `ClientToken` for a retried `DeleteCustomImages` with the same parameters.
//!
//! # Caveats
//!
//! - While the operator is down, or the resource is paused, deletion waits.
//! - An image whose ownership tag was removed outside the operator is treated as not owned and
//!   left in place.
//! - Credentials that stop working block deletion (by design: a finalizer must not lie);
//!   `deletionPolicy: Retain` is the way out.

use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::cloud::{Account, ImageView};
use super::context::Context;
use super::error::Error;
use super::status::{self, Phase};
use super::{credentials, finalizer};
use crate::crd::{CustomImage, DeletionPolicy, ImageState, PAUSED_ANNOTATION};

/// Runs one pass of the flow above.
pub async fn cleanup(object: &CustomImage, ctx: &Context) -> Result<Action, Error> {
    let api: Api<CustomImage> =
        Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    if object.spec.deletion_policy == DeletionPolicy::Retain {
        let note = match object.status.as_ref().and_then(|s| s.image_id.as_deref()) {
            Some(id) => format!("Image {id} retained (deletionPolicy Retain)"),
            None => "Nothing to retain: no image was recorded".to_string(),
        };
        ctx.event(object, false, "Retained", note).await;
        return release(&api, object, ctx).await;
    }
    if object
        .annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v == "true")
    {
        write(&api, object, None, Phase::Paused).await?;
        return Ok(Action::await_change());
    }

    match delete_image(object, ctx).await {
        Ok(Step::Gone) => release(&api, object, ctx).await,
        Ok(Step::NotOwned(id)) => {
            let note = format!("Image {id} is not tagged as owned by this resource; left in place");
            ctx.event(object, true, "NotOwned", note).await;
            release(&api, object, ctx).await
        }
        Ok(Step::Waiting(phase)) => {
            write(&api, object, Some(ImageState::Deleting), phase).await?;
            Ok(ctx.requeue(object, ctx.settings.poll))
        }
        Err(error) => {
            let (phase, action) = super::apply::failure(object, ctx, &error);
            let retain = " To give up on the image, set spec.deletionPolicy to Retain.";
            if let Phase::Stalled { reason, message } = &phase {
                ctx.event(object, true, reason, format!("{message}.{retain}"))
                    .await;
            }
            write(&api, object, Some(ImageState::Deleting), phase).await?;
            Ok(action)
        }
    }
}

enum Step {
    Gone,
    NotOwned(String),
    Waiting(Phase),
}

async fn delete_image(object: &CustomImage, ctx: &Context) -> Result<Step, Error> {
    let uid = object.uid().unwrap_or_default();
    let region = &object.spec.region_id;
    let account = credentials::resolve(&ctx.client, object).await?;
    let Some(image) = find(object, ctx, &account, &uid).await? else {
        return Ok(Step::Gone);
    };
    if image.owner() != Some(uid.as_str()) {
        return Ok(Step::NotOwned(image.id));
    }
    if delete_accepted(object) {
        return Ok(Step::Waiting(deleting(&image.id)));
    }

    if image.in_share || image.in_share_user {
        if image.in_share {
            ctx.cloud
                .set_ecs_sharing(&account, region, &image.id, false)
                .await?;
        }
        if image.in_share_user {
            let accounts = ctx
                .cloud
                .share_accounts(&account, region, &image.id)
                .await?;
            ctx.cloud
                .change_accounts(&account, region, &image.id, vec![], accounts)
                .await?;
        }
        tracing::info!(image_id = %image.id, region, action = "Unshare", "unshared image");
        ctx.event(
            object,
            false,
            "Unshared",
            format!("Unshared image {} before deleting it", image.id),
        )
        .await;
    }

    match ctx.cloud.delete(&account, region, &image.id, &uid).await {
        Ok(()) => {
            let action = "DeleteCustomImages";
            tracing::info!(image_id = %image.id, region, action, "deleted image");
            ctx.event(
                object,
                false,
                "Deleting",
                format!("Deleted image {}; waiting until it is gone", image.id),
            )
            .await;
            Ok(Step::Waiting(deleting(&image.id)))
        }
        Err(e) if e.class() == crate::swas::ErrorClass::NotFound => Ok(Step::Gone),
        Err(e) if e.class() == crate::swas::ErrorClass::InShare => {
            let message = format!(
                "Image {} was shared again while being deleted; unsharing",
                image.id
            );
            Ok(Step::Waiting(Phase::progressing("DeleteBlocked", message)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Waiting for a deleted image to leave the listings.
fn deleting(id: &str) -> Phase {
    let message = format!("Image {id} deleted; waiting until SWAS no longer lists it");
    Phase::progressing("Deleting", message)
}

/// Whether an earlier pass had `DeleteCustomImages` accepted: the status says `Deleting`.
fn delete_accepted(object: &CustomImage) -> bool {
    object.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Reconciling" && c.status == "True" && c.reason == "Deleting")
    })
}

/// The image to delete, looked up now.
async fn find(
    object: &CustomImage,
    ctx: &Context,
    account: &Account,
    uid: &str,
) -> Result<Option<ImageView>, Error> {
    let region = &object.spec.region_id;
    let recorded = object.status.as_ref().and_then(|s| s.image_id.clone());
    let id = match (recorded, &object.spec.image_id) {
        (Some(id), _) => id,
        // Adopted, but the ID may never have reached the status: the ownership tag decides.
        (None, Some(id)) => id.clone(),
        // Created, but the ID may never have reached the status: find it by its tag.
        (None, None) => {
            let snapshot = ctx
                .cloud
                .snapshot(account, region, std::time::Instant::now())
                .await?;
            match snapshot.owned_by(uid) {
                Some(image) => image.id.clone(),
                None => return Ok(None),
            }
        }
    };
    Ok(ctx.cloud.lookup(account, region, &id).await?)
}

async fn write(
    api: &Api<CustomImage>,
    object: &CustomImage,
    state: Option<ImageState>,
    phase: Phase,
) -> Result<(), kube::Error> {
    let mut status = object.status.clone().unwrap_or_default();
    if state.is_some() {
        status.state = state;
    }
    status.observed_generation = object.metadata.generation;
    status.conditions = status::conditions(&status.conditions, object.metadata.generation, &phase);
    status::write(api, object, status).await.map(drop)
}

async fn release(
    api: &Api<CustomImage>,
    object: &CustomImage,
    ctx: &Context,
) -> Result<Action, Error> {
    let phase = Phase::progressing("Deleted", "The image is gone; releasing the finalizer");
    write(api, object, None, phase).await?;
    finalizer::release(api, object).await?;
    ctx.forget(&object.uid().unwrap_or_default());
    Ok(Action::await_change())
}
