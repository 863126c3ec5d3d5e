//! swas-image-operator: Alibaba Cloud Simple Application Server custom images as Kubernetes
//! resources.
//!
//! [`swas`] is the cloud client (signing, credentials, typed operations, errors);
//! [`emulator`] is a local SWAS the tests, the demo and curious users run against;
//! [`config`] holds the settings the command line shares.

pub mod config;
pub mod emulator;
pub mod swas;
