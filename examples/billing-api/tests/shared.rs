//! Two server processes sharing one PostgreSQL database and one Redis: they behave as
//! one. Each run gets a database of its own (`billing_<pid>_<time>`, created from
//! `DATABASE_URL`'s and dropped afterwards) and a Redis key prefix of its own.
//!
//! Needs `REDIS_URL` and `DATABASE_URL`, so it is `#[ignore = "needs REDIS_URL and
//! DATABASE_URL"]`; run with `-- --include-ignored`, it fails when they are unset or
//! cannot be reached.

mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use support::Server;
use support::postgres::{Database, with_database};

/// A Redis key prefix for one test run; its keys are deleted when this is dropped
/// (they would expire by themselves, the webhook ones after a week).
struct RedisPrefix {
    url: String,
    prefix: String,
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        use redis::Commands;
        let Ok(mut connection) =
            redis::Client::open(self.url.as_str()).and_then(|client| client.get_connection())
        else {
            return;
        };
        let keys: Vec<String> = match connection.scan_match(format!("{}:*", self.prefix)) {
            Ok(keys) => keys.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for key in keys {
            let _: redis::RedisResult<()> = connection.del(key);
        }
    }
}

/// Two servers on one database and one Redis.
fn two_servers(redis: &str, database: &Database) -> (Server, Server, RedisPrefix) {
    let prefix = RedisPrefix {
        url: redis.to_owned(),
        prefix: support::unique("billing-api-test"),
    };
    let start = || {
        Server::start_with(Server::options().database_url(&database.url).args(&[
            "--redis-url",
            redis,
            "--redis-prefix",
            &prefix.prefix,
        ]))
    };
    let a = start();
    let b = start();
    for server in [&a, &b] {
        let banner = server.stdout.join("\n");
        assert!(banner.contains("PostgreSQL"), "{banner}");
        assert!(banner.contains("Redis pub/sub"), "{banner}");
    }
    (a, b, prefix)
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "billing_1"),
        "postgres://postgres@127.0.0.1:5432/billing_1"
    );
    assert_eq!(
        with_database("postgres://u:p@db/test?sslmode=disable", "b"),
        "postgres://u:p@db/b?sslmode=disable"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs REDIS_URL and DATABASE_URL"]
async fn two_instances_share_quotas_plan_changes_and_revocations_within_a_second() {
    let (redis, database_url) = (
        portcullis_test_support::redis_url(),
        portcullis_test_support::database_url(),
    );
    let database = Database::create(&database_url).await;
    let (a, b, _prefix) = two_servers(&redis, &database);

    // Made through A, usable through B.
    let tenant = a.create_tenant("Acme").await;
    let (key_id, key) = a.create_key(&tenant).await;
    let (_, second_key) = b.create_key(&tenant).await;

    // The free plan's 10 per minute hold across both instances and both keys.
    for (server, key) in [(&a, &key), (&b, &second_key)].into_iter().cycle().take(10) {
        let (response, body) = server.get_with_key("/v1/quote", key).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        assert!(!response.headers().contains_key("x-ratelimit-degraded"));
    }
    for server in [&a, &b] {
        let (response, body) = server.get_with_key("/v1/quote", &key).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["code"], "QUOTA_EXCEEDED");
    }

    // B has the key cached with the free plan. A plan change made through A (a signed
    // checkout.session.completed posted to A) is seen by B within a second.
    let (response, _) = b.get_with_key("/v1/whoami", &key).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let checkout = ["--plan", "pro", "--event-id", "evt_shared_checkout"];
    let output = a.trigger("checkout.session.completed", &tenant, &checkout);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""outcome":"handled""#), "{stdout}");
    let seen = support::within(Duration::from_secs(1), || async {
        let (response, body) = b.get_with_key("/v1/whoami", &key).await;
        response.status() == StatusCode::OK && body["plan"] == "pro"
    })
    .await;
    assert!(seen.is_some(), "B still limits the tenant as free");
    println!("plan change seen by the other instance after {seen:?}");
    let (response, _) = b.get_with_key("/v1/quote", &second_key).await;
    assert_eq!(
        response.headers()["ratelimit-policy"],
        r#""minute";q=300;w=60, "day";q=10000;w=86400"#
    );

    // The same event delivered to B is a duplicate: idempotency is shared.
    let output = b.trigger("checkout.session.completed", &tenant, &checkout);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""outcome":"duplicate""#), "{stdout}");

    // A revocation through A reaches B's cache within a second.
    let (revoked, _) = a
        .admin(Method::DELETE, &format!("/admin/keys/{key_id}"), None)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let seen = support::within(Duration::from_secs(1), || async {
        let (response, body) = b.get_with_key("/v1/whoami", &key).await;
        response.status() == StatusCode::UNAUTHORIZED && body["code"] == "API_KEY_REVOKED"
    })
    .await;
    assert!(seen.is_some(), "B still accepts the key revoked through A");
    println!("revocation seen by the other instance after {seen:?}");
    // The other key of the tenant still works there.
    assert_eq!(
        b.get_with_key("/v1/whoami", &second_key).await.0.status(),
        StatusCode::OK
    );

    // And back to free through B, seen by A.
    let output = b.trigger("customer.subscription.deleted", &tenant, &[]);
    assert_eq!(output.status.code(), Some(0));
    let seen = support::within(Duration::from_secs(1), || async {
        let (_, body) = a.get_with_key("/v1/whoami", &second_key).await;
        body["plan"] == "free"
    })
    .await;
    assert!(seen.is_some(), "A still limits the tenant as pro");
}
