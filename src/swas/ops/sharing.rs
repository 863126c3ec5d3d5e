//! Sharing an image to ECS and with other Alibaba Cloud accounts.

use std::fmt;

use serde::Deserialize;

use super::{Acknowledged, Operation, lenient_u64, validate_common, validate_len};
use crate::swas::params::Params;

/// Most accounts one image can be shared with.
pub const MAX_SHARE_ACCOUNTS: usize = 10;
/// Largest page of `ListCustomImageShareAccounts`.
pub const SHARE_PAGE: u32 = 50;

/// The `Operation` of `ModifyImageShareStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareOperation {
    /// Share the image to ECS.
    Share,
    /// Stop sharing it to ECS.
    UnShare,
}

impl fmt::Display for ShareOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Share => "Share",
            Self::UnShare => "UnShare",
        })
    }
}

/// `ModifyImageShareStatus`: shares an image to ECS or stops sharing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifyImageShareStatus {
    /// Region of the image.
    pub region_id: String,
    /// The image.
    pub image_id: String,
    /// Share or unshare.
    pub operation: ShareOperation,
    /// Idempotency token.
    pub client_token: Option<String>,
}

impl Operation for ModifyImageShareStatus {
    const ACTION: &'static str = "ModifyImageShareStatus";
    type Response = Acknowledged;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("ImageId", &self.image_id)
            .set("Operation", self.operation)
            .opt("ClientToken", self.client_token.as_ref());
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, self.client_token.as_deref())?;
        require_image(&self.image_id)
    }
}

fn require_image(image_id: &str) -> Result<(), String> {
    match image_id.is_empty() {
        true => Err("ImageId is empty".into()),
        false => Ok(()),
    }
}

macro_rules! share_account_call {
    ($name:ident, $action:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            /// Region of the image.
            pub region_id: String,
            /// The image.
            pub image_id: String,
            /// Account IDs (1 to 10).
            pub accounts: Vec<u64>,
            /// Idempotency token.
            pub client_token: Option<String>,
        }

        impl Operation for $name {
            const ACTION: &'static str = $action;
            type Response = Acknowledged;

            fn region_id(&self) -> &str {
                &self.region_id
            }

            fn params(&self) -> Params {
                let mut p = Params::new();
                p.set("RegionId", &self.region_id)
                    .set("ImageId", &self.image_id)
                    .list("Account", &self.accounts)
                    .opt("ClientToken", self.client_token.as_ref());
                p
            }

            fn validate(&self) -> Result<(), String> {
                validate_common(&self.region_id, self.client_token.as_deref())?;
                require_image(&self.image_id)?;
                validate_len("Account", &self.accounts, 1, MAX_SHARE_ACCOUNTS)
            }
        }
    };
}

share_account_call!(
    AddCustomImageShareAccount,
    "AddCustomImageShareAccount",
    "`AddCustomImageShareAccount`: shares an image with other accounts in its region."
);
share_account_call!(
    RemoveCustomImageShareAccount,
    "RemoveCustomImageShareAccount",
    "`RemoveCustomImageShareAccount`: stops sharing an image with the given accounts."
);

/// `ListCustomImageShareAccounts`: one page of the accounts an image is shared with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListCustomImageShareAccounts {
    /// Region of the image.
    pub region_id: String,
    /// The image.
    pub image_id: String,
    /// Page number, from 1.
    pub page_number: Option<u32>,
    /// Page size, at most 50.
    pub page_size: Option<u32>,
}

/// What `ListCustomImageShareAccounts` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListCustomImageShareAccountsResponse {
    /// The service's request ID.
    pub request_id: String,
    /// The page returned.
    #[serde(deserialize_with = "lenient_u64")]
    pub page_number: u64,
    /// The page size used.
    #[serde(deserialize_with = "lenient_u64")]
    pub page_size: u64,
    /// How many accounts in all.
    #[serde(deserialize_with = "lenient_u64")]
    pub total_count: u64,
    /// The accounts on this page.
    pub image_share_users: Vec<ImageShareUser>,
}

/// An account an image is shared with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageShareUser {
    /// The account ID.
    #[serde(deserialize_with = "lenient_u64")]
    pub user_id: u64,
    /// When it was shared (free-form, e.g. `2024-07-15 13:59:21.0`).
    pub shared_time: String,
}

impl Operation for ListCustomImageShareAccounts {
    const ACTION: &'static str = "ListCustomImageShareAccounts";
    type Response = ListCustomImageShareAccountsResponse;

    fn region_id(&self) -> &str {
        &self.region_id
    }

    fn params(&self) -> Params {
        let mut p = Params::new();
        p.set("RegionId", &self.region_id)
            .set("ImageId", &self.image_id)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        p
    }

    fn validate(&self) -> Result<(), String> {
        validate_common(&self.region_id, None)?;
        require_image(&self.image_id)?;
        match self.page_size {
            Some(size) if size == 0 || size > SHARE_PAGE => {
                Err(format!("PageSize must be 1 to {SHARE_PAGE}, got {size}"))
            }
            _ => Ok(()),
        }
    }
}
