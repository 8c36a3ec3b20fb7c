use std::net::{IpAddr, SocketAddr};

use http::{Extensions, HeaderMap, Request, Uri};

use super::forwarded::{self, Hop};
use super::{TrustedProxies, canonical};

/// The address of the connection's peer, for servers that are not axum: insert it into
/// each request's extensions (hyper's `service_fn` closure knows it from `accept`).
///
/// ```
/// use http::Request;
/// use portcullis_core::client_ip::{ClientIpResolver, PeerAddr};
///
/// let mut request = Request::new(());
/// request.extensions_mut().insert(PeerAddr("192.0.2.1:443".parse().unwrap()));
/// assert_eq!(ClientIpResolver::peer_addr(&request), Some("192.0.2.1:443".parse().unwrap()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The scheme a client used to reach the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain `http`.
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("https") || text.eq_ignore_ascii_case("wss") {
            Some(Self::Https)
        } else if text.eq_ignore_ascii_case("http") || text.eq_ignore_ascii_case("ws") {
            Some(Self::Http)
        } else {
            None
        }
    }

    fn of_uri(uri: &Uri) -> Option<Self> {
        uri.scheme_str().and_then(Self::parse)
    }
}

/// Which forwarding header the trusted proxies write.
///
/// Only the header your proxy actually sets may be read: a proxy that appends
/// `X-Forwarded-For` passes a client-written `Forwarded` through untouched, so reading
/// that one would believe the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` with `X-Forwarded-Proto` (nginx, AWS ALB, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

/// Where a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientAddr {
    /// The client's address (IPv4-mapped IPv6 given as IPv4).
    pub ip: IpAddr,
    /// The scheme the client used, when known.
    pub scheme: Option<Scheme>,
    /// Whether the address came from a trusted proxy's forwarding header rather than
    /// the connection itself.
    pub forwarded: bool,
}

impl ClientAddr {
    /// Whether the client is known to have used HTTPS.
    pub fn is_https(&self) -> bool {
        self.scheme == Some(Scheme::Https)
    }
}

/// Finds the client behind trusted proxies; see the [module docs](super).
#[derive(Clone, Debug, Default)]
pub struct ClientIpResolver {
    trusted: TrustedProxies,
    header: ForwardedHeader,
}

impl ClientIpResolver {
    /// A resolver trusting these proxies' `X-Forwarded-For` / `X-Forwarded-Proto`.
    pub fn new(trusted: TrustedProxies) -> Self {
        Self {
            trusted,
            header: ForwardedHeader::default(),
        }
    }

    /// Reads this forwarding header instead.
    ///
    /// ```
    /// use http::Request;
    /// use portcullis_core::client_ip::{ClientIpResolver, ForwardedHeader, PeerAddr, TrustedProxies};
    ///
    /// let resolver = ClientIpResolver::new(TrustedProxies::loopback())
    ///     .with_header(ForwardedHeader::Forwarded);
    /// let mut request = Request::builder()
    ///     .header("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)
    ///     .body(())
    ///     .unwrap();
    /// request.extensions_mut().insert(PeerAddr("127.0.0.1:9000".parse().unwrap()));
    /// let client = resolver.resolve(&request).unwrap();
    /// assert_eq!(client.ip.to_string(), "2001:db8::7");
    /// assert!(client.is_https());
    /// ```
    #[must_use]
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// The connection's peer address from the request extensions: [`PeerAddr`], a
    /// [`SocketAddr`], or axum's `ConnectInfo<SocketAddr>` (feature `axum`).
    pub fn peer_addr<B>(request: &Request<B>) -> Option<SocketAddr> {
        Self::peer_addr_in(request.extensions())
    }

    /// [`peer_addr`](Self::peer_addr) from the request's extensions alone, for code
    /// that holds the request's parts rather than the request.
    ///
    /// ```
    /// use http::Extensions;
    /// use portcullis_core::client_ip::{ClientIpResolver, PeerAddr};
    ///
    /// let mut extensions = Extensions::new();
    /// assert_eq!(ClientIpResolver::peer_addr_in(&extensions), None);
    /// extensions.insert(PeerAddr("192.0.2.1:443".parse().unwrap()));
    /// assert_eq!(ClientIpResolver::peer_addr_in(&extensions), Some("192.0.2.1:443".parse().unwrap()));
    /// ```
    pub fn peer_addr_in(extensions: &Extensions) -> Option<SocketAddr> {
        if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
            return Some(*addr);
        }
        #[cfg(feature = "axum")]
        if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
            return Some(info.0);
        }
        extensions.get::<SocketAddr>().copied()
    }

    /// The client of this request, or `None` when the server recorded no peer address.
    pub fn resolve<B>(&self, request: &Request<B>) -> Option<ClientAddr> {
        let peer = Self::peer_addr(request)?.ip();
        Some(self.resolve_parts(peer, request.headers(), request.uri()))
    }

    /// The scheme the client used: from a trusted proxy when there is one, else from the
    /// request URI (which HTTP/2 and absolute-form requests carry).
    pub fn scheme<B>(&self, request: &Request<B>) -> Option<Scheme> {
        match self.resolve(request) {
            Some(client) => client.scheme,
            None => Scheme::of_uri(request.uri()),
        }
    }

    /// [`resolve`](Self::resolve) from a known peer address and the request's parts.
    pub fn resolve_parts(&self, peer: IpAddr, headers: &HeaderMap, uri: &Uri) -> ClientAddr {
        let peer = canonical(peer);
        let direct = ClientAddr {
            ip: peer,
            scheme: Scheme::of_uri(uri),
            forwarded: false,
        };
        if !self.trusted.contains(peer) {
            return direct;
        }
        match self.header {
            // With no address to walk, the trusted peer is the client's proxy itself,
            // and its own (right-most) scheme is believed: a TLS terminator that sends
            // only the scheme still says the client used HTTPS.
            ForwardedHeader::XForwardedFor => {
                let walked = self.walk(forwarded::x_forwarded_for(headers));
                let (ip, index, forwarded) =
                    walked.map_or((peer, 0, false), |(index, hop)| (hop, index, true));
                ClientAddr {
                    ip,
                    scheme: forwarded::x_forwarded_proto(headers, index)
                        .and_then(Scheme::parse)
                        .or(direct.scheme),
                    forwarded,
                }
            }
            ForwardedHeader::Forwarded => {
                let mut chosen_proto = None;
                let mut peer_proto = None;
                let walked = self.walk(forwarded::forwarded(headers).inspect(|hop| {
                    peer_proto = peer_proto.or(Some(hop.proto));
                    chosen_proto = hop.proto;
                }));
                let (ip, proto, forwarded) = match walked {
                    Some((_, hop)) => (hop, chosen_proto, true),
                    None => (peer, peer_proto.flatten(), false),
                };
                ClientAddr {
                    ip,
                    scheme: proto.and_then(Scheme::parse).or(direct.scheme),
                    forwarded,
                }
            }
        }
    }

    /// Walks hops right to left past trusted proxies. Returns the index and address of
    /// the first untrusted hop; when a hop is unknown, the last trusted one (it is the
    /// furthest address anyone trusted vouches for); when every hop is trusted, the
    /// left-most. `None` when there are no hops.
    fn walk<'a>(&self, hops: impl Iterator<Item = Hop<'a>>) -> Option<(usize, IpAddr)> {
        let mut last = None;
        for (index, hop) in hops.enumerate() {
            match hop.ip.map(canonical) {
                Some(ip) if self.trusted.contains(ip) => last = Some((index, ip)),
                Some(ip) => return Some((index, ip)),
                None => return last,
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn request(peer: &str, headers: &[(&'static str, &'static str)]) -> Request<()> {
        let mut builder = Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_static(value));
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(PeerAddr(peer.parse().unwrap()));
        request
    }

    fn resolver(trusted: &str) -> ClientIpResolver {
        ClientIpResolver::new(trusted.parse().unwrap())
    }

    fn ip_of(resolver: &ClientIpResolver, request: &Request<()>) -> String {
        resolver.resolve(request).unwrap().ip.to_string()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let request = request(
            "203.0.113.1:1",
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-proto", "https"),
            ],
        );
        let client = resolver("10.0.0.0/8").resolve(&request).unwrap();
        assert_eq!(client.ip.to_string(), "203.0.113.1");
        assert!(!client.forwarded);
        assert_eq!(client.scheme, None);
    }

    #[test]
    fn prepended_spoofed_hops_do_not_win() {
        // The client wrote "6.6.6.6"; the edge proxy appended the real client.
        let request = request(
            "10.0.0.2:1",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.20, 10.0.0.9")],
        );
        assert_eq!(ip_of(&resolver("10.0.0.0/8"), &request), "198.51.100.20");
    }

    #[test]
    fn all_trusted_hops_give_the_left_most() {
        let request = request("10.0.0.2:1", &[("x-forwarded-for", "10.0.0.7, 10.0.0.8")]);
        assert_eq!(ip_of(&resolver("10.0.0.0/8"), &request), "10.0.0.7");
    }

    #[test]
    fn unknown_hop_stops_at_the_last_trusted() {
        let request = request(
            "10.0.0.2:1",
            &[("x-forwarded-for", "1.2.3.4, garbage, 10.0.0.8")],
        );
        assert_eq!(ip_of(&resolver("10.0.0.0/8"), &request), "10.0.0.8");
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        let request = request("10.0.0.2:1", &[]);
        let client = resolver("10.0.0.0/8").resolve(&request).unwrap();
        assert_eq!(client.ip.to_string(), "10.0.0.2");
        assert!(!client.forwarded);
    }

    /// A TLS-terminating proxy that sends only `X-Forwarded-Proto` (or a `Forwarded`
    /// element with only `proto`) still says how the client connected: HSTS and
    /// secure-only decisions rely on it.
    #[test]
    fn a_trusted_peer_is_believed_on_its_scheme_alone() {
        let xfp = request("10.0.0.2:1", &[("x-forwarded-proto", "https")]);
        let client = resolver("10.0.0.0/8").resolve(&xfp).unwrap();
        assert_eq!(client.ip.to_string(), "10.0.0.2");
        assert!(!client.forwarded);
        assert_eq!(client.scheme, Some(Scheme::Https));

        let forwarded = request("10.0.0.2:1", &[("forwarded", "proto=https")]);
        let resolver = ClientIpResolver::new("10.0.0.0/8".parse().unwrap())
            .with_header(ForwardedHeader::Forwarded);
        let client = resolver.resolve(&forwarded).unwrap();
        assert_eq!(client.ip.to_string(), "10.0.0.2");
        assert_eq!(client.scheme, Some(Scheme::Https));

        // Not from an untrusted peer.
        let spoofed = request("203.0.113.1:1", &[("x-forwarded-proto", "https")]);
        assert_eq!(
            ClientIpResolver::new("10.0.0.0/8".parse().unwrap())
                .resolve(&spoofed)
                .unwrap()
                .scheme,
            None
        );
    }

    #[test]
    fn forwarded_header_is_ignored_unless_selected() {
        let request = request("10.0.0.2:1", &[("forwarded", "for=6.6.6.6;proto=https")]);
        let default = resolver("10.0.0.0/8");
        assert_eq!(ip_of(&default, &request), "10.0.0.2");
        let rfc = default.clone().with_header(ForwardedHeader::Forwarded);
        let client = rfc.resolve(&request).unwrap();
        assert_eq!(client.ip.to_string(), "6.6.6.6");
        assert!(client.is_https());
    }

    #[test]
    fn forwarded_proto_comes_from_the_chosen_element() {
        let request = request(
            "10.0.0.2:1",
            &[(
                "forwarded",
                "for=6.6.6.6;proto=http, for=198.51.100.1;proto=https, for=10.0.0.3;proto=http",
            )],
        );
        let client = resolver("10.0.0.0/8")
            .with_header(ForwardedHeader::Forwarded)
            .resolve(&request)
            .unwrap();
        assert_eq!(client.ip.to_string(), "198.51.100.1");
        assert!(client.is_https());
    }

    #[test]
    fn mapped_peer_is_reported_as_ipv4() {
        let request = request("[::ffff:192.0.2.9]:80", &[]);
        assert_eq!(ip_of(&resolver(""), &request), "192.0.2.9");
    }

    #[test]
    fn no_peer_means_no_client_but_uri_scheme_still_counts() {
        let request = Request::builder()
            .uri("https://example.com/")
            .body(())
            .unwrap();
        let resolver = resolver("0.0.0.0/0");
        assert_eq!(resolver.resolve(&request), None);
        assert_eq!(resolver.scheme(&request), Some(Scheme::Https));
    }

    #[test]
    fn peer_addr_in_prefers_peer_addr_over_socket_addr() {
        let mut extensions = Extensions::new();
        extensions.insert::<SocketAddr>("192.0.2.5:1".parse().unwrap());
        assert_eq!(
            ClientIpResolver::peer_addr_in(&extensions),
            Some("192.0.2.5:1".parse().unwrap())
        );
        extensions.insert(PeerAddr("192.0.2.6:2".parse().unwrap()));
        assert_eq!(
            ClientIpResolver::peer_addr_in(&extensions),
            Some("192.0.2.6:2".parse().unwrap())
        );
    }

    #[test]
    fn plain_socket_addr_extension_is_a_peer() {
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert::<SocketAddr>("192.0.2.5:1".parse().unwrap());
        assert_eq!(ip_of(&resolver(""), &request), "192.0.2.5");
    }
}
