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
        parsed.push(header);
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

/// A list of header names without repeats, with its `a, b, c` header value built once:
/// the shared body of [`AllowHeaders`](super::AllowHeaders) and
/// [`ExposeHeaders`](super::ExposeHeaders).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderNames {
    names: Vec<HeaderName>,
    value: Option<HeaderValue>,
}

impl HeaderNames {
    /// Parses and validates names; blank items are skipped.
    pub(crate) fn parse<I>(names: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        header_names(names).map(Self::from)
    }

    pub(crate) fn names(&self) -> &[HeaderName] {
        &self.names
    }

    pub(crate) fn value(&self) -> Option<&HeaderValue> {
        self.value.as_ref()
    }
}

impl From<Vec<HeaderName>> for HeaderNames {
    fn from(names: Vec<HeaderName>) -> Self {
        let names = without_repeats(names);
        let value = join(&names);
        Self { names, value }
    }
}

/// The items in their first order, each once (lists are short: a linear scan).
pub(crate) fn without_repeats<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn repeated_names_are_listed_and_sent_once_in_first_order() {
        let names =
            HeaderNames::parse(["X-Api-Key", "content-type", "x-api-key", "Content-Type"]).unwrap();
        assert_eq!(names.names(), ["x-api-key", "content-type"]);
        assert_eq!(names.value().unwrap(), "x-api-key, content-type");
        assert!(HeaderNames::parse([" ", ""]).unwrap().value().is_none());
    }

    #[test]
    fn repeated_methods_are_sent_once() {
        let methods =
            super::super::AllowMethods::from(vec![Method::GET, Method::POST, Method::GET]);
        assert_eq!(methods.methods(), [Method::GET, Method::POST]);
    }
}
