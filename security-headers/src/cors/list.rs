//! Shared parsing of comma-separated lists for the CORS config types.

use http::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::ConfigError;

/// A list in a config file: either one comma-separated string or an array of strings.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum StringList {
    Joined(String),
    Items(Vec<String>),
}

impl StringList {
    /// The non-empty, trimmed items.
    pub(crate) fn items(&self) -> Vec<&str> {
        match self {
            Self::Joined(text) => split_list(text).collect(),
            Self::Items(items) => items.iter().flat_map(|item| split_list(item)).collect(),
        }
    }
}

/// The trimmed, non-empty items of a comma-separated list.
pub(crate) fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Validates header names; `*` is refused (list the names instead).
pub(crate) fn header_names<I>(names: I) -> Result<Vec<HeaderName>, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut parsed: Vec<HeaderName> = Vec::new();
    for name in names {
        let name = name.as_ref().trim();
        if name.is_empty() {
            continue;
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .filter(|header| header.as_str() != "*")
            .ok_or_else(|| ConfigError::CorsInvalidHeaderName {
                name: name.to_owned(),
            })?;
        if !parsed.contains(&header) {
            parsed.push(header);
        }
    }
    Ok(parsed)
}

/// `a, b, c` as one header value, built once; `None` for an empty list.
pub(crate) fn join<T: AsRef<str>>(items: &[T]) -> Option<HeaderValue> {
    if items.is_empty() {
        return None;
    }
    let joined = items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    // Tokens joined by ", " are valid header bytes.
    HeaderValue::from_str(&joined).ok()
}
