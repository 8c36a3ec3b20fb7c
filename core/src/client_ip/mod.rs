//! The client's address behind trusted proxies.
//!
//! The peer of the TCP connection is the client only when nobody sits in between. Behind
//! a load balancer the real client is in `Forwarded` (RFC 7239) or `X-Forwarded-For`,
//! headers that any client can also write. [`ClientIpResolver`] believes them only when
//! the peer is a [trusted proxy](TrustedProxies), and then walks the hops from the
//! right, skipping trusted proxies, so the answer is the right-most address nobody
//! trusted vouches for: a client cannot spoof its way past a proxy by prepending hops.
//! The scheme the client used (`proto=` or `X-Forwarded-Proto`) is taken under the same
//! rule.
//!
//! The peer address is read from the request extensions: [`PeerAddr`], a plain
//! [`SocketAddr`](std::net::SocketAddr), or (feature `axum`) axum's
//! `ConnectInfo<SocketAddr>`.
//!
//! [`IpGrouping`] folds an address to its network (`/56` for IPv6 by default), since one
//! IPv6 subscriber usually holds a whole prefix.
//!
//! # Example
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use http::Request;
//! use portcullis_core::client_ip::{ClientIpResolver, PeerAddr, TrustedProxies};
//!
//! let resolver = ClientIpResolver::new("10.0.0.0/8".parse::<TrustedProxies>().unwrap());
//!
//! // Through our load balancer at 10.0.0.5: the forwarded client counts.
//! let mut request = Request::builder()
//!     .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
//!     .header("x-forwarded-proto", "https")
//!     .body(())
//!     .unwrap();
//! request.extensions_mut().insert(PeerAddr("10.0.0.5:41000".parse().unwrap()));
//! let client = resolver.resolve(&request).unwrap();
//! assert_eq!(client.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
//! assert!(client.is_https());
//!
//! // Straight from the internet: the same headers are ignored.
//! request.extensions_mut().insert(PeerAddr("192.0.2.1:5000".parse().unwrap()));
//! let client = resolver.resolve(&request).unwrap();
//! assert_eq!(client.ip, "192.0.2.1".parse::<IpAddr>().unwrap());
//! assert!(!client.is_https());
//! ```

mod forwarded;
mod grouping;
mod resolver;
mod trusted_proxies;

pub use grouping::IpGrouping;
pub use resolver::{ClientAddr, ClientIpResolver, ForwardedHeader, PeerAddr, Scheme};
pub use trusted_proxies::TrustedProxies;

/// An invalid client-IP configuration, reported when it is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A trusted-proxy entry is neither an IP address nor a CIDR network.
    #[error("invalid trusted proxy `{value}`: expected an IP address or CIDR such as 10.0.0.0/8")]
    InvalidCidr {
        /// The entry as written.
        value: String,
        /// Why it did not parse.
        #[source]
        source: ipnet::AddrParseError,
    },
    /// A grouping prefix is longer than the address.
    #[error("an {family} prefix can be at most {max} bits, got /{prefix}")]
    PrefixTooLong {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The prefix asked for.
        prefix: u8,
        /// The longest prefix of that family.
        max: u8,
    },
}

/// Turns an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) into the IPv4 address it
/// carries, so dual-stack sockets and configuration agree.
pub(crate) fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    }
}
