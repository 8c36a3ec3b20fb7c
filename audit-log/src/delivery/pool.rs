use std::sync::{Arc, Mutex};

use crate::record::{Record, RequestInfo};

/// The most records kept for reuse.
const CAPACITY: usize = 512;

/// Past this much string and header capacity, a request's info is not kept.
const MAX_KEPT_BYTES: usize = 8 * 1024;

/// Written records, kept for the request path to fill anew instead of allocating.
///
/// A request allocates a record, its [`RequestInfo`] and the info's strings on a
/// request thread; a writer thread would free them. Besides the allocations
/// themselves, with a thread-caching allocator (glibc's `malloc`, the default on
/// Linux) memory freed on another thread does not go back to the allocating
/// thread's cache: every allocation on the request path then takes the slow path
/// and contends with the writer for the arena's lock. So a writer hands the last
/// record of each request (the one whose info no other record shares) back here,
/// and the next request fills it and its info in place, reusing the strings'
/// buffers: in the steady state a request allocates one record (its closing one)
/// instead of six allocations.
///
/// Every field of a reused record and info is overwritten (`Record::renew`, and
/// filling the request's info names every field), so nothing of the previous
/// request shows.
#[derive(Debug, Default)]
pub(crate) struct RecordPool {
    records: Mutex<Vec<Arc<Record>>>,
}

impl RecordPool {
    /// A record whose info no one else holds, to fill for a new request; never
    /// waits for the lock.
    pub(crate) fn take(&self) -> Option<Arc<Record>> {
        self.records.try_lock().ok()?.pop()
    }

    /// Whether `record` can be reused: no one else holds it or its info, and the
    /// info's buffers are not large.
    pub(crate) fn reusable(record: &mut Arc<Record>) -> bool {
        let Some(record) = Arc::get_mut(record) else {
            return false;
        };
        let Some(info) = Arc::get_mut(&mut record.request) else {
            return false;
        };
        kept_bytes(info) <= MAX_KEPT_BYTES
    }

    /// Keeps `records` (all [`reusable`](Self::reusable)) up to the capacity; frees
    /// the rest.
    pub(crate) fn give(&self, records: &mut Vec<Arc<Record>>) {
        if let Ok(mut kept) = self.records.lock() {
            let room = CAPACITY.saturating_sub(kept.len());
            let take = records.len().min(room);
            kept.extend(records.drain(..take));
        }
        records.clear();
    }
}

fn kept_bytes(info: &RequestInfo) -> usize {
    info.path.capacity()
        + info.query.as_ref().map_or(0, String::capacity)
        + info.user_agent.as_ref().map_or(0, String::capacity)
        + info.headers.capacity() * 64
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    use http::{Request, Response};
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::layer::AuditLayer;
    use crate::level::Level;
    use crate::sink::{Batch, CallbackSink};

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
        assert_eq!(second["event"]["id"], "second:request");
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
        assert_eq!(records[3]["event"]["id"], "second:response");
        assert!(!lines[2..].iter().any(|line| line.contains("first")));
    }
}
