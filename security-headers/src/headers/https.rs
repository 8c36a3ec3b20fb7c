//! Whether a request reached the service over HTTPS, for HSTS and
//! `upgrade-insecure-requests`.

use std::net::IpAddr;

use http::{Request, header};
use portcullis_core::client_ip::{ClientIpResolver, ForwardedHeader, Scheme};

/// How the layer decides that a request came over HTTPS.
#[derive(Clone, Debug, Default)]
pub(crate) struct HttpsDetection {
    pub(crate) resolver: ClientIpResolver,
    pub(crate) forwarded_header: ForwardedHeader,
    pub(crate) assume_https: bool,
}

impl HttpsDetection {
    /// HTTPS when the URI says so, when a trusted proxy says so (`X-Forwarded-Proto` or
    /// `Forwarded: proto=`), or when the server terminates TLS itself
    /// (`assume_https`) and no trusted proxy said otherwise. Never for `localhost`,
    /// `*.localhost` or IP-literal hosts.
    pub(crate) fn is_https<B>(&self, request: &Request<B>) -> bool {
        if request_host(request).is_some_and(hsts_exempt_host) {
            return false;
        }
        match self.resolver.scheme(request) {
            Some(Scheme::Https) => true,
            Some(_) => false,
            None => self.assume_https,
        }
    }
}

/// The host the client asked for: the URI authority (HTTP/2, absolute form) or the
/// `Host` header (HTTP/1).
fn request_host<B>(request: &Request<B>) -> Option<&str> {
    if let Some(authority) = request.uri().authority() {
        return Some(authority.as_str());
    }
    request.headers().get(header::HOST)?.to_str().ok()
}

/// Splits a `host[:port]` authority (IPv6 in brackets) into its host.
fn strip_port(authority: &str) -> &str {
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn is_localhost_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .len()
            .checked_sub(".localhost".len())
            .and_then(|start| host.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

/// `localhost`, `*.localhost` and IP literals never get HSTS: browsers ignore it
/// for IP literals, and on `localhost` it would pin every local project to HTTPS.
pub(crate) fn hsts_exempt_host(authority: &str) -> bool {
    let host = strip_port(authority);
    is_localhost_name(host) || host.parse::<IpAddr>().is_ok()
}

/// `localhost`, `*.localhost` or a loopback address: a potentially trustworthy origin
/// over plain HTTP.
pub(crate) fn is_loopback_host(authority: &str) -> bool {
    let host = strip_port(authority);
    is_localhost_name(host) || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exempt_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:3000",
            "localhost.",
            "app.localhost",
            "app.localhost:8080",
            "127.0.0.1",
            "127.0.0.1:443",
            "10.1.2.3",
            "203.0.113.7:8443",
            "[::1]",
            "[::1]:3000",
            "[2001:db8::1]:443",
            "user@localhost:1",
        ] {
            assert!(hsts_exempt_host(host), "{host}");
        }
        for host in [
            "example.com",
            "example.com:443",
            "localhost.example.com",
            "mylocalhost",
            "notlocalhost:80",
        ] {
            assert!(!hsts_exempt_host(host), "{host}");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("localhost:8080"));
        assert!(is_loopback_host("127.0.0.2"));
        assert!(is_loopback_host("[::1]:80"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("example.com"));
    }
}
