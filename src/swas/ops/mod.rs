//! Typed SWAS operations: one request struct per API action, with its answer type.
//!
//! A request knows its action name, turns itself into [`Params`] exactly as the official SDK
//! would, and checks the API's documented limits before anything is sent
//! ([`Operation::validate`]), so a request the service would reject never leaves the process.
//! Answers are decoded leniently: missing fields take defaults, numbers may come as strings.

mod images;
mod sharing;
mod tags;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

pub use images::*;
pub use sharing::*;
pub use tags::*;

use super::params::Params;

/// The API version every SWAS call names.
pub const API_VERSION: &str = "2020-06-01";

/// The longest `ClientToken` the service accepts.
pub const MAX_CLIENT_TOKEN: usize = 64;

/// One SWAS API action.
pub trait Operation {
    /// The `Action` name.
    const ACTION: &'static str;
    /// What a successful call answers.
    type Response: DeserializeOwned;

    /// The region the call is for (and whose endpoint it goes to).
    fn region_id(&self) -> &str;

    /// The request's parameters, `RegionId` included.
    fn params(&self) -> Params;

    /// Checks the request against the API's limits; the error says which one it breaks.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Checks the rules every request shares: a region, and a `ClientToken` of at most 64 ASCII
/// characters.
pub(crate) fn validate_common(region_id: &str, client_token: Option<&str>) -> Result<(), String> {
    if region_id.is_empty() {
        return Err("RegionId is empty".into());
    }
    if let Some(token) = client_token
        && (token.is_empty() || token.len() > MAX_CLIENT_TOKEN || !token.is_ascii())
    {
        return Err(format!(
            "ClientToken must be 1 to {MAX_CLIENT_TOKEN} ASCII characters"
        ));
    }
    Ok(())
}

/// Checks that a list has between `min` and `max` entries.
pub(crate) fn validate_len<T>(
    name: &str,
    list: &[T],
    min: usize,
    max: usize,
) -> Result<(), String> {
    if list.len() < min || list.len() > max {
        return Err(format!(
            "{name} takes {min} to {max} entries, got {}",
            list.len()
        ));
    }
    Ok(())
}

/// The answer of calls that return nothing but a request ID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Acknowledged {
    /// The service's request ID.
    pub request_id: String,
}

/// Reads a number sent either as a JSON number or as a string of digits.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(u64),
        Text(String),
        Null(()),
    }
    match Number::deserialize(d)? {
        Number::Int(n) => Ok(n),
        Number::Text(s) if s.is_empty() => Ok(0),
        Number::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
        Number::Null(()) => Ok(0),
    }
}
