//! Building the parts of a record from a request or response.

use http::{Extensions, HeaderMap, HeaderName, Request, header};

use super::layer::Config;
use crate::level::Level;
use crate::record::{BodyCapture, RateLimitInfo, RequestInfo};
use crate::redact::Redactor;
use crate::request_id::RequestId;

/// The longest path and user agent recorded, in bytes.
const MAX_FIELD: usize = 4096;

fn bounded(text: &str) -> String {
    if text.len() <= MAX_FIELD {
        return text.to_owned();
    }
    let mut cut = MAX_FIELD;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

pub(crate) fn request_info<B>(
    config: &Config,
    request: &Request<B>,
    id: RequestId,
    level: Level,
) -> RequestInfo {
    let uri = request.uri();
    let mut info = RequestInfo::new(id, request.method().clone(), bounded(uri.path()));
    info.level = level;
    info.query = uri.query().map(|query| config.redactor.redact_query(query));
    info.source_ip = config.resolver.resolve(request).map(|client| client.ip);
    info.user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .map(|agent| match agent.to_str() {
            Ok(text) => bounded(&config.redactor.redact_text(text)),
            Err(_) => config.redactor.hash_bytes(agent.as_bytes()),
        });
    if level >= Level::Request {
        info.headers = headers(&config.redactor, request.headers());
    }
    info
}

pub(crate) fn headers(redactor: &Redactor, headers: &HeaderMap) -> Vec<(HeaderName, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.clone(), redactor.redact_header(name, value)))
        .collect()
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A captured body, redacted by its media type.
pub(crate) fn body(
    config: &Config,
    headers: &HeaderMap,
    bytes: &[u8],
    truncated: bool,
) -> BodyCapture {
    let redactor = &config.redactor;
    let mut capture = BodyCapture {
        bytes: bytes.len() as u64,
        truncated,
        ..BodyCapture::default()
    };
    if bytes.is_empty() {
        return capture;
    }
    let media = media_type(headers);
    let complete = !truncated;
    if complete
        && (media == "application/json" || media.ends_with("+json"))
        && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        redactor.redact_json(&mut value);
        capture.content = Some(value.to_string());
        return capture;
    }
    if complete
        && media == "application/x-www-form-urlencoded"
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        capture.content = Some(redactor.redact_query(text));
        return capture;
    }
    if config.raw_bodies {
        let text = String::from_utf8_lossy(bytes);
        capture.content = Some(redactor.redact_text(&text).into_owned());
    } else {
        capture.hash = Some(redactor.hash_bytes(bytes));
    }
    capture
}

/// The rate limiter's decision in these extensions.
#[cfg(feature = "rate-limit")]
pub(crate) fn rate_limit(extensions: &Extensions) -> Option<RateLimitInfo> {
    use portcullis_rate_limit::decision::{Decision, Degraded};
    if let Some(decision) = extensions.get::<Decision>() {
        return Some(RateLimitInfo {
            plan: Some(decision.plan().name().to_owned()),
            allowed: Some(decision.allowed()),
            violated: decision
                .violated()
                .map(|quota| quota.name().to_owned())
                .collect(),
            degraded: decision.degraded().map(|mode| mode.as_str().to_owned()),
            shadow: decision.shadow(),
        });
    }
    extensions.get::<Degraded>().map(|mode| RateLimitInfo {
        degraded: Some(mode.as_str().to_owned()),
        ..RateLimitInfo::default()
    })
}

/// Without feature `rate-limit`, nothing is known of rate limits.
#[cfg(not(feature = "rate-limit"))]
pub(crate) fn rate_limit(_: &Extensions) -> Option<RateLimitInfo> {
    None
}
