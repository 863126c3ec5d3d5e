//! Walking lists that span several pages or several calls.
//!
//! `ListCustomImages` takes at most 100 IDs per call and answers at most 100 images per page;
//! `ListCustomImageShareAccounts` pages by 50. These helpers make the fewest calls that cover
//! a request: one call per 100 IDs, or one per page.

use super::client::SwasClient;
use super::error::SwasError;
use super::ops::{
    CustomImage, ImageShareUser, LIST_BATCH, ListCustomImageShareAccounts, ListCustomImages,
    SHARE_PAGE,
};

impl SwasClient {
    /// The images among `image_ids` that exist in `region_id`, one call per 100 IDs.
    /// IDs that do not exist are simply absent from the answer.
    pub async fn images_by_ids(
        &self,
        region_id: &str,
        image_ids: &[String],
    ) -> Result<Vec<CustomImage>, SwasError> {
        let mut images = Vec::with_capacity(image_ids.len());
        for batch in image_ids.chunks(LIST_BATCH) {
            let answer = self
                .call(&ListCustomImages {
                    region_id: region_id.to_string(),
                    image_ids: batch.to_vec(),
                    page_size: Some(LIST_BATCH as u32),
                    ..Default::default()
                })
                .await?;
            images.extend(answer.custom_images);
        }
        Ok(images)
    }

    /// Every image matching `filter`, following pages of 100 until all are read.
    pub async fn all_images(
        &self,
        filter: ListCustomImages,
    ) -> Result<Vec<CustomImage>, SwasError> {
        let mut images = Vec::new();
        let mut page = 1;
        loop {
            let answer = self
                .call(&ListCustomImages {
                    page_number: Some(page),
                    page_size: Some(LIST_BATCH as u32),
                    ..filter.clone()
                })
                .await?;
            let received = answer.custom_images.len();
            images.extend(answer.custom_images);
            if received < LIST_BATCH || images.len() as u64 >= answer.total_count {
                return Ok(images);
            }
            page += 1;
        }
    }

    /// Every account an image is shared with, following pages of 50.
    pub async fn all_share_accounts(
        &self,
        region_id: &str,
        image_id: &str,
    ) -> Result<Vec<ImageShareUser>, SwasError> {
        let mut users = Vec::new();
        let mut page = 1;
        loop {
            let answer = self
                .call(&ListCustomImageShareAccounts {
                    region_id: region_id.to_string(),
                    image_id: image_id.to_string(),
                    page_number: Some(page),
                    page_size: Some(SHARE_PAGE),
                })
                .await?;
            let received = answer.image_share_users.len();
            users.extend(answer.image_share_users);
            if received < SHARE_PAGE as usize || users.len() as u64 >= answer.total_count {
                return Ok(users);
            }
            page += 1;
        }
    }
}
