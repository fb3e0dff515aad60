//! Shared by the loopback and browser tests: the tile server's router
//! (the example's own `app.rs`), a server on an ephemeral loopback port,
//! and a real HTTP/1.1 client (hyper) that can send what browsers and
//! attackers send, repeated headers included; and headless Chromium for
//! the browser tests (`chromium`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a panic is a failed test"
)]
#![allow(dead_code, reason = "each test binary uses a part of the helpers")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use keypolicy::http::KeyStore;

#[path = "../../src/app.rs"]
#[allow(dead_code, reason = "each test binary uses part of the example's module")]
pub mod app;

pub mod chromium;
pub mod process;

/// How long one request may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The shipped keys file, as the example server loads it.
pub fn shipped_keys() -> Arc<KeyStore> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/keys.json");
    Arc::new(KeyStore::new(app::load_keys(path.as_ref()).unwrap()))
}

/// Serves `router` on 127.0.0.1 at an ephemeral port, on the current
/// tokio runtime: the server stops when the test's runtime does.
pub async fn serve(router: axum::Router) -> SocketAddr {
    serve_at(|_| router).await
}

/// Like [`serve`], for a router that needs to know its own address (e.g.
/// to name its public origin).
pub async fn serve_at(router: impl FnOnce(SocketAddr) -> axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = router(addr);
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// Starts the example's tile server with the shipped keys.
pub async fn tile_server() -> (SocketAddr, Arc<KeyStore>) {
    let keys = shipped_keys();
    (
        serve(app::router(Arc::clone(&keys), &app::Options::default())).await,
        keys,
    )
}

/// A response as received.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's single value as text (`None` when absent); fails the
    /// test when it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "{name} repeated: {:?}", self.headers);
        Some(first.to_str().unwrap())
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// The body's `reason`, for JSON error bodies.
    pub fn reason(&self) -> Option<String> {
        let json: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        json.get("reason").and_then(|r| r.as_str()).map(str::to_owned)
    }
}

/// Sends one request over a fresh connection, headers in order (a name
/// given twice is sent twice); `Host` is the server's address unless given.
pub async fn send(addr: SocketAddr, method: Method, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
    tokio::time::timeout(TIMEOUT, send_inner(addr, method, path_and_query, headers))
        .await
        .unwrap_or_else(|_| panic!("{path_and_query}: no answer within {TIMEOUT:?}"))
}

async fn send_inner(addr: SocketAddr, method: Method, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder().method(method).uri(path_and_query);
    // The server's address, unless the test names another host.
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request = request.header("host", addr.to_string());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET` with headers.
pub async fn get(addr: SocketAddr, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, Method::GET, path_and_query, headers).await
}
