//! The SWAS (`swas-open`, API 2020-06-01) client the operator talks to the cloud through.
//!
//! [`sign`] holds both signature schemes, [`credentials`] the credential sources and chain,
//! [`ops`] the typed operations, [`error`] the one error type and its classification, and
//! [`client`] the HTTP client that ties them together. [`paging`] walks multi-page lists.

pub mod client;
pub mod credentials;
pub mod error;
pub mod ops;
pub mod paging;
pub mod params;
pub mod sign;

pub use client::{ClientConfig, Endpoint, SwasClient};
pub use error::{ErrorClass, SwasError};
pub use params::Tag;
pub use sign::SignatureVersion;
