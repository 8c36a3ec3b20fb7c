//! Shared by the tests that need the real Redis Cluster at `REDIS_CLUSTER_URLS`.

use portcullis_rate_limit::store::redis::RedisStore;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

/// A master of the cluster, as `(host, port)`.
pub(crate) type Node = (String, u16);

/// The cluster's node URLs, from `REDIS_CLUSTER_URLS`. Unset fails the test (its
/// tests are `#[ignore = "needs REDIS_CLUSTER_URLS"]` instead), and so does a set but
/// unreachable cluster, when the test connects: they never pass by skipping.
pub(crate) fn cluster_nodes() -> Vec<String> {
    portcullis_test_support::redis_cluster_urls()
}

/// A store of its own (its own cluster connection) on the cluster.
pub(crate) async fn cluster_store(nodes: &[String]) -> RedisStore<ClusterConnection> {
    RedisStore::connect_cluster(nodes.iter().map(String::as_str))
        .await
        .unwrap_or_else(|error| {
            panic!(
                "REDIS_CLUSTER_URLS={} unreachable: {error}",
                nodes.join(",")
            )
        })
}

/// A plain cluster connection, for looking at what the store wrote.
pub(crate) async fn raw_connection(nodes: &[String]) -> ClusterConnection {
    ClusterClient::new(nodes.to_vec())
        .expect("REDIS_CLUSTER_URLS are Redis URLs")
        .get_async_connection()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "REDIS_CLUSTER_URLS={} unreachable: {error}",
                nodes.join(",")
            )
        })
}

/// The masters that serve slots, as `(host, port)`, from `CLUSTER NODES`.
pub(crate) async fn masters(connection: &mut ClusterConnection) -> Vec<Node> {
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(connection)
        .await
        .unwrap();
    let masters: Vec<Node> = nodes
        .lines()
        .filter_map(|line| {
            // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>…
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serves_slots = fields.len() > 8;
            if !flags.split(',').any(|flag| flag == "master")
                || flags.contains("fail")
                || !serves_slots
            {
                return None;
            }
            let address = fields[1].split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect();
    assert!(!masters.is_empty(), "no master in CLUSTER NODES:\n{nodes}");
    masters
}

/// Sends `command` to the node at `(host, port)` only.
pub(crate) async fn on_node<T: redis::FromRedisValue>(
    connection: &mut ClusterConnection,
    (host, port): &Node,
    command: &redis::Cmd,
) -> T {
    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
        host: host.clone(),
        port: *port,
    });
    let reply = connection
        .route_command(command.clone(), routing)
        .await
        .unwrap_or_else(|error| panic!("{host}:{port}: {error}"));
    redis::from_redis_value(reply).unwrap()
}

/// The keys under `prefix` that the node at `(host, port)` holds.
pub(crate) async fn keys_on_node(
    connection: &mut ClusterConnection,
    node: &Node,
    prefix: &str,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = on_node(
            connection,
            node,
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}:*"))
                .arg("COUNT")
                .arg(1_000),
        )
        .await;
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

pub(crate) async fn key_slot(connection: &mut ClusterConnection, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(connection)
        .await
        .unwrap()
}

/// How many times the node has run `command` (`INFO commandstats`; `script|load` for a
/// subcommand).
pub(crate) async fn command_calls(
    connection: &mut ClusterConnection,
    node: &Node,
    command: &str,
) -> u64 {
    let info: String = on_node(connection, node, redis::cmd("INFO").arg("commandstats")).await;
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}
