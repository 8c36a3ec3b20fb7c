use std::hash::Hash;
use std::sync::Arc;

use http::{Extensions, HeaderName};
use portcullis_core::client_ip::{ClientIpResolver, IpGrouping, TrustedProxies};

use super::{KeyBuilder, KeyExtractor, MissingKey};
use crate::error::ConfigError;
use crate::request::{RequestHead, TenantId};

/// The built-in key: one or more parts, all of which identify the limited party.
///
/// ```
/// use http::HeaderName;
/// use portcullis_rate_limit::key::Key;
///
/// let per_ip = Key::client_ip();
/// let per_ip_and_endpoint = Key::client_ip().and(Key::route());
/// let per_api_key = Key::header(HeaderName::from_static("x-api-key"));
/// let per_tenant = Key::tenant();
/// assert_eq!(per_ip_and_endpoint.parts(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Key {
    parts: Arc<[Part]>,
}

#[derive(Clone, Debug)]
enum Part {
    ClientIp {
        resolver: ClientIpResolver,
        grouping: IpGrouping,
    },
    Header(HeaderName),
    Extension {
        type_name: &'static str,
        read: fn(&Extensions, &mut KeyBuilder) -> bool,
    },
    Route,
    Method,
    Global,
}

impl Key {
    fn of(part: Part) -> Self {
        Self {
            parts: Arc::from([part]),
        }
    }

    /// The client's address as the connection's peer sees it, trusting no proxy; IPv6
    /// addresses grouped to their `/56`.
    pub fn client_ip() -> Self {
        Self::client_ip_with(ClientIpResolver::default(), IpGrouping::default())
    }

    /// The client's address behind these trusted proxies (their `X-Forwarded-For` is
    /// believed, anybody else's ignored); IPv6 grouped to `/56`.
    pub fn client_ip_behind(trusted: TrustedProxies) -> Self {
        Self::client_ip_with(ClientIpResolver::new(trusted), IpGrouping::default())
    }

    /// The client's address found by `resolver`, folded by `grouping`.
    pub fn client_ip_with(resolver: ClientIpResolver, grouping: IpGrouping) -> Self {
        Self::of(Part::ClientIp { resolver, grouping })
    }

    /// The value of a request header (an API key, say), hashed: the raw value is never
    /// stored. A missing or empty header is a [`MissingKey`].
    pub fn header(name: HeaderName) -> Self {
        Self::of(Part::Header(name))
    }

    /// [`header`](Self::header) from a name given as text.
    ///
    /// ```
    /// use portcullis_rate_limit::key::Key;
    /// assert!(Key::header_named("x-api-key").is_ok());
    /// assert!(Key::header_named("bad header").is_err());
    /// ```
    pub fn header_named(name: &str) -> Result<Self, ConfigError> {
        HeaderName::try_from(name)
            .map(Self::header)
            .map_err(|source| ConfigError::InvalidHeaderName {
                name: name.to_owned(),
                source,
            })
    }

    /// A typed value another layer put into the request extensions (a tenant, an
    /// account), hashed.
    pub fn extension<T: Hash + Send + Sync + 'static>() -> Self {
        Self::of(Part::Extension {
            type_name: std::any::type_name::<T>(),
            read: read_extension::<T>,
        })
    }

    /// The [`TenantId`] in the request extensions.
    pub fn tenant() -> Self {
        Self::extension::<TenantId>()
    }

    /// The route: axum's matched route template (`/users/{id}`, feature `axum`), else
    /// the request path. Combine it with another part for per-endpoint limits.
    pub fn route() -> Self {
        Self::of(Part::Route)
    }

    /// The request method.
    pub fn method() -> Self {
        Self::of(Part::Method)
    }

    /// One key for every request: a global limit.
    pub fn global() -> Self {
        Self::of(Part::Global)
    }

    /// This key and `other`: both parts identify the party.
    ///
    /// ```
    /// use portcullis_rate_limit::key::Key;
    /// assert_eq!(Key::tenant().and(Key::route()).and(Key::method()).parts(), 3);
    /// ```
    #[must_use]
    pub fn and(self, other: Key) -> Self {
        Self {
            parts: self
                .parts
                .iter()
                .chain(other.parts.iter())
                .cloned()
                .collect(),
        }
    }

    /// How many parts the key has.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::key::Key::client_ip().parts(), 1);
    /// ```
    pub fn parts(&self) -> usize {
        self.parts.len()
    }
}

impl Default for Key {
    fn default() -> Self {
        Self::client_ip()
    }
}

fn read_extension<T: Hash + Send + Sync + 'static>(
    extensions: &Extensions,
    key: &mut KeyBuilder,
) -> bool {
    match extensions.get::<T>() {
        Some(value) => {
            value.hash(key);
            true
        }
        None => false,
    }
}

impl KeyExtractor for Key {
    fn extract(&self, request: &RequestHead<'_>, key: &mut KeyBuilder) -> Result<(), MissingKey> {
        for part in self.parts.iter() {
            match part {
                Part::ClientIp { resolver, grouping } => {
                    let peer = ClientIpResolver::peer_addr_in(request.extensions())
                        .ok_or_else(|| MissingKey::new("client address"))?;
                    let client =
                        resolver.resolve_parts(peer.ip(), request.headers(), request.uri());
                    key.write_ip(grouping.group(client.ip));
                }
                Part::Header(name) => {
                    let value = request
                        .headers()
                        .get(name)
                        .filter(|value| !value.is_empty())
                        .ok_or_else(|| MissingKey::new(format!("header {name}")))?;
                    key.write_tag(b'h');
                    key.write_part(name.as_str().as_bytes());
                    key.write_part(value.as_bytes());
                }
                Part::Extension { type_name, read } => {
                    key.write_tag(b'e');
                    key.write_part(type_name.as_bytes());
                    if !read(request.extensions(), key) {
                        return Err(MissingKey::new(*type_name));
                    }
                }
                Part::Route => {
                    key.write_tag(b'r');
                    key.write_part(request.route().as_bytes());
                }
                Part::Method => {
                    key.write_tag(b'm');
                    key.write_part(request.method().as_str().as_bytes());
                }
                Part::Global => key.write_tag(b'g'),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Fingerprint;
    use http::Request;
    use portcullis_core::client_ip::PeerAddr;

    fn fingerprint(key: &Key, request: &Request<()>) -> Result<Fingerprint, MissingKey> {
        let mut builder = KeyBuilder::default();
        key.extract(&RequestHead::new(request), &mut builder)
            .map(|()| builder.finish())
    }

    fn from(peer: &str, xff: Option<&str>) -> Request<()> {
        let mut builder = Request::get("/");
        if let Some(xff) = xff {
            builder = builder.header("x-forwarded-for", xff);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(PeerAddr(peer.parse().unwrap()));
        request
    }

    #[test]
    fn spoofed_forwarded_for_from_untrusted_peer_changes_nothing() {
        let key = Key::client_ip_behind("10.0.0.0/8".parse().unwrap());
        let plain = fingerprint(&key, &from("203.0.113.9:1", None)).unwrap();
        let spoofed = fingerprint(&key, &from("203.0.113.9:1", Some("1.2.3.4"))).unwrap();
        assert_eq!(plain, spoofed);
        // Through the trusted proxy, the forwarded client counts.
        let proxied = fingerprint(&key, &from("10.0.0.2:1", Some("203.0.113.9"))).unwrap();
        assert_eq!(plain, proxied);
    }

    #[test]
    fn ipv6_addresses_in_one_slash56_share_a_key() {
        let key = Key::client_ip();
        let a = fingerprint(&key, &from("[2001:db8:0:1ff::1]:1", None)).unwrap();
        let b = fingerprint(&key, &from("[2001:db8:0:100:ffff::9]:1", None)).unwrap();
        let c = fingerprint(&key, &from("[2001:db8:0:200::1]:1", None)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn missing_parts_are_reported() {
        let request = Request::get("/").body(()).unwrap();
        assert_eq!(
            fingerprint(&Key::client_ip(), &request).unwrap_err().what(),
            "client address"
        );
        assert_eq!(
            fingerprint(&Key::header_named("x-api-key").unwrap(), &request)
                .unwrap_err()
                .what(),
            "header x-api-key"
        );
        assert!(fingerprint(&Key::tenant(), &request).is_err());
        assert!(fingerprint(&Key::global(), &request).is_ok());
    }

    #[test]
    fn header_and_tenant_keys_separate_parties() {
        let key = Key::header_named("x-api-key").unwrap();
        let with = |value: &'static str| {
            Request::get("/")
                .header("x-api-key", value)
                .body(())
                .unwrap()
        };
        assert_ne!(
            fingerprint(&key, &with("a")).unwrap(),
            fingerprint(&key, &with("b")).unwrap()
        );
        let mut a = Request::get("/").body(()).unwrap();
        a.extensions_mut().insert(TenantId::new("acme"));
        let mut b = Request::get("/").body(()).unwrap();
        b.extensions_mut().insert(TenantId::new("globex"));
        assert_ne!(
            fingerprint(&Key::tenant(), &a).unwrap(),
            fingerprint(&Key::tenant(), &b).unwrap()
        );
    }

    #[test]
    fn pairs_and_closures_are_extractors() {
        let request = from("192.0.2.1:1", None);
        let pair = (Key::client_ip(), Key::route());
        let mut a = KeyBuilder::default();
        pair.extract(&RequestHead::new(&request), &mut a).unwrap();
        let closure = |_: &RequestHead<'_>, key: &mut KeyBuilder| {
            key.write_part(b"fixed");
            Ok(())
        };
        let mut b = KeyBuilder::default();
        closure
            .extract(&RequestHead::new(&request), &mut b)
            .unwrap();
        assert_ne!(a.finish(), b.finish());
    }
}
