//! [`Scopes`]: what a key may do.
//!
//! A set of scope tokens as OAuth defines them (RFC 6749 §3.3): printable ASCII
//! without spaces, `"` or `\`, such as `invoices:read`. A set, not a list: order does
//! not matter and duplicates collapse; iteration is in byte order. Because tokens have
//! no spaces, the space-separated text form (`invoices:read invoices:write`) is one
//! exact encoding for a `TEXT` column; serde writes a sorted array.
//!
//! A set is bounded: at most [`MAX_SCOPES`] scopes of at most [`MAX_SCOPE_LEN`] bytes
//! each, so a key record (and every cache entry and check of it) stays small whoever
//! creates it.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::scopes::Scopes;
//!
//! let scopes = Scopes::new(["invoices:write", "invoices:read", "invoices:write"])?;
//! assert_eq!(scopes.len(), 2);
//! assert!(scopes.contains("invoices:read"));
//! assert_eq!(scopes.to_string(), "invoices:read invoices:write");
//! assert_eq!(scopes.to_string().parse::<Scopes>()?, scopes);
//! # Ok::<(), portcullis_api_keys::error::ParseError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

/// The most scopes a set holds: 100, counted as given (before duplicates collapse).
pub const MAX_SCOPES: usize = 100;

/// The longest scope: 128 bytes (`https://api.example.com/invoices:read` is 37).
pub const MAX_SCOPE_LEN: usize = 128;

/// A set of scope tokens. See the [module docs](self).
///
/// ```
/// use portcullis_api_keys::scopes::Scopes;
/// let scopes: Scopes = "b a".parse().unwrap();
/// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["a", "b"]);
/// assert!(Scopes::new(["has space"]).is_err());
/// assert!(Scopes::default().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(BTreeSet<Box<str>>);

impl Scopes {
    /// The set of these scopes; fails on the first that is not a scope token (empty,
    /// or with a space, a control character, `"`, `\` or non-ASCII) or is longer than
    /// [`MAX_SCOPE_LEN`], and when more than [`MAX_SCOPES`] are given.
    ///
    /// ```
    /// use portcullis_api_keys::{error::ParseError, scopes::Scopes};
    /// assert_eq!(Scopes::new(["read", "read"]).unwrap().len(), 1);
    /// assert_eq!(
    ///     Scopes::new(["read", ""]).unwrap_err(),
    ///     ParseError::Scope { scope: String::new() }
    /// );
    /// ```
    pub fn new<I>(scopes: I) -> Result<Self, ParseError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut count = 0_usize;
        scopes
            .into_iter()
            .map(|scope| {
                count += 1;
                if count > MAX_SCOPES {
                    // Stop reading: the rest of the input costs nothing.
                    return Err(ParseError::TooManyScopes { max: MAX_SCOPES });
                }
                let scope = scope.as_ref();
                if scope.len() > MAX_SCOPE_LEN {
                    Err(ParseError::ScopeTooLong {
                        length: scope.len(),
                        max: MAX_SCOPE_LEN,
                    })
                } else if is_scope_token(scope) {
                    Ok(Box::from(scope))
                } else {
                    Err(ParseError::Scope {
                        scope: scope.to_owned(),
                    })
                }
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether the set holds exactly this scope.
    ///
    /// ```
    /// use portcullis_api_keys::scopes::Scopes;
    /// let scopes = Scopes::new(["invoices:read"]).unwrap();
    /// assert!(scopes.contains("invoices:read"));
    /// assert!(!scopes.contains("invoices"));
    /// ```
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// The scopes, in byte order.
    ///
    /// ```
    /// use portcullis_api_keys::scopes::Scopes;
    /// let scopes = Scopes::new(["b", "B", "a"]).unwrap();
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["B", "a", "b"]);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.0.iter().map(|scope| &**scope)
    }

    /// How many scopes the set holds.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::scopes::Scopes::new(["a", "b"]).unwrap().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// assert!(portcullis_api_keys::scopes::Scopes::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

impl fmt::Display for Scopes {
    /// Space separated, in byte order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = ParseError;

    /// Splits on spaces (runs of ASCII whitespace are one separator; none is a scope).
    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::new(text.split_ascii_whitespace())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let scopes = Vec::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(scopes).map_err(serde::de::Error::custom)
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a str;
    type IntoIter = std::iter::Map<
        std::collections::btree_set::Iter<'a, Box<str>>,
        fn(&'a Box<str>) -> &'a str,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|scope| &**scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_of_scopes_and_their_length_are_bounded() {
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert_eq!(
            Scopes::new(&many).unwrap_err(),
            ParseError::TooManyScopes { max: MAX_SCOPES }
        );
        assert_eq!(Scopes::new(&many[..MAX_SCOPES]).unwrap().len(), MAX_SCOPES);
        // Counted as given, before duplicates collapse: the bound is on the work.
        assert!(Scopes::new(vec!["a"; MAX_SCOPES + 1]).is_err());
        let long = "a".repeat(10_000);
        let error = Scopes::new([long.as_str()]).unwrap_err();
        assert_eq!(
            error,
            ParseError::ScopeTooLong {
                length: 10_000,
                max: MAX_SCOPE_LEN
            }
        );
        assert!(error.to_string().len() < 200, "the scope is not echoed");
        assert!(Scopes::new(["a".repeat(MAX_SCOPE_LEN)]).is_ok());
        assert!(long.parse::<Scopes>().is_err());
        assert!(serde_json::from_str::<Scopes>(&serde_json::to_string(&many).unwrap()).is_err());
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        for good in ["a", "invoices:read", "https://api.example.com/x", "!#[]~"] {
            assert!(is_scope_token(good), "{good}");
        }
        for bad in ["", " ", "a b", "a\tb", "\"", "\\", "é", "a\u{7f}", "\n"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn text_and_serde_forms_round_trip() {
        let scopes = Scopes::new(["z", "a:b", "M", "a:b"]).unwrap();
        assert_eq!(scopes.to_string(), "M a:b z");
        assert_eq!(scopes.to_string().parse::<Scopes>().unwrap(), scopes);
        let json = serde_json::to_string(&scopes).unwrap();
        assert_eq!(json, r#"["M","a:b","z"]"#);
        assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), scopes);
        assert!(serde_json::from_str::<Scopes>(r#"["a b"]"#).is_err());
        assert_eq!("".parse::<Scopes>().unwrap(), Scopes::default());
        assert_eq!(
            "  a \n b ".parse::<Scopes>().unwrap(),
            Scopes::new(["a", "b"]).unwrap()
        );
    }

    #[test]
    fn order_and_duplicates_do_not_matter() {
        assert_eq!(
            Scopes::new(["b", "a", "b"]).unwrap(),
            Scopes::new(["a", "b"]).unwrap()
        );
        let scopes = Scopes::new(["b", "a"]).unwrap();
        assert_eq!((&scopes).into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}
