//! swas-image-operator: Alibaba Cloud Simple Application Server custom images as Kubernetes
//! resources.
//!
//! [`swas`] is the cloud client (signing, credentials, typed operations, errors).
pub mod swas;
