//! A real browser against the example tile server: headless Chromium
//! (Debian's `chromium`; `.ci/install-chromium` installs it) loads a page
//! from one loopback origin that fetches tiles the way MapLibre GL JS does
//! (`fetch`, CORS mode) with a key restricted to `localhost` and with an
//! access token restricted to `http://localhost` URLs, and the same page
//! from `127.0.0.1`, which must be refused. The page also loads tiles
//! with plain `<img>` elements, as Leaflet does, and the server records
//! what each request carried.
//!
//! Chromium is found as `$CHROMIUM`, else `chromium` or `chromium-browser`
//! on `PATH`; without it the test fails (CI must run it) unless
//! `KEYPOLICY_SKIP_BROWSER=1` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

mod support;
use support::{app, chromium, serve, serve_at, shipped_keys};

/// What the tile server saw of one request, keyed by its `probe=` label.
#[derive(Debug, Clone)]
struct Seen {
    probe: String,
    origin: Option<String>,
    referer: Option<String>,
    fetch_mode: Option<String>,
    sec_fetch_site: Option<String>,
    method: String,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Records each request's probe label, headers and final status
/// (outermost, so it sees the policy layer's answers too).
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let (probe, origin, referer, fetch_mode, sec_fetch_site) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let probe = request
            .uri()
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(n, _)| n == "probe"))
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        (
            probe,
            header("origin"),
            header("referer"),
            header("sec-fetch-mode"),
            header("sec-fetch-site"),
        )
    };
    let response = next.run(request).await;
    log.lock().unwrap().push(Seen {
        probe,
        origin,
        referer,
        fetch_mode,
        sec_fetch_site,
        method,
        status: response.status().as_u16(),
    });
    response
}

/// A test page: `script` runs after the helpers below and fills
/// `results`; the page then writes them into the DOM as JSON. `tiles` is
/// the tile server's origin (empty: this page's own).
fn page(tiles: &str, script: &str) -> String {
    PAGE.replace("TILES", tiles)
        .replace("SCRIPT", script)
        .replace("<!-- HOLD -->", chromium::HOLD)
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>pending</title></head>
<body>
<pre id="results">pending</pre>
<!-- HOLD -->
<script>
const tiles = "TILES";
// `key` is an API key, or `access_token=…` for a Mapbox-style token.
const url = (key, probe) => `${tiles}/v1/tiles/alice.streets/1/0/0.png?${key.includes("=") ? key : "key=" + key}&probe=${probe}`;
const results = {};

// What MapLibre GL JS does for a raster tile: fetch(new Request(url, {mode: 'cors', credentials: 'same-origin'})),
// then decode the bytes into an ImageBitmap. `headers` are extra request headers.
async function maplibreFetch(key, probe, headers = {}) {
  try {
    const response = await fetch(new Request(url(key, probe), {method: "GET", mode: "cors", credentials: "same-origin", headers}));
    const bytes = new Uint8Array(await response.arrayBuffer());
    const out = {status: response.status, bytes: bytes.length};
    if (response.ok) {
      const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
      out.width = bitmap.width;
      out.height = bitmap.height;
    } else {
      out.body = JSON.parse(new TextDecoder().decode(bytes));
    }
    return out;
  } catch (error) {
    return {error: error.name};
  }
}

// What Leaflet does: an <img> per tile, with or without crossorigin.
function imgTile(key, probe, crossOrigin) {
  return new Promise((resolve) => {
    const img = new Image();
    if (crossOrigin) img.crossOrigin = "anonymous";
    img.onload = () => resolve({loaded: true, width: img.naturalWidth});
    img.onerror = () => resolve({loaded: false});
    img.src = url(key, probe);
    document.body.appendChild(img);
  });
}

(async () => {
SCRIPT
  document.getElementById("results").textContent = JSON.stringify(results);
  document.title = "done";
  // Lets the page's load event fire (see chromium::HOLD), and Chromium dump it.
  await fetch("/done", {method: "POST"});
})();
</script>
</body></html>
"#;

/// The first test's page: one MapLibre-style `fetch`, plain and
/// `crossorigin` `<img>` tiles, and a `fetch` with an unknown key.
const MAP_CLIENTS: &str = r#"
  results.fetch = await maplibreFetch("demo-web-localhost", "fetch");
  results.fetchUnknownKey = await maplibreFetch("no-such-key", "fetch-unknown");
  results.fetchToken = await maplibreFetch("access_token=pk.demo-localhost", "fetch-token");
  results.imgPlain = await imgTile("demo-web-localhost", "img-plain", false);
  results.imgCrossOrigin = await imgTile("demo-web-localhost", "img-crossorigin", true);
  results.imgPlainUnrestricted = await imgTile("demo-unrestricted", "img-plain-unrestricted", false);
"#;

/// Loads `url` in Chromium and returns the page's results; `log` is
/// cleared before each attempt, so it holds exactly the requests of the
/// run whose results are returned.
async fn load(chromium: &Path, url: String, label: &'static str, log: &Log) -> Value {
    let log = Arc::clone(log);
    chromium::load(chromium, url, label, move || log.lock().unwrap().clear()).await
}

/// Every request the server saw for `probe`, as (method, status).
fn seen_all(log: &Log, probe: &str) -> Vec<(String, u16)> {
    let log = log.lock().unwrap();
    log.iter()
        .filter(|s| s.probe == probe)
        .map(|s| (s.method.clone(), s.status))
        .collect()
}

/// What the server saw for `probe`: exactly one request.
fn seen(log: &Log, probe: &str) -> Seen {
    let log = log.lock().unwrap();
    let matching: Vec<&Seen> = log.iter().filter(|s| s.probe == probe).collect();
    assert_eq!(matching.len(), 1, "requests for {probe}: {log:#?}");
    matching[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_fetches_tiles_only_from_the_allowed_origin() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };

    // The tile server, with a recorder around it.
    let log: Log = Arc::default();
    let tiles = app::router(shipped_keys(), &app::Options::default())
        .layer(middleware::from_fn_with_state(Arc::clone(&log), record));
    let tiles_addr: SocketAddr = serve(tiles).await;

    // The page server: another port, reached as `localhost` or `127.0.0.1`.
    let page = page(&format!("http://{tiles_addr}"), MAP_CLIENTS);
    let pages = Router::new()
        .route("/page.html", get(move || async move { Html(page) }))
        .merge(chromium::hold_routes());
    let page_port = serve(pages).await.port();

    // Allowed: the key's allowed_domains is `localhost` (any port, any scheme).
    let allowed_origin = format!("http://localhost:{page_port}");
    let r = load(&chromium, format!("{allowed_origin}/page.html"), "localhost", &log).await;
    eprintln!("page at {allowed_origin}: {r}\nserver saw: {:?}", log.lock().unwrap());
    assert_eq!(r["fetch"]["status"], 200, "{r}");
    assert_eq!(
        (&r["fetch"]["width"], &r["fetch"]["height"]),
        (&256.into(), &256.into())
    );
    let fetch = seen(&log, "fetch");
    assert_eq!(fetch.origin.as_deref(), Some(allowed_origin.as_str()));
    assert_eq!(fetch.fetch_mode.as_deref(), Some("cors"));
    assert_eq!(fetch.status, 200);
    // The 401 answer carries `*`, so the page can read why.
    assert_eq!(r["fetchUnknownKey"]["status"], 401, "{r}");
    assert_eq!(r["fetchUnknownKey"]["body"]["reason"], "key_unknown");

    // The URL-restricted token: Chromium's Referer is the page's origin.
    assert_eq!(
        (&r["fetchToken"]["status"], &r["fetchToken"]["width"]),
        (&200.into(), &256.into()),
        "{r}"
    );
    let token = seen(&log, "fetch-token");
    assert_eq!(token.referer, Some(format!("{allowed_origin}/")));
    assert_eq!(token.status, 200);

    // A plain <img> sends no Origin, so a domain-restricted key refuses it.
    let img = seen(&log, "img-plain");
    assert_eq!(img.origin, None, "{img:?}");
    assert_eq!(img.fetch_mode.as_deref(), Some("no-cors"));
    assert_eq!(img.status, 403);
    assert_eq!(r["imgPlain"]["loaded"], false, "{r}");
    // Cross-origin, the default Referrer-Policy (strict-origin-when-cross-origin) sends the origin only.
    assert_eq!(img.referer, Some(format!("{allowed_origin}/")));
    // With crossorigin="anonymous" it sends Origin and loads.
    let img = seen(&log, "img-crossorigin");
    assert_eq!(img.origin.as_deref(), Some(allowed_origin.as_str()));
    assert_eq!((img.fetch_mode.as_deref(), img.status), (Some("cors"), 200));
    assert_eq!(r["imgCrossOrigin"], serde_json::json!({"loaded": true, "width": 256}));
    // A key without an origin rule serves plain <img> tiles.
    assert_eq!(seen(&log, "img-plain-unrestricted").status, 200);
    assert_eq!(
        r["imgPlainUnrestricted"],
        serde_json::json!({"loaded": true, "width": 256})
    );

    // Refused: the same page from 127.0.0.1 (ports alone would not differ).
    let refused_origin = format!("http://127.0.0.1:{page_port}");
    let r = load(&chromium, format!("{refused_origin}/page.html"), "ip", &log).await;
    eprintln!("page at {refused_origin}: {r}\nserver saw: {:?}", log.lock().unwrap());
    // No Access-Control-Allow-Origin: the browser hides the 403 from the page.
    assert_eq!(r["fetch"], serde_json::json!({"error": "TypeError"}), "{r}");
    let fetch = seen(&log, "fetch");
    assert_eq!(fetch.origin.as_deref(), Some(refused_origin.as_str()));
    assert_eq!(fetch.status, 403);
    assert_eq!(r["fetchToken"], serde_json::json!({"error": "TypeError"}), "{r}");
    assert_eq!(seen(&log, "fetch-token").status, 403);
    assert_eq!(seen(&log, "img-crossorigin").status, 403);
    assert_eq!(r["imgCrossOrigin"]["loaded"], false);
    assert_eq!(r["imgPlain"]["loaded"], false);
    assert_eq!(r["imgPlainUnrestricted"]["loaded"], true);
}

/// Issue 9: a page on the tile host's own origin fetches tiles with no
/// `Origin` header (only `Sec-Fetch-Site: same-origin`), so a key with an
/// origin rule refuses it — unless the server names its public origin
/// (`--same-origin`), which the key then has to allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_same_origin_pages_are_served_only_when_opted_in() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };
    let script = r#"  results.sameOrigin = await maplibreFetch("demo-web-localhost", "same-origin");"#;
    for (opted_in, label) in [(true, "same-origin-on"), (false, "same-origin-off")] {
        let log: Log = Arc::default();
        let (html, keys, recorder) = (page("", script), shipped_keys(), Arc::clone(&log));
        let addr = serve_at(move |addr| {
            let mut options = app::Options::default();
            if opted_in {
                options.same_origin = vec![format!("http://localhost:{}", addr.port()).parse().unwrap()];
            }
            // The page itself is served outside the policy layer.
            app::router(keys, &options)
                .route("/page.html", get(move || async move { Html(html) }))
                .merge(chromium::hold_routes())
                .layer(middleware::from_fn_with_state(recorder, record))
        })
        .await;
        let url = format!("http://localhost:{}/page.html", addr.port());
        let r = load(&chromium, url, label, &log).await;
        eprintln!("{label}: {r}\nserver saw: {:?}", log.lock().unwrap());
        let request = seen(&log, "same-origin");
        assert_eq!(request.origin, None, "{request:?}");
        assert_eq!(request.sec_fetch_site.as_deref(), Some("same-origin"), "{request:?}");
        assert_eq!(request.fetch_mode.as_deref(), Some("cors"), "{request:?}");
        if opted_in {
            assert_eq!(request.status, 200);
            assert_eq!(
                (&r["sameOrigin"]["status"], &r["sameOrigin"]["width"]),
                (&200.into(), &256.into()),
                "{r}"
            );
        } else {
            // Same-origin, so the page can read the refusal without CORS.
            assert_eq!(request.status, 403);
            assert_eq!(r["sameOrigin"]["status"], 403, "{r}");
            assert_eq!(r["sameOrigin"]["body"]["reason"], "origin_required", "{r}");
        }
    }
}

/// Issue 9: a request with a non-safelisted header is preflighted. For an
/// unknown key the preflight used to be a 401, which Chromium rejects
/// before the page can read anything; now it is a 204 and the page reads
/// the actual request's `key_unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_reads_why_a_preflighted_request_failed() {
    let Some(chromium) = chromium::chromium() else {
        return;
    };
    let log: Log = Arc::default();
    let options = app::Options {
        allow_headers: vec![axum::http::HeaderName::from_static("x-map-client")],
        ..app::Options::default()
    };
    let tiles = app::router(shipped_keys(), &options).layer(middleware::from_fn_with_state(Arc::clone(&log), record));
    let tiles_addr = serve(tiles).await;
    let script = r#"
  const headers = {"X-Map-Client": "browser-test"};
  results.unknown = await maplibreFetch("no-such-key", "preflight-unknown", headers);
  results.known = await maplibreFetch("demo-web-localhost", "preflight-known", headers);
  results.foreign = await maplibreFetch("access_token=pk.demo-docs-maps", "preflight-foreign", headers);
"#;
    let html = page(&format!("http://{tiles_addr}"), script);
    let pages = Router::new()
        .route("/page.html", get(move || async move { Html(html) }))
        .merge(chromium::hold_routes());
    let page_port = serve(pages).await.port();
    let r = load(
        &chromium,
        format!("http://localhost:{page_port}/page.html"),
        "preflight",
        &log,
    )
    .await;
    eprintln!("preflight page: {r}\nserver saw: {:?}", log.lock().unwrap());
    let preflight_then = |status: u16| vec![("OPTIONS".to_owned(), 204), ("GET".to_owned(), status)];
    assert_eq!(seen_all(&log, "preflight-unknown"), preflight_then(401));
    assert_eq!(r["unknown"]["status"], 401, "{r}");
    assert_eq!(r["unknown"]["body"]["reason"], "key_unknown", "{r}");
    assert_eq!(seen_all(&log, "preflight-known"), preflight_then(200));
    assert_eq!(r["known"]["width"], 256, "{r}");
    // A token whose allowed URLs exclude the page: its refusal is
    // unreadable, so the preflight is refused and the request never sent.
    assert_eq!(seen_all(&log, "preflight-foreign"), [("OPTIONS".to_owned(), 403)]);
    assert_eq!(r["foreign"], serde_json::json!({"error": "TypeError"}), "{r}");
}
