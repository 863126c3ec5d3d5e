//! swas-image-operator: Alibaba Cloud Simple Application Server custom images as Kubernetes
//! resources.
//!
//! [`swas`] is the cloud client (signing, credentials, typed operations, errors);
//! [`emulator`] is a local SWAS the tests, the demo and curious users run against;
//! [`crd`] is the `CustomImage` resource and [`controller`] reconciles it; [`operator`] is the
//! process around it (probes, metrics, leader election); [`config`] holds the settings the
//! command line shares.

pub mod config;
pub mod controller;
pub mod crd;
pub mod emulator;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod operator;
pub mod swas;
