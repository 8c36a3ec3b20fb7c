//! The example gRPC server over a real socket, called by a real tonic client: what
//! a caller sees is a gRPC status and metadata, never an HTTP status.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::id::TenantId;
use portcullis_api_keys::lifecycle::NewKey;
use portcullis_core::clock::ManualClock;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tonic_example::App;
use tonic_example::proto::{GetQuoteRequest, Quote, QuotesClient};

/// How long any one call may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The example server on a free port and a manual clock, and a client connected to it.
struct Server {
    app: App,
    clock: ManualClock,
    client: QuotesClient,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Self {
        let clock = ManualClock::at_unix(Duration::from_secs(1_700_006_400));
        let app = App::with_clock(clock.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            app,
            clock,
            client: connect(addr).await,
            stop: Some(stop),
        }
    }

    /// A key of `tenant` on `plan`.
    async fn key(&self, tenant: &str, plan: &str) -> String {
        let created = self
            .app
            .keys()
            .create(NewKey::new(TenantId::new(tenant)).plan(plan))
            .await
            .unwrap();
        created.key.expose_secret().to_owned()
    }

    /// `GetQuote` for `invoices`, with these metadata entries.
    async fn call(&self, metadata: &[(&'static str, &str)]) -> Result<Response<Quote>, Status> {
        get_quote(self.client.clone(), metadata).await
    }

    /// `GetQuote` with `x-api-key: key`.
    async fn quote(&self, key: &str) -> Result<Response<Quote>, Status> {
        self.call(&[("x-api-key", key)]).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn connect(addr: SocketAddr) -> QuotesClient {
    tokio::time::timeout(TIMEOUT, QuotesClient::connect(format!("http://{addr}")))
        .await
        .expect("the server accepts in time")
        .unwrap()
}

async fn get_quote(
    mut client: QuotesClient,
    metadata: &[(&'static str, &str)],
) -> Result<Response<Quote>, Status> {
    let mut request = Request::new(GetQuoteRequest {
        product: "invoices".to_owned(),
    });
    for (name, value) in metadata {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    tokio::time::timeout(TIMEOUT, client.get_quote(request))
        .await
        .expect("the server answers in time")
}

fn text<'a>(metadata: &'a MetadataMap, name: &str) -> &'a str {
    metadata
        .get(name)
        .unwrap_or_else(|| panic!("{name} in {metadata:?}"))
        .to_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_valid_key_gets_its_quote_and_rate_limit_metadata() {
    let server = Server::start().await;
    let key = server.key("acme", "starter").await;

    let response = server.quote(&key).await.unwrap();

    let metadata = response.metadata();
    assert_eq!(
        text(metadata, "ratelimit-policy"),
        "\"minute\";q=60;w=60, \"day\";q=1000;w=86400"
    );
    assert_eq!(text(metadata, "ratelimit"), "\"minute\";r=59;t=1");
    assert_eq!(text(metadata, "x-ratelimit-remaining"), "59");
    let quote = response.into_inner();
    assert_eq!(quote.tenant, "acme");
    assert_eq!(quote.plan, "starter");
    assert_eq!(quote.product, "invoices");
    assert_eq!(quote.amount_cents, 4_200);

    // `authorization: Bearer` works as well as `x-api-key`.
    let bearer = format!("Bearer {key}");
    let response = server.call(&[("authorization", &bearer)]).await.unwrap();
    assert_eq!(response.into_inner().tenant, "acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_valid_key_is_unauthenticated() {
    let server = Server::start().await;
    let key = server.key("acme", "free").await;
    // One character off: the checksum fails before any lookup.
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    // Well-formed, but never issued by this server.
    let unknown = KeyFormat::default()
        .environment(Environment::Test)
        .generate();

    // (metadata sent, message title, stable code)
    type Case<'a> = (&'a [(&'static str, &'a str)], &'a str, &'a str);
    let cases: [Case<'_>; 3] = [
        (&[], "API key missing", "API_KEY_MISSING"),
        (
            &[("x-api-key", &typo)],
            "API key malformed",
            "API_KEY_MALFORMED",
        ),
        (
            &[("x-api-key", unknown.expose_secret())],
            "API key invalid",
            "API_KEY_INVALID",
        ),
    ];
    for (metadata, title, code) in cases {
        let status = server.call(metadata).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(text(status.metadata(), "portcullis-code"), code);
        assert!(
            status.message().starts_with(title),
            "{:?} starts with {title:?}",
            status.message()
        );
        // Refused before the rate limiter: no quota was spent on it.
        assert!(status.metadata().get("ratelimit").is_none(), "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_the_quota_is_resource_exhausted_for_that_tenant_only() {
    let server = Server::start().await;
    let free = server.key("acme", "free").await;
    let pro = server.key("globex", "pro").await;

    for remaining in (0..10).rev() {
        let response = server.quote(&free).await.unwrap();
        assert_eq!(
            text(response.metadata(), "x-ratelimit-remaining"),
            remaining.to_string()
        );
    }

    let status = server.quote(&free).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(text(status.metadata(), "portcullis-code"), "QUOTA_EXCEEDED");
    assert!(
        status.message().starts_with("Quota exceeded"),
        "{:?}",
        status.message()
    );
    assert_eq!(text(status.metadata(), "retry-after"), "6");
    assert_eq!(text(status.metadata(), "ratelimit"), "\"minute\";r=0;t=6");

    // Another tenant has quotas of its own, and its plan's.
    let response = server.quote(&pro).await.unwrap();
    assert_eq!(text(response.metadata(), "x-ratelimit-remaining"), "299");

    // Six seconds later the free tenant has one call again.
    server.clock.advance(Duration::from_secs(6));
    assert!(server.quote(&free).await.is_ok());
    assert_eq!(
        server.quote(&free).await.unwrap_err().code(),
        Code::ResourceExhausted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_unauthenticated_on_its_next_call() {
    let server = Server::start().await;
    let created = server
        .app
        .keys()
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let key = created.key.expose_secret();
    assert!(server.quote(key).await.is_ok());

    server.app.keys().revoke(&created.record.id).await.unwrap();

    let status = server.quote(key).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        text(status.metadata(), "portcullis-code"),
        "API_KEY_REVOKED"
    );
    assert!(
        status.message().starts_with("API key revoked"),
        "{:?}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_status_passes_through_the_layers() {
    let server = Server::start().await;
    let key = server.key("acme", "free").await;
    let mut request = Request::new(GetQuoteRequest::default());
    request
        .metadata_mut()
        .insert("x-api-key", key.parse().unwrap());

    let status = server.client.clone().get_quote(request).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "product is required");
}

/// Kills the example binary when the test ends, passed or not.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_its_demo_key_and_refuses_calls_without_one() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tonic-example"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = Process(child);

    let (lines, banner) = sync_channel(16);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.try_send(line);
        }
    });
    let read = |prefix: &str| {
        let line = banner.recv_timeout(TIMEOUT).expect("the banner line");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} starts with {prefix:?}"))
            .to_owned()
    };
    let addr: SocketAddr = read("listening on http://").parse().unwrap();
    let key = read("demo key of tenant acme, free plan (10 calls a minute): ");

    let client = connect(addr).await;
    let response = get_quote(client.clone(), &[("x-api-key", &key)])
        .await
        .unwrap();
    assert_eq!(
        text(response.metadata(), "ratelimit-policy"),
        "\"minute\";q=10;w=60, \"day\";q=100;w=86400"
    );
    assert_eq!(response.into_inner().tenant, "acme");

    let status = get_quote(client, &[]).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_binary_gracefully_with_a_client_connected() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tonic-example"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, banner) = sync_channel(16);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.try_send(line);
        }
    });
    let line = banner.recv_timeout(TIMEOUT).expect("the banner line");
    let addr: SocketAddr = line
        .strip_prefix("listening on http://")
        .expect("the address first")
        .parse()
        .unwrap();
    // A connected client whose HTTP/2 connection stays open.
    let client = connect(addr).await;
    let refused = get_quote(client.clone(), &[]).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let (status, took) =
        tokio::task::block_in_place(|| portcullis_test_support::terminate(&mut child, TIMEOUT));
    println!(
        "SIGTERM with a client connected: exited {status:?} after {:?}",
        took
    );
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "SIGTERM ends the server gracefully (exit 0), not by the signal"
    );
    drop(client);
}
