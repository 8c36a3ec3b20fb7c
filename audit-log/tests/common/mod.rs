//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::BodyExt;
use portcullis_audit_log::body::AuditBody;
use portcullis_audit_log::sink::{Batch, CallbackSink, SinkError};
use serde_json::Value;

pub type Lines = Arc<Mutex<Vec<String>>>;

/// A sink keeping every line in memory.
pub fn memory_sink() -> (
    CallbackSink<impl FnMut(&Batch<'_>) -> Result<(), SinkError> + Send + 'static>,
    Lines,
) {
    let lines: Lines = Arc::default();
    let kept = lines.clone();
    let sink = CallbackSink::new(move |batch: &Batch<'_>| {
        let mut kept = kept.lock().unwrap();
        kept.extend(batch.lines().map(|line| line.json.to_owned()));
        Ok(())
    });
    (sink, lines)
}

pub fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The records (not checkpoints) in these files.
pub fn file_records<P: AsRef<Path>>(paths: &[P]) -> Vec<Value> {
    paths
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<Value>(line).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|record| record["event"]["action"] != "checkpoint")
        .collect()
}

/// `audit.log` and its rotated siblings in `dir`.
pub fn audit_files(dir: &Path) -> Vec<PathBuf> {
    portcullis_test_support::files_starting_with(dir, "audit.log")
}

pub fn actions(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|record| record["event"]["action"].as_str().unwrap().to_owned())
        .collect()
}

/// A handler answering 200 with the request body echoed, counting its calls.
pub async fn echo(
    calls: Arc<AtomicUsize>,
    request: Request<AuditBody<String>>,
) -> Result<Response<String>, Infallible> {
    calls.fetch_add(1, Ordering::SeqCst);
    let body = request.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(String::from_utf8(body.to_vec()).unwrap()))
}

pub async fn body_string<B>(body: B) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = body.collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}
