//! A console page in headless Chromium creates a web key over the
//! management API, renders tiles with it, and deletes it — against a real
//! `tile_server` process with its SQLite registry in a temporary
//! directory, so the key goes through the registry and its index exactly
//! as an operator's would.
//!
//! **How the page reaches the management API: same origin, through the
//! console's backend.** The key routes (`/keys/v1`) send no CORS headers,
//! on purpose: they are the console's, authenticated by the owner's
//! bearer secret, and no page on another origin has any business calling
//! them. A browser cannot even send such a call cross-origin: the
//! `Authorization` header makes it preflighted, the server answers the
//! preflight without `Access-Control-Allow-Origin`, and the request never
//! leaves the browser (the page tries, and the test checks that only the
//! `OPTIONS` arrived). So the console page is served by its own backend
//! — here a small test-side server at `http://localhost:PORT` — which
//! forwards `/keys/v1/…` verbatim to `tile_server`, adding no credential
//! (a call without the secret is 401 from `tile_server` itself) and no
//! CORS headers. The page holds the owner's secret as the issue's stand-in
//! for a console session; a production console would rather keep it in
//! its backend behind a session cookie, which changes nothing on the
//! `tile_server` side. The secret travels only page → console backend →
//! key routes: no request to the tile host carries `Authorization`.
//!
//! **Tiles come from the tile host, another origin**, the way MapLibre
//! (`fetch`, CORS mode, then decoded) and Leaflet (`<img
//! crossorigin>`) load them; the key is restricted to the page's own
//! origin, and the tile host's CORS answer is the key policy's. A
//! recording relay in front of `tile_server` plays the tile host, so the
//! test sees what each tile request carried and what was answered.
//!
//! The policy is what does the work: the same key, in the same run, is
//! refused to the same page served from `127.0.0.1` (loaded in an
//! `<iframe>`, which sends that origin), and once the page deletes the key
//! the next tile request is refused (`key_unknown`). Each step uses a new
//! tile URL: tiles are cacheable (`max-age=3600`), so a cached one would
//! not reach the server at all.
//!
//! The whole story is one page load, so an attempt that has to be retried
//! starts over with a new key. Chromium as in `browser.rs` (`$CHROMIUM`,
//! or `chromium` on `PATH`; `KEYPOLICY_SKIP_BROWSER=1` skips the test when
//! it is missing), and the page holds its load event open until it has
//! finished (see `support/chromium.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

mod support;
use support::process::{Server, OWNER, TIMEOUT};
use support::{chromium, serve};

/// Forwards a request verbatim (method, path and query, headers, body) to
/// `upstream`, and its answer back verbatim: no header added or removed
/// but `Host`. 502 when `upstream` cannot be reached.
async fn forward(State(upstream): State<SocketAddr>, request: Request) -> Response {
    match tokio::time::timeout(TIMEOUT, forward_inner(upstream, request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => (StatusCode::BAD_GATEWAY, e).into_response(),
        Err(_) => (StatusCode::GATEWAY_TIMEOUT, format!("no answer within {TIMEOUT:?}")).into_response(),
    }
}

async fn forward_inner(upstream: SocketAddr, request: Request) -> Result<Response, String> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse().map_err(|e| format!("{path}: {e}"))?;
    let host = HeaderValue::from_str(&upstream.to_string()).map_err(|e| e.to_string())?;
    parts.headers.insert(header::HOST, host);
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("{upstream}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.map(Body::new))
}

/// What a test-side server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    /// `console` (the console's backend) or `tiles` (the tile host).
    via: &'static str,
    method: String,
    path: String,
    /// The `probe=` label the page gave a tile request.
    probe: String,
    origin: Option<String>,
    /// Whether it carried an `Authorization` header (its value is not kept).
    authorization: bool,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Records each request and its final status (outermost layer).
async fn record(State((log, via)): State<(Log, &'static str)>, request: Request, next: Next) -> Response {
    let mut seen = seen_of(via, &request);
    let response = next.run(request).await;
    seen.status = response.status().as_u16();
    log.lock().unwrap().push(seen);
    response
}

fn seen_of(via: &'static str, request: &Request) -> Seen {
    let probe = request
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(n, _)| n == "probe"))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Seen {
        via,
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        probe,
        origin: request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        authorization: request.headers().contains_key(header::AUTHORIZATION),
        status: 0,
    }
}

/// The tile helpers both pages share: `tiles` is the tile host's origin.
const TILE_HELPERS: &str = r#"
const results = {};
const tileUrl = (key, z, x, y, probe) =>
  `${tiles}/v1/tiles/alice.streets/${z}/${x}/${y}.png?key=${encodeURIComponent(key)}&probe=${probe}`;

// MapLibre GL JS: fetch(new Request(url, {mode: 'cors', credentials: 'same-origin'})), then decode.
async function maplibreFetch(key, z, x, y, probe) {
  try {
    const response = await fetch(new Request(tileUrl(key, z, x, y, probe), {mode: "cors", credentials: "same-origin"}));
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!response.ok) return {status: response.status, body: JSON.parse(new TextDecoder().decode(bytes))};
    const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
    return {status: response.status, width: bitmap.width, height: bitmap.height};
  } catch (error) {
    return {error: error.name};
  }
}

// Leaflet with crossOrigin set: an <img crossorigin="anonymous"> per tile.
function imgTile(key, z, x, y, probe) {
  return new Promise((resolve) => {
    const img = new Image();
    img.crossOrigin = "anonymous";
    img.onload = () => resolve({loaded: true, width: img.naturalWidth, height: img.naturalHeight});
    img.onerror = () => resolve({loaded: false});
    img.src = tileUrl(key, z, x, y, probe);
    document.body.appendChild(img);
  });
}

// `tiles` at zoom 1 both ways; probes are `<label>-fetch-<x>-<y>` and `<label>-img-<x>-<y>`.
async function render(key, label, grid) {
  return {
    fetch: await Promise.all(grid.map(([x, y]) => maplibreFetch(key, 1, x, y, `${label}-fetch-${x}-${y}`))),
    img: await Promise.all(grid.map(([x, y]) => imgTile(key, 1, x, y, `${label}-img-${x}-${y}`))),
  };
}
const GRID = [[0, 0], [1, 0], [0, 1], [1, 1]];

function finish(out) {
  document.getElementById("results").textContent = JSON.stringify(out);
  document.title = "done";
}
"#;

/// The console: creates a key restricted to its own origin, renders the
/// grid, has the map page render it from `127.0.0.1`, deletes the key,
/// renders again; plus the two calls that must not manage anything.
const CONSOLE: &str = r#"
// The console's session: the owner's bearer secret (the issue's stand-in).
const owner = "{{OWNER}}";
// The management API is this page's own origin (its backend forwards it).
async function api(method, path, body, bearer = owner) {
  const headers = {"Content-Type": "application/json"};
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(`/keys/v1/alice${path}`, {method, headers, body: body && JSON.stringify(body)});
  const text = await response.text();
  return {status: response.status, body: text ? JSON.parse(text) : null};
}

// The map page, from another origin, in a frame; it posts its results back.
function framed(src) {
  return new Promise((resolve) => {
    window.addEventListener("message", (event) => {
      if (event.origin === new URL(src).origin) resolve(event.data);
    });
    const frame = document.createElement("iframe");
    frame.src = src;
    document.body.appendChild(frame);
  });
}

(async () => {
  try {
    await run();
  } catch (error) {
    results.failed = String(error);
  }
  finish(results);
  // Lets the page's load event fire (see chromium::HOLD), and Chromium dump it.
  await fetch("/done", {method: "POST"});
})();

async function run() {
  const created = await api("POST", "", {key_type: "web", scopes: ["tiles:read"], allowed_domains: [location.origin]});
  results.create = created;
  const key = created.body.key;
  results.allowed = await render(key, "allowed", GRID);
  const other = `http://127.0.0.1:${location.port}/map.html?key=${encodeURIComponent(key)}`;
  results.otherOrigin = await framed(other);
  results.delete = await api("DELETE", `/${created.body.id}`);
  results.deleted = await render(key, "deleted", [[0, 0]]);

  // Without the owner's secret: the backend adds none, so tile_server refuses.
  results.noSecret = await api("POST", "", {key_type: "web", allowed_domains: ["no-secret.example"]}, null);
  // Straight at the tile host, another origin: no CORS on the key routes, so the browser sends only the preflight.
  try {
    const response = await fetch(`${tiles}/keys/v1/alice?probe=cross-origin-api`, {
      method: "POST",
      headers: {"Content-Type": "application/json", Authorization: `Bearer ${owner}`},
      body: JSON.stringify({key_type: "web", allowed_domains: ["cross-origin.example"]}),
    });
    results.crossOriginApi = {status: response.status};
  } catch (error) {
    results.crossOriginApi = {error: error.name};
  }
  results.listed = await api("GET", "");
}
"#;

/// The map page: renders the grid with `?key=` and posts the results to
/// the console that framed it.
const MAP: &str = r#"
(async () => {
  const key = new URLSearchParams(location.search).get("key");
  const out = await render(key, "other-origin", GRID);
  out.origin = location.origin;
  parent.postMessage(out, "{{CONSOLE}}");
  finish(out);
})();
"#;

/// A page whose `script` runs after [`TILE_HELPERS`]; `tiles` is the tile
/// host's origin, `extra` more HTML before the script.
fn page(tiles: &str, extra: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>pending</title></head>\n<body>\n\
         <pre id=\"results\">pending</pre>\n{extra}\n<script>\nconst tiles = \"{tiles}\";\n{TILE_HELPERS}\n{script}</script>\n\
         </body></html>\n"
    )
}

/// What the tile host saw for `probe`: exactly one request.
fn seen(log: &Log, probe: &str) -> Seen {
    let log = log.lock().unwrap();
    let matching: Vec<&Seen> = log.iter().filter(|s| s.via == "tiles" && s.probe == probe).collect();
    assert_eq!(matching.len(), 1, "tile requests for {probe}: {log:#?}");
    matching[0].clone()
}

/// The probes of a render of `grid` labelled `label`, each with what the
/// page got from it.
fn probes<'a>(r: &'a Value, label: &str, grid: &[(u32, u32)]) -> Vec<(String, &'a Value)> {
    let mut out = Vec::new();
    for (i, (x, y)) in grid.iter().enumerate() {
        out.push((format!("{label}-fetch-{x}-{y}"), &r["fetch"][i]));
        out.push((format!("{label}-img-{x}-{y}"), &r["img"][i]));
    }
    out
}

const GRID: [(u32, u32); 4] = [(0, 0), (1, 0), (0, 1), (1, 1)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_page_creates_a_key_over_the_api_and_renders_tiles_with_it() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::spawn_blocking({
        let database = dir.path().join("keypolicy.db");
        move || Server::start_with(env!("CARGO_BIN_EXE_tile_server"), &database, &[])
    })
    .await
    .unwrap();
    let log: Log = Arc::default();

    // The tile host: every request relayed to tile_server, and recorded.
    let relay = Router::new()
        .fallback(forward)
        .with_state(server.addr)
        .layer(middleware::from_fn_with_state((Arc::clone(&log), "tiles"), record));
    let tiles = format!("http://{}", serve(relay).await);

    // The console's backend: its pages, and /keys/v1 forwarded to
    // tile_server. Reached as localhost (the console) and as 127.0.0.1
    // (the map page in the console's frame).
    let console_port = serve_port_for(|port| {
        let console = page(&tiles, chromium::HOLD, &CONSOLE.replace("{{OWNER}}", OWNER));
        let map = page(
            &tiles,
            "",
            &MAP.replace("{{CONSOLE}}", &format!("http://localhost:{port}")),
        );
        Router::new()
            .route("/keys/v1/{*rest}", any(forward))
            .with_state(server.addr)
            .merge(chromium::hold_routes())
            .route("/console.html", get(move || async move { Html(console) }))
            .route("/map.html", get(move || async move { Html(map) }))
            .layer(middleware::from_fn_with_state((Arc::clone(&log), "console"), record))
    })
    .await;
    let console_origin = format!("http://localhost:{console_port}");
    let other_origin = format!("http://127.0.0.1:{console_port}");

    let reset = Arc::clone(&log);
    let r = chromium::load(
        &chromium,
        format!("{console_origin}/console.html"),
        "console",
        move || reset.lock().unwrap().clear(),
    )
    .await;
    eprintln!("console page: {r:#}\nseen: {:#?}", log.lock().unwrap());

    assert_eq!(r.get("failed"), None, "the page failed: {r}");

    // Created over the API, through the registry: a generated string,
    // restricted to the page's origin.
    assert_eq!(r["create"]["status"], 200, "{r}");
    let key = r["create"]["body"]["key"].as_str().unwrap().to_owned();
    let id = r["create"]["body"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mpk_"), "{key}");
    // `http://localhost:PORT` is kept as the host alone: ports and schemes
    // are not part of a key's domain rule, so 127.0.0.1 differs by host.
    assert_eq!(r["create"]["body"]["allowed_domains"], json!(["localhost"]), "{r}");

    // Rendered: every tile fetched and decoded (256×256), every <img>
    // loaded, each a request the tile host answered 200 for this origin.
    let decoded = json!({"status": 200, "width": 256, "height": 256});
    let loaded = json!({"loaded": true, "width": 256, "height": 256});
    for (probe, got) in probes(&r["allowed"], "allowed", &GRID) {
        let expected = if probe.contains("-fetch-") { &decoded } else { &loaded };
        assert_eq!(got, expected, "{probe}: {r}");
        let request = seen(&log, &probe);
        assert_eq!(
            (request.origin.as_deref(), request.status),
            (Some(console_origin.as_str()), 200),
            "{request:?}"
        );
    }

    // The same key from 127.0.0.1: refused (403, no CORS, so the page
    // sees only a network error and broken images).
    assert_eq!(r["otherOrigin"]["origin"], other_origin.as_str(), "{r}");
    for (probe, got) in probes(&r["otherOrigin"], "other-origin", &GRID) {
        let expected = if probe.contains("-fetch-") {
            json!({"error": "TypeError"})
        } else {
            json!({"loaded": false})
        };
        assert_eq!(got, &expected, "{probe}: {r}");
        let request = seen(&log, &probe);
        assert_eq!(
            (request.origin.as_deref(), request.status),
            (Some(other_origin.as_str()), 403),
            "{request:?}"
        );
    }

    // Deleted by the page: the next tile request is refused as unknown
    // (401 carries `*`, so the page can read why).
    assert_eq!(r["delete"], json!({"status": 204, "body": null}), "{r}");
    let refused = &r["deleted"]["fetch"][0];
    assert_eq!(
        (&refused["status"], &refused["body"]["reason"]),
        (&json!(401), &json!("key_unknown")),
        "{r}"
    );
    assert_eq!(r["deleted"]["img"][0], json!({"loaded": false}), "{r}");
    for probe in ["deleted-fetch-0-0", "deleted-img-0-0"] {
        let request = seen(&log, probe);
        assert_eq!(
            (request.origin.as_deref(), request.status),
            (Some(console_origin.as_str()), 401),
            "{request:?}"
        );
    }
    assert_eq!(r["listed"]["status"], 200, "{r}");
    let listed = r["listed"]["body"].as_array().unwrap();
    assert!(listed.iter().all(|k| k["id"] != id.as_str()), "{id} still listed: {r}");

    // The two calls that must not manage anything: without the secret
    // (tile_server's own 401), and cross-origin (only the preflight left
    // the browser, and it got no CORS answer).
    assert_eq!(r["noSecret"]["status"], 401, "{r}");
    assert_eq!(r["crossOriginApi"], json!({"error": "TypeError"}), "{r}");
    let log = log.lock().unwrap();
    let cross: Vec<(&str, u16)> = log
        .iter()
        .filter(|s| s.probe == "cross-origin-api")
        .map(|s| (s.method.as_str(), s.status))
        .collect();
    assert_eq!(cross, [("OPTIONS", 405)], "{log:#?}");
    let domains = |k: &Value| k["allowed_domains"].to_string();
    assert!(
        listed
            .iter()
            .all(|k| !domains(k).contains("no-secret") && !domains(k).contains("cross-origin")),
        "{r}"
    );

    // The console's calls reached tile_server with the secret, except the
    // one sent without it; no request to the tile host carried it.
    let api: Vec<(&str, bool, u16)> = log
        .iter()
        .filter(|s| s.via == "console" && s.path.starts_with("/keys/v1/"))
        .map(|s| (s.method.as_str(), s.authorization, s.status))
        .collect();
    assert_eq!(
        api,
        [
            ("POST", true, 200),
            ("DELETE", true, 204),
            ("POST", false, 401),
            ("GET", true, 200)
        ],
        "{log:#?}"
    );
    assert!(
        log.iter().filter(|s| s.via == "tiles").all(|s| !s.authorization),
        "{log:#?}"
    );
}

/// Serves the router `make` builds for its own port, on 127.0.0.1.
async fn serve_port_for(make: impl FnOnce(u16) -> Router) -> u16 {
    support::serve_at(|addr| make(addr.port())).await.port()
}
