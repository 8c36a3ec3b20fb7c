//! The verdict on a request: a preflight's answer, whether an actual request passes
//! and which CORS headers its response gets, and every 403. The service carries it
//! out; its future decorates the inner response or makes the answer.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use portcullis_core::grpc::is_grpc_request;

use super::config::Config;
use super::rejection::CorsRejection;

/// The `code` of the problem answered to a refused preflight.
pub const PREFLIGHT_REJECTED: &str = "CORS_PREFLIGHT_REJECTED";
/// The `code` of the problem answered to a refused actual request (only with
/// [`CorsLayer::reject_disallowed_origins`](super::CorsLayer::reject_disallowed_origins)).
pub const ORIGIN_REJECTED: &str = "CORS_ORIGIN_REJECTED";

const VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);
const VARY_PREFLIGHT_ANY_ORIGIN: HeaderValue =
    HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ANY: HeaderValue = HeaderValue::from_static("*");
const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// How much of a refused value a development 403 quotes.
const MAX_QUOTED: usize = 200;

/// What to add to the inner service's response.
#[derive(Debug)]
pub(crate) enum Decorate {
    Nothing,
    Vary,
    Allow {
        origin: HeaderValue,
        credentials: bool,
        expose: Option<HeaderValue>,
        vary: bool,
    },
}

/// A response the layer makes itself.
#[derive(Debug)]
pub(crate) enum Answer {
    /// An allowed preflight: 204 with these headers.
    Preflight(HeaderMap),
    /// A 403, the problem made when polled (it keeps the future small).
    Reject {
        code: &'static str,
        title: &'static str,
        detail: Option<String>,
        reason: CorsRejection,
        grpc: bool,
    },
}

/// What the service does with a request: pass it on (and what to add to the
/// response), or answer it here.
pub(crate) enum Verdict {
    Pass(Decorate),
    Answer(Answer),
}

/// The verdict on `request`: a preflight is answered here, an actual request passes
/// (refused origins with a 403 only under `reject_disallowed_origins`).
pub(crate) fn decide<B>(config: &Config, request: &Request<B>) -> Verdict {
    let headers = request.headers();
    let Some(origin) = headers.get(ORIGIN) else {
        let decorate = if config.any_origin {
            Decorate::Nothing
        } else {
            Decorate::Vary
        };
        return Verdict::Pass(decorate);
    };

    if request.method() == Method::OPTIONS
        && let Some(method) = headers.get(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Verdict::Answer(preflight(config, origin, method, headers));
    }

    let decorate = match allowed_origin(config, origin) {
        Some(allowed) => Decorate::Allow {
            origin: allowed,
            credentials: config.credentials,
            expose: config.expose.header_value().cloned(),
            vary: !config.any_origin,
        },
        None if config.reject_disallowed && !is_same_origin(headers) => {
            return Verdict::Answer(reject(
                config,
                headers,
                ORIGIN_REJECTED,
                "Cross-origin request rejected",
                CorsRejection::Origin,
                origin.as_bytes(),
            ));
        }
        None => Decorate::Vary,
    };
    Verdict::Pass(decorate)
}

/// The `Access-Control-Allow-Origin` value for an allowed origin.
fn allowed_origin(config: &Config, origin: &HeaderValue) -> Option<HeaderValue> {
    if config.any_origin {
        Some(ANY)
    } else {
        config.origins.allow(origin)
    }
}

/// Whether a browser says the request comes from the server's own origin (a
/// forbidden request header: scripts cannot set it).
fn is_same_origin(headers: &HeaderMap) -> bool {
    headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"same-origin"))
}

fn preflight(
    config: &Config,
    origin: &HeaderValue,
    method: &HeaderValue,
    headers: &HeaderMap,
) -> Answer {
    let refuse = |reason, value: &[u8]| {
        reject(
            config,
            headers,
            PREFLIGHT_REJECTED,
            "CORS preflight rejected",
            reason,
            value,
        )
    };
    let Some(allow_origin) = allowed_origin(config, origin) else {
        return refuse(CorsRejection::Origin, origin.as_bytes());
    };
    if !config.methods.allows(method.as_bytes()) {
        return refuse(CorsRejection::Method, method.as_bytes());
    }
    if let Some(header) = config
        .headers
        .first_refused(headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS))
    {
        return refuse(CorsRejection::Header, header);
    }

    // Exactly as many entries as inserted below: one allocation, no growth.
    let entries = 3
        + usize::from(config.headers.header_value().is_some())
        + usize::from(config.max_age.is_some())
        + usize::from(config.credentials)
        + usize::from(config.private_network);
    let mut answer = HeaderMap::with_capacity(entries);
    answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    answer.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        config.methods.header_value().clone(),
    );
    if let Some(allow_headers) = config.headers.header_value() {
        answer.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers.clone());
    }
    if let Some(max_age) = &config.max_age {
        answer.insert(ACCESS_CONTROL_MAX_AGE, max_age.header_value().clone());
    }
    if config.credentials {
        answer.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
    }
    if config.private_network
        && headers
            .get(REQUEST_PRIVATE_NETWORK)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        answer.insert(ALLOW_PRIVATE_NETWORK, TRUE);
    }
    answer.insert(
        VARY,
        if config.any_origin {
            VARY_PREFLIGHT_ANY_ORIGIN
        } else {
            VARY_PREFLIGHT
        },
    );
    Answer::Preflight(answer)
}

fn reject(
    config: &Config,
    headers: &HeaderMap,
    code: &'static str,
    title: &'static str,
    reason: CorsRejection,
    value: &[u8],
) -> Answer {
    Answer::Reject {
        code,
        title,
        detail: config.detailed_rejections.then(|| detail(reason, value)),
        reason,
        grpc: is_grpc_request(headers),
    }
}

/// The development detail: what was refused, quoted (and cut short).
fn detail(reason: CorsRejection, value: &[u8]) -> String {
    let quoted = String::from_utf8_lossy(&value[..value.len().min(MAX_QUOTED)]);
    match reason {
        CorsRejection::Origin => format!("The origin `{quoted}` is not allowed."),
        CorsRejection::Method => format!("The method `{quoted}` is not allowed."),
        CorsRejection::Header => format!("The request header `{quoted}` is not allowed."),
    }
}
