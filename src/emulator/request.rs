//! Reading request parameters the way the service does: from the query string and from a
//! form-encoded body, `+` as space, booleans in any case, JSON-array strings and `Name.N`
//! lists. Every malformed value becomes a clear `InvalidParameter` / `MissingParameter`.

use std::collections::BTreeMap;

use super::error::ApiError;
use crate::swas::params::Tag;

/// Parameters that belong to signing or the protocol, not to the API call.
pub const PROTOCOL_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "Signature",
    "AccessKeyId",
    "SecurityToken",
];

/// Decodes `a=b&c=d` (form encoding) into pairs.
pub fn decode_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

/// The parameters of one call.
#[derive(Clone, Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Collects pairs; a repeated key keeps its last value.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = &'a (String, String)>) -> Self {
        Self(pairs.into_iter().cloned().collect())
    }

    /// The API parameters without protocol ones, for the audit log and idempotency checks.
    pub fn api_params(&self) -> BTreeMap<String, String> {
        let mut api = self.0.clone();
        api.retain(|k, _| !PROTOCOL_PARAMS.contains(&k.as_str()));
        api
    }

    /// An optional parameter; an empty value counts as absent.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional boolean, in any case.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(name, format!("{v:?} is not a boolean"))),
        }
    }

    /// An optional integer within bounds.
    pub fn int(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    name,
                    format!("must be an integer {min} to {max}"),
                )),
            },
        }
    }

    /// An optional JSON array of strings, at most `max` long.
    pub fn json_array(&self, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        let Some(raw) = self.opt(name) else {
            return Ok(Vec::new());
        };
        let values: Vec<String> = serde_json::from_str(raw)
            .map_err(|_| ApiError::invalid(name, "must be a JSON array of strings"))?;
        if values.len() > max {
            return Err(ApiError::invalid(name, format!("at most {max} entries")));
        }
        if values.iter().any(|v| v.is_empty()) {
            return Err(ApiError::invalid(name, "entries must not be empty"));
        }
        Ok(values)
    }

    /// A `Name.1`, `Name.2`, ... list, at most `max` long, without gaps.
    pub fn list(&self, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        let prefix = format!("{name}.");
        let mut indexed = Vec::new();
        for (key, value) in &self.0 {
            let Some(index) = key.strip_prefix(&prefix) else {
                continue;
            };
            let index: usize = index
                .parse()
                .map_err(|_| ApiError::invalid(key, "list index must be a number"))?;
            indexed.push((index, value.clone()));
        }
        check_indexes(name, indexed.iter().map(|(i, _)| *i), max)?;
        indexed.sort();
        Ok(indexed.into_iter().map(|(_, v)| v).collect())
    }

    /// `Name.N.Key` / `Name.N.Value` tags, at most `max`.
    pub fn tags(&self, name: &str, max: usize) -> Result<Vec<Tag>, ApiError> {
        let prefix = format!("{name}.");
        let mut tags: BTreeMap<usize, Tag> = BTreeMap::new();
        for (key, value) in &self.0 {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let (index, field) = rest
                .split_once('.')
                .ok_or_else(|| ApiError::invalid(key, "expected Tag.N.Key or Tag.N.Value"))?;
            let index: usize = index
                .parse()
                .map_err(|_| ApiError::invalid(key, "tag index must be a number"))?;
            let tag = tags.entry(index).or_default();
            match field {
                "Key" => tag.key = value.clone(),
                "Value" => tag.value = value.clone(),
                _ => return Err(ApiError::invalid(key, "expected Key or Value")),
            }
        }
        check_indexes(name, tags.keys().copied(), max)?;
        if let Some((i, _)) = tags.iter().find(|(_, t)| t.key.is_empty()) {
            return Err(ApiError::missing(&format!("{name}.{i}.Key")));
        }
        Ok(tags.into_values().collect())
    }
}

fn check_indexes(
    name: &str,
    indexes: impl Iterator<Item = usize>,
    max: usize,
) -> Result<(), ApiError> {
    let mut indexes: Vec<usize> = indexes.collect();
    indexes.sort_unstable();
    indexes.dedup();
    if indexes.len() > max {
        return Err(ApiError::invalid(name, format!("at most {max} entries")));
    }
    if indexes.iter().enumerate().any(|(i, n)| *n != i + 1) {
        return Err(ApiError::invalid(name, "list indexes must run 1, 2, 3 ..."));
    }
    Ok(())
}

/// Checks a `ClientToken`: at most 64 ASCII characters.
pub fn client_token(params: &Params) -> Result<Option<String>, ApiError> {
    match params.0.get("ClientToken") {
        None => Ok(None),
        Some(t) if t.is_empty() || t.len() > 64 || !t.is_ascii() => Err(ApiError::invalid(
            "ClientToken",
            "must be 1 to 64 ASCII characters",
        )),
        Some(t) => Ok(Some(t.clone())),
    }
}

/// Checks a tag the way the service does: key 1 to 64 characters, not starting with `acs:`
/// or `aliyun`; neither key nor value longer than 64 or containing `http://` / `https://`.
pub fn check_tag(tag: &Tag) -> Result<(), ApiError> {
    let url = |s: &str| s.contains("http://") || s.contains("https://");
    let key_len = tag.key.chars().count();
    if key_len == 0 || key_len > 64 || url(&tag.key) {
        return Err(ApiError::invalid(
            "Tag.N.Key",
            format!("{:?} is not a valid tag key", tag.key),
        ));
    }
    if tag.key.starts_with("acs:") || tag.key.starts_with("aliyun") {
        return Err(ApiError::invalid(
            "Tag.N.Key",
            "keys starting acs: or aliyun are reserved",
        ));
    }
    if tag.value.chars().count() > 64 || url(&tag.value) {
        return Err(ApiError::invalid(
            "Tag.N.Value",
            "at most 64 characters, no URLs",
        ));
    }
    Ok(())
}
