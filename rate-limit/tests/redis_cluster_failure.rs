//! The Redis store on the real Redis Cluster at `REDIS_CLUSTER_URLS` when a node is
//! slow: a node that lost the script gets it back without waiting on any other node.
//!
//! Pausing a node (`CLIENT PAUSE`) stalls every client of it, so these tests live in
//! their own binary and take turns. Every test is
//! `#[ignore = "needs REDIS_CLUSTER_URLS"]`: run them with `-- --include-ignored`.
#![cfg(all(feature = "redis-cluster", feature = "conformance"))]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::Store;
use support::cluster::{
    cluster_nodes, cluster_store, command_calls, keys_on_node, masters, on_node, raw_connection,
};
use support::unique_prefix;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const PAUSE: Duration = Duration::from_millis(2_000);

/// After a restart, a failover or a `SCRIPT FLUSH`, the node holding an identity
/// answers `NOSCRIPT`; the store then sends the script to that node alone (`EVAL`). A
/// keyless `SCRIPT LOAD` would go to every node of the cluster, so the check would wait
/// on the slowest of them (here one paused for 2 s), or fail with an unreachable one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn a_lost_script_comes_back_without_waiting_on_other_nodes() {
    let nodes = cluster_nodes();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prefix = unique_prefix();
    let store = cluster_store(&nodes).await.prefix(prefix.clone());
    let mut connection = raw_connection(&nodes).await;
    let plan = Arc::new(Plan::new("noscript", [Quota::per_minute("minute", 3)]).unwrap());
    let identity = Fingerprint::from_u64(11);
    assert!(store.check(identity, &plan, 1, 0).await.unwrap().allowed());

    let masters = masters(&mut connection).await;
    assert!(masters.len() >= 2, "one master is no cluster: {masters:?}");
    let mut holder = None;
    for master in &masters {
        if !keys_on_node(&mut connection, master, &prefix)
            .await
            .is_empty()
        {
            holder = Some(master.clone());
        }
    }
    let holder = holder.expect("a master holds the identity's key");
    let other = masters.iter().find(|&master| *master != holder).unwrap();
    for master in &masters {
        let () = on_node(&mut connection, master, redis::cmd("SCRIPT").arg("FLUSH")).await;
    }
    let evals = command_calls(&mut connection, &holder, "eval").await;
    let loads = command_calls(&mut connection, &holder, "script|load").await;

    let () = on_node(
        &mut connection,
        other,
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(PAUSE.as_millis() as u64)
            .arg("ALL"),
    )
    .await;
    let started = Instant::now();
    let outcome = store.check(identity, &plan, 1, 0).await;
    let took = started.elapsed();
    // Whatever happened, the other node answers again before the next test.
    tokio::time::sleep(PAUSE.saturating_sub(started.elapsed())).await;
    let outcome = outcome.unwrap();
    assert!(outcome.allowed());
    assert_eq!(outcome.statuses()[0].remaining(), 1, "the check counted");
    assert!(
        took < PAUSE / 2,
        "the check on {holder:?} waited {took:?} on the paused {other:?}"
    );
    assert_eq!(
        command_calls(&mut connection, &holder, "eval").await - evals,
        1,
        "the script came back with one EVAL"
    );
    assert_eq!(
        command_calls(&mut connection, &holder, "script|load").await - loads,
        0,
        "no SCRIPT LOAD"
    );
}
