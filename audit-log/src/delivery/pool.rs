use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::Method;

use crate::record::{Principal, Record, RequestInfo};
use crate::request_id::RequestId;

/// The most records kept for reuse.
const CAPACITY: usize = 1_024;

/// Past this much string and header capacity, a request's info is not kept.
const MAX_KEPT_BYTES: usize = 8 * 1024;

/// Written records, kept for the request path to fill anew instead of allocating.
///
/// A request allocates two records, their shared [`RequestInfo`] and the info's
/// strings on a request thread; a writer thread would free them. Besides the
/// allocations themselves, with a thread-caching allocator (glibc's `malloc`, the
/// default on Linux) memory freed on another thread does not go back to the
/// allocating thread's cache: every allocation on the request path then takes the
/// slow path and contends with the writer for the arena's lock. So writers hand
/// written records back here:
///
/// - the last record of a request, whose info no other record holds, keeps its
///   info: the next request fills both in place for its `request` record, reusing
///   the strings' buffers;
/// - a record whose info is still held elsewhere (the `request` record, while its
///   closing record is queued) lets go of it for a shared blank one, and becomes
///   the closing record of a later request.
///
/// In the steady state a request allocates nothing for its records. Every field of
/// a reused record and info is overwritten (`Record::renew`, and filling the
/// request's info names every field), so nothing of the previous request shows.
#[derive(Debug)]
pub(crate) struct RecordPool {
    kept: Mutex<Kept>,
    /// The info of the records in `Kept::bare`.
    blank: Arc<RequestInfo>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Records with an info of their own, for `request` records.
    whole: VecDeque<Arc<Record>>,
    /// Records holding `blank`, for closing records.
    bare: VecDeque<Arc<Record>>,
}

/// What a writer does with a written record.
pub(crate) enum Spent {
    /// Reusable with its info.
    Whole(Arc<Record>),
    /// Reusable without its info.
    Bare(Arc<Record>),
    /// Still held elsewhere (by another sink's writer): left to it.
    Held,
}

impl RecordPool {
    pub(crate) fn new() -> Self {
        let id = RequestId::parse("-").unwrap_or_else(RequestId::generate);
        Self {
            kept: Mutex::default(),
            blank: Arc::new(RequestInfo::new(id, Method::GET, String::new())),
        }
    }

    /// A record whose info no one else holds, to fill for a new request's `request`
    /// record; never waits for the lock.
    pub(crate) fn take_whole(&self) -> Option<Arc<Record>> {
        self.kept.try_lock().ok()?.whole.pop_front()
    }

    /// A record to fill as a closing record of `request` (its info); never waits
    /// for the lock.
    pub(crate) fn take_bare(&self, request: &Arc<RequestInfo>) -> Option<Arc<Record>> {
        let mut record = self.kept.try_lock().ok()?.bare.pop_front()?;
        Arc::get_mut(&mut record)?.request = request.clone();
        Some(record)
    }

    /// Sorts a written record (writer side). What a kept record holds beyond its
    /// own fields and a bounded info (the response's headers and body, labels,
    /// principal) is freed now rather than kept in the pool.
    pub(crate) fn spend(&self, mut record: Arc<Record>) -> Spent {
        let Some(inner) = Arc::get_mut(&mut record) else {
            return Spent::Held;
        };
        inner.response = None;
        inner.principal = Principal::default();
        inner.labels.clear();
        match Arc::get_mut(&mut inner.request) {
            Some(info) if kept_bytes(info) <= MAX_KEPT_BYTES => Spent::Whole(record),
            _ => {
                inner.request = self.blank.clone();
                Spent::Bare(record)
            }
        }
    }

    /// Keeps these records up to the capacity; frees the rest.
    pub(crate) fn give(&self, whole: &mut Vec<Arc<Record>>, bare: &mut Vec<Arc<Record>>) {
        if let Ok(mut kept) = self.kept.lock() {
            let room = CAPACITY.saturating_sub(kept.whole.len());
            kept.whole.extend(whole.drain(..whole.len().min(room)));
            let room = CAPACITY.saturating_sub(kept.bare.len());
            kept.bare.extend(bare.drain(..bare.len().min(room)));
        }
        whole.clear();
        bare.clear();
    }
}

/// Roughly the heap memory `info` holds.
fn kept_bytes(info: &RequestInfo) -> usize {
    let text = |text: &Option<String>| text.as_ref().map_or(0, String::capacity);
    let headers: usize = info
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.capacity())
        .sum();
    let body = info
        .body
        .as_ref()
        .map_or(0, |body| text(&body.content) + text(&body.hash));
    info.path.capacity()
        + text(&info.query)
        + text(&info.user_agent)
        + info.headers.capacity() * std::mem::size_of::<(http::HeaderName, String)>()
        + headers
        + body
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    use http::{Request, Response};
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::layer::AuditLayer;
    use crate::level::Level;
    use crate::sink::{Batch, CallbackSink};

    fn record(body: usize) -> Arc<Record> {
        let id = RequestId::parse("r").unwrap();
        let mut info = RequestInfo::new(id, Method::GET, "/");
        info.body = Some(crate::record::BodyCapture {
            content: Some("x".repeat(body)),
            ..Default::default()
        });
        let mut record = Record::new(crate::record::Phase::Response, Arc::new(info), UNIX_EPOCH);
        record.label("k", "v".repeat(1_000));
        record.response = Some(crate::record::ResponseInfo::default());
        Arc::new(record)
    }

    #[test]
    fn written_records_are_sorted_and_kept_small() {
        let pool = RecordPool::new();
        let Spent::Whole(kept) = pool.spend(record(10)) else {
            panic!("a small record of its own is kept whole")
        };
        assert!(kept.labels.is_empty() && kept.response.is_none());
        let Spent::Bare(bare) = pool.spend(record(MAX_KEPT_BYTES)) else {
            panic!("a large info is not kept")
        };
        assert!(Arc::ptr_eq(&bare.request, &pool.blank));
        let shared = record(10);
        let _other_sink = shared.clone();
        assert!(matches!(pool.spend(shared), Spent::Held));
        let info_held = record(10);
        let _closing = Record::new(
            crate::record::Phase::Request,
            info_held.request.clone(),
            UNIX_EPOCH,
        );
        assert!(matches!(pool.spend(info_held), Spent::Bare(_)));
    }

    #[tokio::test]
    async fn a_reused_record_keeps_nothing_of_the_previous_request() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let kept = lines.clone();
        let sink = CallbackSink::new(move |batch: &Batch<'_>| {
            let mut kept = kept.lock().unwrap();
            kept.extend(batch.lines().map(|line| line.json.to_owned()));
            Ok(())
        });
        let layer = AuditLayer::new().level(Level::Request).sink(sink);
        let handle = layer.handle();
        let service = tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(
                |_: Request<crate::body::AuditBody<String>>| async {
                    Ok::<_, Infallible>(Response::new(String::new()))
                },
            ));
        let first = Request::post("/first/path?token=secret&page=1")
            .header("user-agent", "first-agent")
            .header("x-request-id", "first")
            .header("content-type", "application/json")
            .body(String::from(r#"{"a":1}"#))
            .unwrap();
        service.clone().oneshot(first).await.unwrap();
        handle.flush().await.unwrap();
        let second = Request::get("/2")
            .header("x-request-id", "second")
            .body(String::new())
            .unwrap();
        service.clone().oneshot(second).await.unwrap();
        handle.flush().await.unwrap();
        handle.shutdown().await.unwrap();

        let lines = lines.lock().unwrap();
        let records: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 4);
        let second = &records[2];
        // No peer, so no trusted proxy: the client's id is kept apart.
        assert_eq!(second["portcullis"]["client_request_id"], "second");
        let id = second["http"]["request"]["id"].as_str().unwrap();
        assert_eq!(second["event"]["id"], format!("{id}:request"));
        assert_eq!(second["url"], serde_json::json!({"path": "/2"}));
        assert!(second.get("user_agent").is_none(), "{second}");
        assert_eq!(
            second["http"]["request"]["headers"],
            serde_json::json!({"x-request-id": "second"})
        );
        assert_eq!(
            second["http"]["request"]["body"],
            serde_json::json!({"bytes": 0, "truncated": false})
        );
        assert_eq!(records[3]["event"]["id"], format!("{id}:response"));
        assert!(!lines[2..].iter().any(|line| line.contains("first")));
    }
}
