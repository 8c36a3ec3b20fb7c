//! Client IP resolution over arbitrary `Forwarded`, `X-Forwarded-For` and
//! `X-Forwarded-Proto` values (`ClientIpResolver::resolve_parts`).
//!
//! Properties, for both header modes:
//! - from an untrusted peer the headers are ignored: the client is the peer, not
//!   forwarded, with the URI's scheme;
//! - the resolved address is canonical (never an IPv4-mapped IPv6 address);
//! - not forwarded means the peer itself; forwarded means the peer is trusted and the
//!   address is one written in the header that mode reads (every token of IP
//!   characters in it is collected, ports and brackets stripped, as a superset);
//! - a scheme comes from a proto element, or from the URI: `https` is claimed only if
//!   the URI or a header value says `https` or `wss`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use http::header::{FORWARDED, HeaderName};
use http::{HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use portcullis_core::client_ip::{ClientIpResolver, ForwardedHeader, Scheme, TrustedProxies};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    peer: [u8; 4],
    peer_v6: Option<[u8; 16]>,
    forwarded_mode: bool,
    https_uri: bool,
    headers: Vec<(u8, &'a [u8])>,
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Every address the header values could be read as.
fn addresses_in(values: &[&[u8]]) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for value in values {
        let text = String::from_utf8_lossy(value);
        for token in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
            if let Ok(ip) = token.parse::<IpAddr>() {
                found.push(canonical(ip));
            }
            if let Some((host, _)) = token.rsplit_once(':')
                && let Ok(ip) = host.parse::<Ipv4Addr>()
            {
                found.push(IpAddr::V4(ip));
            }
        }
    }
    found
}

fuzz_target!(|input: Input<'_>| {
    let names = [
        HeaderName::from_static("x-forwarded-for"),
        HeaderName::from_static("x-forwarded-proto"),
        FORWARDED,
    ];
    let mut headers = HeaderMap::new();
    for (which, value) in &input.headers {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(names[usize::from(*which) % names.len()].clone(), value);
        }
    }
    let peer = match input.peer_v6 {
        Some(octets) => IpAddr::V6(Ipv6Addr::from(octets)),
        None => IpAddr::V4(Ipv4Addr::from(input.peer)),
    };
    let uri: Uri = if input.https_uri {
        Uri::from_static("https://example.com/")
    } else {
        Uri::from_static("/")
    };
    let uri_scheme = input.https_uri.then_some(Scheme::Https);
    let mode = if input.forwarded_mode {
        ForwardedHeader::Forwarded
    } else {
        ForwardedHeader::XForwardedFor
    };
    // Everything trusted, nothing trusted, and a mix.
    let trust_lists = ["0.0.0.0/0, ::/0", "", "10.0.0.0/8, 127.0.0.0/8, fd00::/8"];
    for list in trust_lists {
        let trusted = TrustedProxies::parse(list).unwrap();
        let resolver = ClientIpResolver::new(trusted.clone()).with_header(mode);
        let client = resolver.resolve_parts(peer, &headers, &uri);
        assert_eq!(canonical(client.ip), client.ip, "not canonical: {client:?}");
        if !trusted.contains(canonical(peer)) {
            assert_eq!(client.ip, canonical(peer));
            assert!(!client.forwarded);
            assert_eq!(client.scheme, uri_scheme);
            continue;
        }
        let read = match mode {
            ForwardedHeader::Forwarded => &names[2],
            _ => &names[0],
        };
        let values: Vec<&[u8]> = headers.get_all(read).iter().map(HeaderValue::as_bytes).collect();
        if client.forwarded {
            assert!(
                addresses_in(&values).contains(&client.ip),
                "{:?} is in no header value of {read}: {values:?}",
                client.ip
            );
        } else {
            assert_eq!(client.ip, canonical(peer));
        }
        if client.scheme == Some(Scheme::Https) && !input.https_uri {
            let claimed = headers.iter().any(|(_, value)| {
                let lower = value.as_bytes().to_ascii_lowercase();
                lower.windows(5).any(|w| w == b"https") || lower.windows(3).any(|w| w == b"wss")
            });
            assert!(claimed, "https from nowhere: {headers:?}");
        }
    }
});
