//! [`Requirement`]: the scopes a request's key must have, with what a refusal says.

use http::HeaderValue;

use super::challenge::challenge;
use crate::scopes::Scopes;

/// Scopes a request's key must have: all of them, or any one.
#[derive(Debug)]
pub(crate) struct Requirement {
    scopes: Scopes,
    any: bool,
    /// The `scope` attribute of the challenge: space separated.
    attribute: Box<str>,
    detail: Box<str>,
}

impl Requirement {
    pub(crate) fn new(scopes: Scopes, any: bool) -> Self {
        let listed = scopes.iter().collect::<Vec<_>>().join(", ");
        let detail = match (scopes.len(), any) {
            (1, _) => format!("This request needs the scope {listed}."),
            (_, false) => format!("This request needs the scopes {listed}."),
            (_, true) => format!("This request needs one of the scopes {listed}."),
        };
        Self {
            attribute: scopes.to_string().into(),
            scopes,
            any,
            detail: detail.into(),
        }
    }

    /// Whether `granted` satisfies the requirement; an empty requirement always is.
    pub(crate) fn is_met_by(&self, granted: &Scopes) -> bool {
        if self.scopes.is_empty() {
            return true;
        }
        if self.any {
            self.scopes.iter().any(|scope| granted.contains(scope))
        } else {
            self.scopes.iter().all(|scope| granted.contains(scope))
        }
    }

    pub(crate) fn challenge(&self, realm: &str) -> HeaderValue {
        challenge(realm, Some("insufficient_scope"), Some(&self.attribute))
    }

    pub(crate) fn scopes_json(&self) -> serde_json::Value {
        self.scopes.iter().collect::<Vec<_>>().into()
    }

    /// The scopes required.
    pub(crate) fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Whether any one of the scopes is enough.
    pub(crate) fn any(&self) -> bool {
        self.any
    }

    /// The scopes as the challenge's `scope` attribute names them: space separated.
    pub(crate) fn attribute(&self) -> &str {
        &self.attribute
    }

    /// What a refused client is told.
    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }
}
