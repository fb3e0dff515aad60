//! Headless Chromium for the browser tests: found as `$CHROMIUM`, else
//! `chromium` or `chromium-browser` on `PATH` (`.ci/install-chromium`
//! installs Debian's); without it a test fails (CI must run it) unless
//! `KEYPOLICY_SKIP_BROWSER=1` is set. A page is loaded with `--dump-dom`
//! and reports by writing JSON into `<pre id="results">` and setting its
//! title to `done`. Chromium dumps the DOM once the page's load event
//! has fired, so a page holds that event open until it has finished: it
//! includes [`HOLD`], an `<img>` its server ([`hold_routes`]) answers only
//! when the page calls `POST /done`.
//!
//! Not a virtual-time budget (`--virtual-time-budget`), which these tests
//! used first: a page with many sequential requests outran it (Chromium
//! dumped the console page half done after ~3 s whatever the budget), and
//! under load it sometimes outran even the short pages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// How long one Chromium run may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
/// How many times a page is loaded when it had not finished by the time
/// Chromium dumped it (it hung past [`HOLD_AT_MOST`], or Chromium gave up
/// on it): one retry rides out a transient failure of the browser, which
/// says nothing about the policy.
const ATTEMPTS: u32 = 2;

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium, or `None` when it is missing and `KEYPOLICY_SKIP_BROWSER=1`
/// (the test is then skipped); fails the test when it is missing otherwise.
pub fn chromium() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var_os("KEYPOLICY_SKIP_BROWSER").is_some_and(|v| v == "1") {
            eprintln!("browser test skipped: KEYPOLICY_SKIP_BROWSER=1 and no chromium");
            return None;
        }
        panic!("chromium not found: run .ci/install-chromium, set CHROMIUM, or set KEYPOLICY_SKIP_BROWSER=1");
    }
    found
}

/// Loads `url` in a fresh headless Chromium and returns the DOM it
/// serialized once the page has finished (its title reads `done`),
/// retrying a page that had not finished up to [`ATTEMPTS`] times.
/// `before_attempt` runs before each attempt (a test clears its request
/// log there, so the log holds exactly the run whose DOM is returned).
fn dump_dom(chromium: &Path, url: &str, label: &str, before_attempt: &dyn Fn()) -> String {
    let mut attempt = 1;
    loop {
        before_attempt();
        match dump_dom_once(chromium, url, label) {
            Ok(dom) => return dom,
            Err(failure) if attempt >= ATTEMPTS => panic!("{failure}"),
            Err(failure) => eprintln!("attempt {attempt} of {ATTEMPTS} did not finish, retrying: {failure:.300}"),
        }
        attempt += 1;
    }
}

/// One Chromium run. Blocking; bounded by [`BROWSER_TIMEOUT`]. `Err` when
/// the page had not finished.
fn dump_dom_once(chromium: &Path, url: &str, label: &str) -> Result<String, String> {
    let profile = std::env::temp_dir().join(format!("keypolicy-browser-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-proxy-server",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromium did not finish {url} within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() && dom.contains("<title>done</title>") {
        return Ok(dom);
    }
    Err(format!(
        "chromium on {url}: {}\nstdout:\n{dom}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The JSON the page wrote into `<pre id="results">`.
fn results(dom: &str) -> Value {
    let start = dom.find(r#"<pre id="results">"#).expect("results element") + r#"<pre id="results">"#.len();
    let end = start + dom[start..].find("</pre>").expect("end of results");
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// Loads `url` in Chromium (off the runtime's threads) and returns the
/// page's results; `before_attempt` runs before each attempt. The page
/// must include [`HOLD`] and call `POST /done` once it has written its
/// results, and its server must serve [`hold_routes`].
pub async fn load(
    chromium: &Path,
    url: String,
    label: &'static str,
    before_attempt: impl Fn() + Send + 'static,
) -> Value {
    let chromium = chromium.to_path_buf();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium, &url, label, &before_attempt))
        .await
        .unwrap();
    results(&dom)
}

/// An `<img>` that holds the page's load event open until the page calls
/// `POST /done` (both served by [`hold_routes`]).
pub const HOLD: &str = r#"<img src="/hold" alt="">"#;

/// How long `/hold` waits for the page to finish: less than the browser's
/// own timeout, so an unfinished page is dumped (and reported) first.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

/// `GET /hold` (answers once `POST /done` has been called, or after
/// [`HOLD_AT_MOST`]) and `POST /done`, for a page's own server.
pub fn hold_routes() -> Router {
    let done = Arc::new(Notify::new());
    Router::new()
        .route("/hold", get(hold))
        .route("/done", post(finished))
        .with_state(done)
}

async fn hold(State(done): State<Arc<Notify>>) -> StatusCode {
    let _ = tokio::time::timeout(HOLD_AT_MOST, done.notified()).await;
    StatusCode::NO_CONTENT
}

async fn finished(State(done): State<Arc<Notify>>) -> StatusCode {
    done.notify_one();
    StatusCode::NO_CONTENT
}
