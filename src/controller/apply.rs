//! Bringing an image in line with its `CustomImage`: create or adopt it, then keep its sharing
//! and tags as declared, and report what was seen.
//!
//! Observation comes from the region snapshot shared by all resources, so a reconcile of an
//! unchanged resource makes no SWAS call and, its status being equal, no status write.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::cloud::{Account, ImageView, NewImage};
use super::context::Context;
use super::error::{Disposition, Error, backoff};
use super::status::{self, Phase, image_state};
use super::{credentials, finalizer};
use crate::crd::CustomImageStatus;
use crate::crd::{
    CustomImage, CustomImageSpec, OWNER_TAG, PAUSED_ANNOTATION, RECONCILE_ANNOTATION,
};
use crate::swas::Tag;
use crate::swas::ops::ImageStatus;

/// What one pass concluded.
struct Outcome {
    phase: Phase,
    image_id: Option<String>,
    image: Option<ImageView>,
    shared_accounts: Option<Vec<String>>,
}

impl Outcome {
    fn new(phase: Phase) -> Self {
        Self {
            phase,
            image_id: None,
            image: None,
            shared_accounts: None,
        }
    }
}

/// Reconciles a resource that is not being deleted.
pub async fn apply(object: &CustomImage, ctx: &Context) -> Result<Action, Error> {
    let api: Api<CustomImage> =
        Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    finalizer::ensure(&api, object).await?;
    if object.status.is_none() {
        // Say at once that work has begun, so kstatus and Argo CD do not call a brand-new
        // resource current before the first look at the cloud.
        let status = CustomImageStatus {
            conditions: status::conditions(&[], object.metadata.generation, &Phase::Starting),
            ..Default::default()
        };
        status::write(&api, object, status).await?;
    }
    let uid = object.uid().unwrap_or_default();
    let requested = object.annotations().get(RECONCILE_ANNOTATION).cloned();
    let handled = object
        .status
        .as_ref()
        .and_then(|s| s.last_handled_reconcile_at.clone());
    let forced = requested.is_some() && requested != handled;

    let (outcome, action) = if object
        .annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v == "true")
    {
        (Outcome::new(Phase::Paused), Action::await_change())
    } else {
        match converge(object, ctx, &uid, forced).await {
            Ok(outcome) => {
                ctx.succeeded(&uid);
                let action = match outcome.phase {
                    Phase::Ready | Phase::Stalled { .. } => {
                        ctx.requeue(object, ctx.settings.resync)
                    }
                    _ => {
                        // Waiting on the cloud: the next look must be newer than this one.
                        ctx.changed(&uid);
                        ctx.requeue(object, ctx.settings.poll)
                    }
                };
                (outcome, action)
            }
            Err(error) => {
                let (phase, action) = failure(object, ctx, &error);
                (Outcome::new(phase), action)
            }
        }
    };
    // Whatever stalled it (an error, a missing image, another owner), a person must act.
    if let Phase::Stalled { reason, message } = &outcome.phase {
        ctx.event(object, true, reason, message.clone()).await;
    }

    let mut status = object.status.clone().unwrap_or_default();
    if let Some(id) = outcome.image_id {
        status.image_id = Some(id);
    }
    if let Some(image) = &outcome.image {
        status.state = Some(image_state(image));
        status.in_share = image.in_share;
    }
    if let Some(accounts) = outcome.shared_accounts {
        status.shared_accounts = accounts;
    }
    status.observed_generation = object.metadata.generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    status.conditions = status::conditions(
        &status.conditions,
        object.metadata.generation,
        &outcome.phase,
    );
    if let Some(metrics) = &ctx.metrics {
        metrics.resource_reason(&uid, Some(outcome.phase.reason()));
    }
    status::write(&api, object, status).await?;
    Ok(action)
}

/// The condition and next step for an error. Messages stay the same from one attempt to the
/// next (no request IDs, no countdowns), so a retry that fails alike writes nothing.
pub fn failure(object: &CustomImage, ctx: &Context, error: &Error) -> (Phase, Action) {
    let uid = object.uid().unwrap_or_default();
    tracing::debug!(reason = error.reason(), error = %error, "reconcile step failed");
    match error.disposition() {
        Disposition::Terminal => {
            let phase = Phase::stalled(error.reason(), error.advice());
            (phase, ctx.requeue(object, ctx.settings.resync))
        }
        Disposition::RetryAfter(wait) => {
            // Whether the throttled call acted is unknown: look afresh next time.
            ctx.changed(&uid);
            let message = "SWAS is throttling calls; retrying after the delay it asked for";
            (
                Phase::progressing("Throttled", message),
                ctx.requeue(object, wait),
            )
        }
        Disposition::Retry => {
            ctx.changed(&uid);
            let wait = backoff(ctx.failed(&uid));
            let message = format!("{}; retrying with backoff", error.advice());
            (
                Phase::progressing(error.reason(), message),
                ctx.requeue(object, wait),
            )
        }
    }
}

/// Parses the declared share accounts.
fn declared_accounts(spec: &CustomImageSpec) -> Result<BTreeSet<u64>, Error> {
    spec.shared_accounts
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|_| Error::InvalidSpec(format!("{a:?} is not an account ID")))
        })
        .collect()
}

/// The tags the image must carry: the declared ones and the ownership tag.
fn declared_tags(spec: &CustomImageSpec, uid: &str) -> BTreeMap<String, String> {
    let mut tags = spec.tags.clone();
    tags.insert(OWNER_TAG.to_string(), uid.to_string());
    tags
}

async fn converge(
    object: &CustomImage,
    ctx: &Context,
    uid: &str,
    forced: bool,
) -> Result<Outcome, Error> {
    let spec = &object.spec;
    let accounts = declared_accounts(spec)?;
    let account = credentials::resolve(&ctx.client, object).await?;
    let region = spec.region_id.as_str();
    let not_before = if forced {
        Instant::now()
    } else {
        ctx.observe_after(uid)
    };
    let snapshot = ctx.cloud.snapshot(&account, region, not_before).await?;
    let recorded = object.status.as_ref().and_then(|s| s.image_id.clone());

    let image = match &spec.image_id {
        Some(id) => match snapshot.get(id) {
            None => {
                let message = format!("Image {id} does not exist in {region}");
                return Ok(Outcome::new(Phase::stalled("ImageNotFound", message)));
            }
            Some(image) => image.clone(),
        },
        None => {
            let found = recorded
                .as_deref()
                .and_then(|id| snapshot.get(id))
                .or_else(|| snapshot.owned_by(uid));
            match (found, &recorded) {
                (Some(image), _) => image.clone(),
                (None, Some(id)) => return Ok(missing(ctx, uid, id)),
                (None, None) => return create(object, ctx, &account, uid).await,
            }
        }
    };
    // Whether adopted or recorded in the status (a restored backup, say), an image tagged
    // with another resource's UID is that resource's: never changed, never deleted here.
    if let Some(owner) = image.owner().filter(|owner| *owner != uid) {
        let phase = Phase::stalled("OwnedByAnother", owned_by_another(spec, &image.id, owner));
        return Ok(Outcome::new(phase));
    }

    let mut outcome = Outcome::new(Phase::Ready);
    outcome.image_id = Some(image.id.clone());
    outcome.image = Some(image.clone());
    match image.status {
        ImageStatus::Available => {}
        ImageStatus::CreateFailed => {
            let message = format!("SWAS reports that creating image {} failed", image.id);
            outcome.phase = Phase::stalled("ImageFailed", message);
            return Ok(outcome);
        }
        _ => {
            let message = format!("Image {} is being created", image.id);
            outcome.phase = Phase::progressing("Creating", message);
            return Ok(outcome);
        }
    }

    let changes = sync(object, ctx, &account, &image, &accounts, forced).await?;
    outcome.shared_accounts = Some(accounts.iter().map(u64::to_string).collect());
    if !changes.is_empty() {
        ctx.changed(uid);
        let drift = object.status.as_ref().is_some_and(|s| {
            s.observed_generation == object.metadata.generation
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        // Dressing a freshly created image (its tags and sharing) is part of `Created`.
        let fresh = spec.image_id.is_none()
            && !object.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
        let (reason, verb) = match drift {
            true => (
                "DriftCorrected",
                "Corrected changes made outside the operator",
            ),
            false => ("Updated", "Updated"),
        };
        let note = format!("{verb}: {}", changes.join(", "));
        if !fresh {
            ctx.event(object, false, reason, note.clone()).await;
        }
        outcome.phase = Phase::progressing("Converging", note);
    }
    Ok(outcome)
}

/// What to tell a person when the image belongs to another resource.
fn owned_by_another(spec: &CustomImageSpec, id: &str, owner: &str) -> String {
    let (claim, way_out) = match spec.image_id {
        Some(_) => (
            "",
            format!(
                "If that resource is gone (deleted with deletionPolicy Retain), remove the \
                 image's tag {OWNER_TAG} to adopt it here"
            ),
        ),
        None => (
            " (its ID is in this resource's status, but it is not this resource's image)",
            "Delete this resource (the image is left in place) and create it again to build \
             an image of its own"
                .to_string(),
        ),
    };
    format!(
        "Image {id} is already managed by another CustomImage (UID {owner}){claim}; it will \
         never be changed or deleted by this one. {way_out}"
    )
}

/// A recorded image that listings do not show: eventual consistency for a while, then stalled.
fn missing(ctx: &Context, uid: &str, id: &str) -> Outcome {
    let mut outcome = match ctx.missing_for(uid) > ctx.settings.missing_grace {
        true => Outcome::new(Phase::stalled(
            "ImageNotFound",
            format!("Image {id} no longer exists; it was deleted outside the operator"),
        )),
        false => Outcome::new(Phase::progressing(
            "WaitingForImage",
            format!("Waiting for image {id} to appear in listings"),
        )),
    };
    outcome.image_id = Some(id.to_string());
    outcome
}

async fn create(
    object: &CustomImage,
    ctx: &Context,
    account: &Account,
    uid: &str,
) -> Result<Outcome, Error> {
    let spec = &object.spec;
    let (Some(source), Some(name)) = (&spec.source, &spec.image_name) else {
        return Err(Error::InvalidSpec(
            "source and imageName are required to create an image".into(),
        ));
    };
    // Only immutable fields go into the create, so a retry with the same token always has the
    // same parameters; the declared tags follow through the normal tag sync.
    let tags = vec![Tag::new(OWNER_TAG, uid)];
    let image = NewImage {
        name: name.clone(),
        description: spec.description.clone(),
        instance_id: source.instance_id.clone(),
        system_snapshot_id: source.system_snapshot_id.clone(),
        data_snapshot_id: source.data_snapshot_id.clone(),
        tags,
        client_token: format!("create-{uid}"),
    };
    let id = ctx.cloud.create(account, &spec.region_id, image).await?;
    ctx.changed(uid);
    let region = spec.region_id.as_str();
    tracing::info!(image_id = %id, region, action = "CreateCustomImage", "created image");
    ctx.event(
        object,
        false,
        "Created",
        format!("Created image {id} in {}", spec.region_id),
    )
    .await;
    let mut outcome = Outcome::new(Phase::progressing(
        "Creating",
        format!("Image {id} is being created"),
    ));
    outcome.image_id = Some(id);
    Ok(outcome)
}

/// Makes sharing and tags match the spec; returns what it changed.
async fn sync(
    object: &CustomImage,
    ctx: &Context,
    account: &Account,
    image: &ImageView,
    accounts: &BTreeSet<u64>,
    forced: bool,
) -> Result<Vec<String>, Error> {
    let spec = &object.spec;
    let region = spec.region_id.as_str();
    let uid = object.uid().unwrap_or_default();
    let mut changes = Vec::new();

    let tags = declared_tags(spec, &uid);
    let set: Vec<Tag> = tags
        .iter()
        .filter(|(k, v)| image.tags.get(*k) != Some(*v))
        .map(|(k, v)| Tag::new(k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = image
        .tags
        .keys()
        .filter(|k| !tags.contains_key(*k))
        .cloned()
        .collect();
    if !set.is_empty() || !remove.is_empty() {
        let adopting = image.owner().is_none();
        ctx.cloud
            .change_tags(account, region, &image.id, set, remove)
            .await?;
        tracing::info!(image_id = %image.id, region, action = "TagResources", "tags changed");
        changes.push(if adopting {
            "adopted the image".to_string()
        } else {
            "tags".to_string()
        });
    }

    if image.in_share != spec.share_to_ecs {
        ctx.cloud
            .set_ecs_sharing(account, region, &image.id, spec.share_to_ecs)
            .await?;
        let action = "ModifyImageShareStatus";
        tracing::info!(image_id = %image.id, region, action, "ECS sharing changed");
        changes.push(format!("shareToEcs={}", spec.share_to_ecs));
    }

    let recorded: Vec<String> = object
        .status
        .as_ref()
        .map(|s| s.shared_accounts.clone())
        .unwrap_or_default();
    let declared: Vec<String> = accounts.iter().map(u64::to_string).collect();
    let generation_changed =
        object.status.as_ref().and_then(|s| s.observed_generation) != object.metadata.generation;
    // Region listings show whether an image has share accounts, not which: a swap made
    // outside the operator is caught by the periodic audit (or on request).
    let audit = image.in_share_user && !accounts.is_empty() && ctx.share_audit_due(&uid);
    let check = forced
        || generation_changed
        || audit
        || image.in_share_user == accounts.is_empty()
        || recorded != declared;
    if check {
        tracing::debug!(image_id = %image.id, region, audit, "checking share accounts");
        let actual: BTreeSet<u64> = match image.in_share_user {
            true => ctx
                .cloud
                .share_accounts(account, region, &image.id)
                .await?
                .into_iter()
                .collect(),
            false => BTreeSet::new(),
        };
        let add: Vec<u64> = accounts.difference(&actual).copied().collect();
        let remove: Vec<u64> = actual.difference(accounts).copied().collect();
        if !add.is_empty() || !remove.is_empty() {
            ctx.cloud
                .change_accounts(account, region, &image.id, add, remove)
                .await?;
            let action = "ShareAccounts";
            tracing::info!(image_id = %image.id, region, action, "share accounts changed");
            changes.push("shared accounts".to_string());
        }
        ctx.share_audited(&uid);
    }
    Ok(changes)
}
