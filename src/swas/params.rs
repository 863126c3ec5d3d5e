//! Request parameters, encoded as the official SDK encodes them.
//!
//! RPC parameters are flat string pairs. Lists of scalars become `Name.1`, `Name.2`, ...;
//! lists of tags become `Tag.1.Key` / `Tag.1.Value`; a few parameters (`ImageIds`,
//! `ImageNames`) are one string holding a compact JSON array. Booleans are written the way the
//! Python SDK writes them (`True` / `False`); the service reads them in any case.

use std::fmt::Display;

use serde::{Deserialize, Serialize};

/// A key/value tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value (may be empty).
    #[serde(default)]
    pub value: String,
}

impl Tag {
    /// A tag from a key and a value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Parameters of one call, in the order added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one parameter.
    pub fn set(&mut self, key: impl Into<String>, value: impl Display) -> &mut Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    /// Adds a parameter when it has a value.
    pub fn opt(&mut self, key: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(value) = value {
            self.set(key, value);
        }
        self
    }

    /// Adds a boolean as `True` / `False`.
    pub fn boolean(&mut self, key: &str, value: Option<bool>) -> &mut Self {
        self.opt(key, value.map(|b| if b { "True" } else { "False" }))
    }

    /// Adds a list as one compact JSON array string, unless it is empty.
    pub fn json_array(&mut self, key: &str, values: &[String]) -> &mut Self {
        if !values.is_empty() {
            let json = serde_json::to_string(values).unwrap_or_else(|_| "[]".into());
            self.set(key, json);
        }
        self
    }

    /// Adds a list as `key.1`, `key.2`, ...
    pub fn list<T: Display>(&mut self, key: &str, values: &[T]) -> &mut Self {
        for (i, value) in values.iter().enumerate() {
            self.set(format!("{key}.{}", i + 1), value);
        }
        self
    }

    /// Adds tags as `key.N.Key` and `key.N.Value`.
    pub fn tags(&mut self, key: &str, tags: &[Tag]) -> &mut Self {
        for (i, tag) in tags.iter().enumerate() {
            self.set(format!("{key}.{}.Key", i + 1), &tag.key);
            self.set(format!("{key}.{}.Value", i + 1), &tag.value);
        }
        self
    }

    /// The pairs, sorted by key as the SDK sends them.
    pub fn into_sorted(mut self) -> Vec<(String, String)> {
        self.0.sort();
        self.0
    }

    /// The value of one parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_sdk() {
        let mut p = Params::new();
        p.set("RegionId", "cn-hangzhou")
            .json_array("ImageIds", &["m-1".into(), "m-2".into()])
            .list("Account", &[1u64, 2])
            .tags("Tag", &[Tag::new("k", "v")])
            .boolean("Share", Some(false))
            .opt("PageSize", None::<u32>);
        assert_eq!(
            p.into_sorted(),
            [
                ("Account.1", "1"),
                ("Account.2", "2"),
                ("ImageIds", r#"["m-1","m-2"]"#),
                ("RegionId", "cn-hangzhou"),
                ("Share", "False"),
                ("Tag.1.Key", "k"),
                ("Tag.1.Value", "v"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
