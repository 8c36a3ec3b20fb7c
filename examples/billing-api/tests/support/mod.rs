//! Starts the real `billing-api` binary on a free port and talks HTTP to it.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
}

impl Server {
    /// Starts the binary with these flags plus `--listen 127.0.0.1:0`, and waits for it
    /// to print its address.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_billing-api"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("LISTEN_ADDR")
            .env_remove("ALLOWED_ORIGINS")
            .env_remove("TRUSTED_PROXIES")
            .env_remove("PRESET")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the billing-api binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server prints its address before anything else ends")
                .expect("stdout is UTF-8");
            seen.push(line.clone());
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split(['/', ' ']).next().unwrap_or_default();
                if let Ok(addr) = addr.parse() {
                    break addr;
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            stdout: seen,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request (its URI is a path on this server).
    pub async fn send(&self, request: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.url(&parts.uri.to_string()).parse().expect("valid URL");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            client.request(Request::from_parts(parts, body)),
        )
        .await
        .expect("the server answers within 10 s")
        .expect("the request succeeds");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body reads").to_bytes();
        (Response::from_parts(parts, ()), bytes)
    }

    /// A GET of `path`.
    pub async fn get(&self, path: &str) -> (Response<()>, Bytes) {
        self.send(Request::get(path).body(Full::default()).unwrap())
            .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
