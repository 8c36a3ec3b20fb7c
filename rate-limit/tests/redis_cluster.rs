//! The Redis store on the real Redis Cluster at `REDIS_CLUSTER_URLS` (comma-separated
//! node URLs; `.ci/redis-cluster` starts one on 127.0.0.1:7000-7002): the conformance
//! suite, an identity's quota keys in one hash slot, identities spread over the
//! masters, two instances sharing one limit, and a `SCRIPT FLUSH` on every node. Every
//! test is `#[ignore = "needs REDIS_CLUSTER_URLS"]`: run them with
//! `-- --include-ignored`.
#![cfg(all(feature = "redis-cluster", feature = "conformance"))]

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use portcullis_rate_limit::algorithm::Algorithm;
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::redis::TimeSource;
use portcullis_rate_limit::store::{Store, conformance};
use redis::AsyncCommands;
use support::cluster::{
    cluster_nodes, cluster_store, key_slot, keys_on_node, masters, on_node, raw_connection,
};
use support::{SHARED_IDENTITY, admitted_by_two, hour_and_day, stored_count, unique_prefix};

fn three_quotas() -> Arc<Plan> {
    Arc::new(
        Plan::new(
            "cluster",
            [
                Quota::per_minute("minute", 10),
                Quota::per_hour("hour", 100).with_algorithm(Algorithm::sliding_window()),
                Quota::per_day("day", 1_000).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn redis_cluster_store_conforms() {
    let nodes = cluster_nodes();
    let connection = cluster_store(&nodes).await;
    conformance::run(|| {
        connection
            .clone()
            .prefix(unique_prefix())
            .time_source(TimeSource::Caller)
    })
    .await;
}

/// A check over several quotas is one script over several keys, which a cluster runs
/// only when they share a slot (else `CROSSSLOT`): the identity's hash tag puts them
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn an_identitys_quota_keys_share_one_slot() {
    let nodes = cluster_nodes();
    let store = cluster_store(&nodes).await.prefix(unique_prefix());
    let mut connection = raw_connection(&nodes).await;
    let plan = three_quotas();
    for identity in [0, 7, 0xdead_beef, u64::MAX] {
        let key = Fingerprint::from_u64(identity);
        let outcome = store.check(key, &plan, 1, 0).await.unwrap();
        assert!(outcome.allowed(), "identity {identity:x}");
        let remaining: Vec<u64> = outcome.statuses().iter().map(|s| s.remaining()).collect();
        assert_eq!(remaining, [9, 99, 999], "identity {identity:x}");
        let mut slots = HashSet::new();
        for index in 0..plan.quotas().len() {
            let quota_key = store.quota_key(key, &plan, index);
            let state: Option<String> = connection.get(&quota_key).await.unwrap();
            assert!(state.is_some(), "{quota_key} was not written");
            slots.insert(key_slot(&mut connection, &quota_key).await);
        }
        assert_eq!(slots.len(), 1, "identity {identity:x}: slots {slots:?}");
        let tag_slot = key_slot(&mut connection, &format!("{{{key}}}")).await;
        assert_eq!(slots.into_iter().next(), Some(tag_slot));
    }
}

/// Each identity's keys live on the master of its slot, so identities spread over the
/// masters: proof that the store runs on a cluster, not on one node of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn identities_spread_over_the_masters() {
    let nodes = cluster_nodes();
    let prefix = unique_prefix();
    let store = cluster_store(&nodes).await.prefix(prefix.clone());
    let mut connection = raw_connection(&nodes).await;
    let plan = three_quotas();
    const IDENTITIES: u64 = 200;
    for identity in 0..IDENTITIES {
        let outcome = store
            .check(Fingerprint::from_u64(identity), &plan, 1, 0)
            .await
            .unwrap();
        assert!(outcome.allowed());
    }
    let masters = masters(&mut connection).await;
    let mut total = 0;
    let mut holding = Vec::new();
    for master in &masters {
        let keys = keys_on_node(&mut connection, master, &prefix).await;
        total += keys.len();
        if !keys.is_empty() {
            holding.push((master.clone(), keys.len()));
        }
    }
    assert_eq!(
        total,
        IDENTITIES as usize * plan.quotas().len(),
        "every key on exactly one master"
    );
    assert!(
        holding.len() >= 2,
        "all {IDENTITIES} identities on one node of {masters:?}: {holding:?}"
    );
}

/// Two "servers" (two cluster connections, two store values) and many tasks each on one
/// identity: exactly the day limit is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn two_instances_admit_exactly_the_limit_on_a_cluster() {
    let nodes = cluster_nodes();
    let prefix = unique_prefix();
    let plan = hour_and_day();
    let instances = [
        Arc::new(cluster_store(&nodes).await.prefix(prefix.clone())),
        Arc::new(cluster_store(&nodes).await.prefix(prefix.clone())),
    ];
    assert_eq!(admitted_by_two(instances.clone(), &plan).await, 700);
    let mut connection = raw_connection(&nodes).await;
    let hour_key = instances[0].quota_key(SHARED_IDENTITY, &plan, 0);
    let hour: String = connection.get(&hour_key).await.unwrap();
    assert_eq!(
        stored_count(&hour),
        700,
        "denied requests consumed the hour quota: {hour}"
    );
}

/// After `SCRIPT FLUSH` on every master, the first check of an identity on each of them
/// meets `NOSCRIPT`, brings the script back and still decides, on the kept state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_CLUSTER_URLS"]
async fn a_script_flush_on_every_node_is_survived() {
    let nodes = cluster_nodes();
    let prefix = unique_prefix();
    let store = cluster_store(&nodes).await.prefix(prefix.clone());
    let mut connection = raw_connection(&nodes).await;
    let plan = Arc::new(Plan::new("flush", [Quota::per_minute("minute", 3)]).unwrap());
    let identities: Vec<Fingerprint> = (0..30).map(Fingerprint::from_u64).collect();
    for &identity in &identities {
        assert!(store.check(identity, &plan, 1, 0).await.unwrap().allowed());
    }
    let masters = masters(&mut connection).await;
    let mut holders = Vec::new();
    for master in &masters {
        if !keys_on_node(&mut connection, master, &prefix)
            .await
            .is_empty()
        {
            holders.push(master.clone());
        }
    }
    assert!(holders.len() >= 2, "identities on {holders:?} only");
    for master in &masters {
        let reply: String =
            on_node(&mut connection, master, redis::cmd("SCRIPT").arg("FLUSH")).await;
        assert_eq!(reply, "OK", "SCRIPT FLUSH on {master:?}");
    }
    for &identity in &identities {
        let outcome = store.check(identity, &plan, 1, 0).await.unwrap();
        assert!(outcome.allowed());
        assert_eq!(outcome.statuses()[0].remaining(), 1, "{identity}");
    }
    let sha = redis::Script::new(include_str!("../src/store/redis/script.lua"))
        .get_hash()
        .to_owned();
    for master in &holders {
        let loaded: Vec<bool> = on_node(
            &mut connection,
            master,
            redis::cmd("SCRIPT").arg("EXISTS").arg(&sha),
        )
        .await;
        assert_eq!(loaded, [true], "{master:?} did not get the script back");
    }
}
