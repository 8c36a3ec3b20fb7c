//! Reading the hops of `Forwarded` (RFC 7239) and `X-Forwarded-For`, right to left.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};

/// A header line that is not visible ASCII reads as one unknown hop, which stops a walk.
const UNREADABLE: &str = "unknown";

pub(super) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(super) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// One forwarding hop: the address a proxy saw (`None` when hidden, `unknown` or
/// unparsable) and, in `Forwarded`, the scheme it was reached by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hop<'a> {
    pub(super) ip: Option<IpAddr>,
    pub(super) proto: Option<&'a str>,
}

fn list_right_to_left<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or(UNREADABLE).rsplit(','))
        .map(str::trim)
        .filter(|element| !element.is_empty())
}

/// The `X-Forwarded-For` hops, right-most first.
pub(super) fn x_forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = Hop<'_>> {
    list_right_to_left(headers, &X_FORWARDED_FOR).map(|node| Hop {
        ip: parse_node(node),
        proto: None,
    })
}

/// The `Forwarded` elements, right-most first.
pub(super) fn forwarded(headers: &HeaderMap) -> impl Iterator<Item = Hop<'_>> {
    list_right_to_left(headers, &FORWARDED).map(parse_element)
}

/// The `X-Forwarded-Proto` value written for the hop `index` places from the right, or
/// the left-most value when proxies did not append one each (the usual single value
/// written by the edge proxy).
pub(super) fn x_forwarded_proto(headers: &HeaderMap, index: usize) -> Option<&str> {
    let mut values = list_right_to_left(headers, &X_FORWARDED_PROTO);
    let mut last = None;
    for (position, value) in values.by_ref().enumerate() {
        if position == index {
            return Some(value);
        }
        last = Some(value);
    }
    last
}

fn parse_element(element: &str) -> Hop<'_> {
    let mut hop = Hop {
        ip: None,
        proto: None,
    };
    for pair in element.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("for") {
            hop.ip = parse_node(value);
        } else if name.eq_ignore_ascii_case("proto") {
            hop.proto = Some(unquote(value));
        }
    }
    hop
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// Parses a node: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]:8080`,
/// optionally quoted. Obfuscated identifiers and `unknown` give `None`.
pub(super) fn parse_node(node: &str) -> Option<IpAddr> {
    let node = unquote(node.trim());
    if let Some(bracketed) = node.strip_prefix('[') {
        let (address, rest) = bracketed.split_once(']')?;
        if !(rest.is_empty() || rest.starts_with(':')) {
            return None;
        }
        return address.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = node.rsplit_once(':')?;
    let port_ok =
        !port.is_empty() && (port.bytes().all(|b| b.is_ascii_digit()) || port.starts_with('_'));
    if !port_ok {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn node_forms_from_rfc_7239() {
        assert_eq!(parse_node("192.0.2.43"), ip("192.0.2.43"));
        assert_eq!(parse_node("\"192.0.2.43:47011\""), ip("192.0.2.43"));
        assert_eq!(
            parse_node("\"[2001:db8:cafe::17]:4711\""),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(parse_node("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(parse_node("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(parse_node("192.0.2.43:_hidden"), ip("192.0.2.43"));
        assert_eq!(parse_node("unknown"), None);
        assert_eq!(parse_node("_hidden"), None);
        assert_eq!(parse_node("[2001:db8::1]junk"), None);
        assert_eq!(parse_node("192.0.2.43:"), None);
        assert_eq!(parse_node(""), None);
    }

    #[test]
    fn forwarded_elements_across_lines_right_to_left() {
        let mut headers = HeaderMap::new();
        headers.append(
            FORWARDED,
            HeaderValue::from_static("for=192.0.2.60;proto=http;by=203.0.113.43"),
        );
        headers.append(
            FORWARDED,
            HeaderValue::from_static(
                "For=\"[2001:db8:cafe::17]:4711\";Proto=\"https\", for=10.0.0.1",
            ),
        );
        let hops: Vec<_> = forwarded(&headers).collect();
        assert_eq!(hops.len(), 3);
        assert_eq!(hops[0].ip, ip("10.0.0.1"));
        assert_eq!(hops[1].ip, ip("2001:db8:cafe::17"));
        assert_eq!(hops[1].proto, Some("https"));
        assert_eq!(hops[2].ip, ip("192.0.2.60"));
        assert_eq!(hops[2].proto, Some("http"));
    }

    #[test]
    fn unreadable_lines_are_one_unknown_hop() {
        let mut headers = HeaderMap::new();
        headers.append(
            &X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff\xfe, 1.2.3.4").unwrap(),
        );
        let hops: Vec<_> = x_forwarded_for(&headers).collect();
        assert_eq!(
            hops,
            vec![Hop {
                ip: None,
                proto: None
            }]
        );
    }

    #[test]
    fn proto_aligned_with_hop_or_left_most() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https, http"));
        assert_eq!(x_forwarded_proto(&headers, 0), Some("http"));
        assert_eq!(x_forwarded_proto(&headers, 1), Some("https"));
        assert_eq!(x_forwarded_proto(&headers, 5), Some("https"));
        assert_eq!(x_forwarded_proto(&HeaderMap::new(), 0), None);
    }
}
