//! Merging `Origin` into the handler's `Vary` header.

use http::header::VARY;
use http::{HeaderMap, HeaderValue};

/// Adds `Origin` to `Vary`: inserted when absent, merged into the handler's value
/// otherwise (one header line, never a duplicate token), left alone when the
/// handler already varies on `*` or on `Origin`.
pub(crate) fn add_origin(headers: &mut HeaderMap) {
    let mut existing = headers.get_all(VARY).iter().peekable();
    if existing.peek().is_none() {
        headers.insert(VARY, HeaderValue::from_static("Origin"));
        return;
    }
    let mut merged: Vec<u8> = Vec::new();
    for value in existing {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token == b"*" || token.eq_ignore_ascii_case(b"origin") {
                return;
            }
            if !token.is_empty() {
                if !merged.is_empty() {
                    merged.extend_from_slice(b", ");
                }
                merged.extend_from_slice(token);
            }
        }
    }
    if !merged.is_empty() {
        merged.extend_from_slice(b", ");
    }
    merged.extend_from_slice(b"Origin");
    match HeaderValue::from_maybe_shared(bytes::Bytes::from(merged)) {
        Ok(value) => {
            headers.insert(VARY, value);
        }
        // Bytes that are not valid in a header value cannot come from a valid header,
        // but never panic: add a line of our own instead.
        Err(_) => {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&'static str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for value in existing {
            headers.append(VARY, HeaderValue::from_static(value));
        }
        add_origin(&mut headers);
        headers
            .get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn merges_without_duplicates() {
        assert_eq!(vary_after(&[]), ["Origin"]);
        assert_eq!(
            vary_after(&["Accept-Encoding"]),
            ["Accept-Encoding, Origin"]
        );
        assert_eq!(
            vary_after(&["accept-encoding", "Accept"]),
            ["accept-encoding, Accept, Origin"]
        );
        assert_eq!(vary_after(&["origin"]), ["origin"]);
        assert_eq!(vary_after(&["Accept, ORIGIN"]), ["Accept, ORIGIN"]);
        assert_eq!(vary_after(&["*"]), ["*"]);
        assert_eq!(vary_after(&[""]), ["Origin"]);
    }
}
