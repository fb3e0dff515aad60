//! Real `tile_server` processes on ephemeral loopback ports and a minimal
//! HTTP/1.1 client for them: what the management, fleet and browser tests
//! (and the fleet benchmark) drive.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The owner's bearer secret every test server is started with.
pub const OWNER: &str = "owner-secret-for-tests";
/// The token signing key every test server is started with (a fleet's
/// nodes must share one).
pub const SIGNING: &str = "0101010101010101010101010101010101010101010101010101010101010101";
/// How long one request, or a server's start, may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// A web key's policy allowing [`APP`].
pub const WEB: &str = r#"{"key_type": "web", "allowed_domains": ["app.example.com"]}"#;
/// The origin [`WEB`] allows.
pub const APP: &str = "https://app.example.com";

/// A `tile_server` process on an ephemeral loopback port, killed on drop.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it printed before listening (the default key and token).
    pub banner: Vec<String>,
}

impl Server {
    /// Starts the binary at `exe` for user `alice` on `database` (a SQLite
    /// path or a `postgres://` URL) with the test owner secret and signing
    /// key, plus `extra` arguments; returns once it listens.
    pub fn start_with(exe: &str, database: impl AsRef<OsStr>, extra: &[&str]) -> Server {
        let mut child = Command::new(exe)
            .args([
                "--port",
                "0",
                "--owner-secret",
                OWNER,
                "--signing-key",
                SIGNING,
                "--user",
                "alice",
            ])
            .arg("--database")
            .arg(database)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Drains stdout for the process's life, so that it never blocks
        // on (or fails writing to) a full or closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tile_server did not start within {TIMEOUT:?}: {banner:?}");
            };
            if let Some(addr) = line.strip_prefix("tile_server: listening on http://") {
                return Server {
                    child,
                    addr: addr.parse().unwrap(),
                    banner,
                };
            }
            banner.push(line);
        }
    }

    /// The operating system's id of the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The value printed after `label` at start (`default key`, ...).
    pub fn printed(&self, label: &str) -> Option<String> {
        let prefix = format!("tile_server: {label}");
        self.banner
            .iter()
            .find_map(|line| line.strip_prefix(&prefix).map(|rest| rest.trim().to_owned()))
    }

    /// Ends the process with SIGKILL: no shutdown path runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// One request to this server.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        http(self.addr, method, path, headers, body)
    }

    /// One request with the owner's bearer secret.
    pub fn owner(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let bearer = format!("Bearer {OWNER}");
        self.call(method, path, &[("Authorization", &bearer)], body)
    }

    /// A tile request with `?key=` and an Origin; its status.
    pub fn tile(&self, key: &str, origin: &str) -> u16 {
        let path = format!("/v1/tiles/alice.streets/0/0/0.png?key={key}");
        self.call("GET", &path, &[("Origin", origin)], None).status
    }

    /// A tile request with `?access_token=`; its status.
    pub fn tile_token(&self, token: &str) -> u16 {
        let path = format!("/v1/tiles/alice.streets/0/0/0.png?access_token={token}");
        self.call("GET", &path, &[], None).status
    }

    /// Creates a key for `alice` from `policy` (JSON) as the owner; its id
    /// and string.
    pub fn create_key(&self, policy: &str) -> (String, String) {
        let reply = self.owner("POST", "/keys/v1/alice", Some(policy));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let key = reply.json();
        (
            key["id"].as_str().unwrap().to_owned(),
            key["key"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET /health` as JSON.
    pub fn health(&self) -> Value {
        self.call("GET", "/health", &[], None).json()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response as received.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// The default token in a Tokens API list.
pub fn default_token(list: &Value) -> Value {
    let list = list.as_array().unwrap_or_else(|| panic!("not a token list: {list}"));
    let defaults: Vec<&Value> = list.iter().filter(|t| t["default"] == Value::Bool(true)).collect();
    assert_eq!(defaults.len(), 1, "exactly one default token: {list:?}");
    defaults[0].clone()
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read
/// to the end.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    Reply {
        status,
        body: rest.to_owned(),
    }
}

/// Polls `done` until it holds, for at most 20 s (then the test fails,
/// naming `what`). Waits for propagation; asserts nothing about time.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if done() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {TIMEOUT:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
