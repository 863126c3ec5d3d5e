//! swas-image-operator: Alibaba Cloud Simple Application Server custom images as Kubernetes
//! resources.
//!
//! [`swas`] is the cloud client (signing, credentials, typed operations, errors);
//! [`config`] holds the settings the command line shares.

pub mod config;
pub mod swas;
