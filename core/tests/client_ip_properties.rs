//! Forwarding headers are attacker-controlled bytes: resolution must never panic, and
//! an untrusted peer must always be the answer whatever the headers say.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderValue, Request};
use portcullis_core::client_ip::{ClientIpResolver, ForwardedHeader, PeerAddr, TrustedProxies};
use proptest::prelude::*;

fn request_with(peer: SocketAddr, headers: &[(&'static str, Vec<u8>)]) -> Request<()> {
    let mut request = Request::new(());
    for (name, bytes) in headers {
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            request.headers_mut().append(*name, value);
        }
    }
    request.extensions_mut().insert(PeerAddr(peer));
    request
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[0-9a-f:.,; \\[\\]\"=_a-zA-Z]{0,64}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn never_panics_and_untrusted_peer_wins(
        xff in header_bytes(),
        forwarded in header_bytes(),
        proto in header_bytes(),
        peer_trusted in any::<bool>(),
        use_forwarded in any::<bool>(),
    ) {
        let peer: SocketAddr = if peer_trusted { "10.0.0.1:80" } else { "203.0.113.5:80" }
            .parse()
            .unwrap();
        let request = request_with(
            peer,
            &[("x-forwarded-for", xff), ("forwarded", forwarded), ("x-forwarded-proto", proto)],
        );
        let header = if use_forwarded { ForwardedHeader::Forwarded } else { ForwardedHeader::XForwardedFor };
        let resolver = ClientIpResolver::new(TrustedProxies::parse("10.0.0.0/8").unwrap())
            .with_header(header);
        let client = resolver.resolve(&request).expect("peer present");
        if !peer_trusted {
            prop_assert_eq!(client.ip, peer.ip());
            prop_assert!(!client.forwarded);
            prop_assert_eq!(client.scheme, None);
        }
        let _ = resolver.scheme(&request);
    }

    #[test]
    fn right_most_untrusted_hop_is_chosen(
        spoofed in proptest::collection::vec(any::<[u8; 4]>(), 0..4),
        client in any::<[u8; 4]>().prop_filter("outside 10/8", |b| b[0] != 10),
        proxies in proptest::collection::vec(any::<[u8; 3]>(), 0..4),
    ) {
        let mut hops: Vec<String> = spoofed.iter().map(|b| IpAddr::from(*b).to_string()).collect();
        hops.push(IpAddr::from(client).to_string());
        hops.extend(proxies.iter().map(|b| IpAddr::from([10, b[0], b[1], b[2]]).to_string()));
        let request = request_with(
            "10.9.9.9:1".parse().unwrap(),
            &[("x-forwarded-for", hops.join(", ").into_bytes())],
        );
        let resolver = ClientIpResolver::new(TrustedProxies::parse("10.0.0.0/8").unwrap());
        prop_assert_eq!(resolver.resolve(&request).unwrap().ip, IpAddr::from(client));
    }
}
