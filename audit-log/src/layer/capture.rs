//! Building the parts of a record from a request or response.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use http::{Extensions, HeaderMap, HeaderName, Request, header};

use super::layer::Config;
use crate::delivery::RecordPool;
use crate::level::Level;
use crate::record::{BodyCapture, Phase, RateLimitInfo, Record, RequestInfo};
use crate::redact::Redactor;
use crate::request_id::RequestId;
use crate::trace_context::TraceContext;

/// The longest path and user agent recorded, in bytes.
const MAX_FIELD: usize = 4096;

/// `text` cut to [`MAX_FIELD`] bytes (on a character boundary), into `out`.
fn set_bounded(out: &mut String, text: &str) {
    out.clear();
    out.push_str(&text[..bounded_len(text, MAX_FIELD)]);
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn bounded_len(text: &str, max: usize) -> usize {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The `request` record of `request` (its timestamp, principal and labels still to
/// set), filling a record of the pool when it has one.
pub(crate) fn request_record<B>(
    config: &Config,
    pool: Option<&RecordPool>,
    request: &Request<B>,
    (id, client_request_id): (RequestId, Option<RequestId>),
    level: Level,
) -> Arc<Record> {
    if let Some(mut record) = pool.and_then(RecordPool::take_whole)
        && let Some(info) = Arc::get_mut(&mut record).and_then(|r| Arc::get_mut(&mut r.request))
    {
        info.id = id;
        info.client_request_id = client_request_id;
        fill_request_info(config, request, level, info);
        return record;
    }
    let mut info = RequestInfo::new(id, request.method().clone(), String::new());
    info.client_request_id = client_request_id;
    fill_request_info(config, request, level, &mut info);
    Arc::new(Record::new(Phase::Request, Arc::new(info), UNIX_EPOCH))
}

/// Sets every field of `info` but the ids from `request`, reusing its buffers.
fn fill_request_info<B>(
    config: &Config,
    request: &Request<B>,
    level: Level,
    info: &mut RequestInfo,
) {
    // Naming every field: a field added to `RequestInfo` must be set here too.
    let RequestInfo {
        id: _,
        method,
        path,
        query,
        source_ip,
        user_agent,
        headers: recorded_headers,
        body,
        level: recorded_level,
        client_request_id: _,
        trace,
    } = info;
    let redactor = &*config.redactor;
    let uri = request.uri();
    match redactor.redact_method(request.method()) {
        Some(redacted) => *method = redacted,
        None => method.clone_from(request.method()),
    }
    // Redacted before it is cut, so that no secret is cut into a shape nobody knows.
    path.clear();
    redactor.redact_path_into(uri.path(), path);
    path.truncate(bounded_len(path, MAX_FIELD));
    match uri.query() {
        Some(text) => {
            let out = query.get_or_insert_with(String::new);
            out.clear();
            config.redactor.redact_query_into(text, out);
        }
        None => *query = None,
    }
    *source_ip = config.resolver.resolve(request).map(|client| client.ip);
    *trace = TraceContext::from_headers(request.headers());
    match request.headers().get(header::USER_AGENT) {
        Some(agent) => {
            let out = user_agent.get_or_insert_with(String::new);
            match agent.to_str() {
                Ok(text) => set_bounded(out, &config.redactor.redact_text(text)),
                Err(_) => {
                    out.clear();
                    out.push_str(&config.redactor.hash_bytes(agent.as_bytes()));
                }
            }
        }
        None => *user_agent = None,
    }
    recorded_headers.clear();
    if level >= Level::Request {
        recorded_headers.extend(headers_of(&config.redactor, request.headers()));
    }
    *body = None;
    *recorded_level = level;
}

pub(crate) fn headers(redactor: &Redactor, headers: &HeaderMap) -> Vec<(HeaderName, String)> {
    headers_of(redactor, headers).collect()
}

fn headers_of<'a>(
    redactor: &'a Redactor,
    headers: &'a HeaderMap,
) -> impl Iterator<Item = (HeaderName, String)> + 'a {
    headers.iter().map(|(name, value)| {
        (
            redactor.redact_header_name(name),
            redactor.redact_header(name, value),
        )
    })
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
    // JSON deeper than `serde_json`'s recursion limit (128) is not parsed: it is
    // recorded as its hash, as any body that is not JSON.
    if complete
        && (media == "application/json" || media.ends_with("+json"))
        && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        redactor.redact_json(&mut value);
        let content = value.to_string();
        if !redactor.has_secret(&content) {
            capture.content = Some(content);
            return capture;
        }
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
        // A body cut at the cap may end inside a secret, too short then to be known
        // by its shape: its last word goes.
        let text = if truncated {
            let last_word = text
                .bytes()
                .rev()
                .take_while(|&byte| byte.is_ascii_alphanumeric() || b"-._~+/=:".contains(&byte))
                .count();
            &text[..text.len() - last_word]
        } else {
            &text[..]
        };
        capture.content = Some(redactor.redact_text(text).into_owned());
    } else {
        capture.hash = Some(redactor.hash_bytes(bytes));
    }
    capture
}

/// Redacts by value what enrichers, handlers and inner layers put into a record:
/// the principal, the labels and the rejection code.
pub(crate) fn scrub(redactor: &Redactor, record: &mut Record) {
    let redact = |text: &mut String| {
        if let Cow::Owned(redacted) = redactor.redact_secrets(text) {
            *text = redacted;
        }
    };
    let principal = &mut record.principal;
    for field in [
        &mut principal.user_id,
        &mut principal.tenant_id,
        &mut principal.api_key_id,
    ]
    .into_iter()
    .flatten()
    {
        redact(field);
    }
    for (key, value) in &mut record.labels {
        redact(key);
        redact(value);
    }
    if let Some(code) = record
        .response
        .as_mut()
        .and_then(|response| response.rejection_code.as_mut())
    {
        redact(code);
    }
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
