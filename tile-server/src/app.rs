//! The tile server's router, keys file and generated tiles. Shared by the
//! `tile_server` example (`main.rs`) and the loopback and browser tests
//! (`tile-server/tests/http_server.rs`, `tile-server/tests/browser.rs`), which include this file
//! with `#[path]` so that they test exactly the server the README starts.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keypolicy::http::{error_response, Credential, KeyLookup, PublicOrigin, Target};
use keypolicy::key::Resource;
use keypolicy::tower::PolicyLayer;
use keypolicy::{KeyPolicy, TokenPolicy};
use serde::Deserialize;

/// The keys file: `{"keys": {"<key>": <KeyPolicy JSON>, …}, "tokens":
/// {"<token>": <TokenPolicy JSON (Tokens API shape)>, …}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: HashMap<String, KeyPolicy>,
    #[serde(default)]
    tokens: HashMap<String, TokenPolicy>,
}

/// Parses a keys file into the map a `KeyStore` holds. The error names
/// the key (or the JSON position) and what is wrong; a string listed both
/// as a key and as a token is an error.
pub fn parse_keys(json: &str) -> Result<HashMap<Box<str>, Credential>, String> {
    let file: KeysFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut map = HashMap::new();
    for (key, policy) in file.keys {
        map.insert(key.into_boxed_str(), Credential::Key(Arc::new(policy)));
    }
    for (token, policy) in file.tokens {
        if map.contains_key(token.as_str()) {
            return Err(format!("{token:?} is listed both under keys and under tokens"));
        }
        map.insert(token.into_boxed_str(), Credential::Token(Arc::new(policy)));
    }
    Ok(map)
}

/// Reads and parses a keys file.
pub fn load_keys(path: &std::path::Path) -> Result<HashMap<Box<str>, Credential>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_keys(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// What a request asks for, from its path — the layer's target function.
/// Access tokens need the resource's default token scope (`styles:tiles`
/// for tiles, `styles:read` for styles).
///
/// * `/v1/tiles/{tileset}/{z}/{x}/{y}.png` → tiles of `{tileset}`
///   (percent-decoded, so `alice.streets%2Cbob.terrain` is the composite);
/// * `/v1/styles/{user}/{style}` → styles, no tileset;
/// * `/tiles-auth[?tileset=…]` → tiles: the seed's scope check. It names a
///   tileset only if asked to, so a key restricted to tilesets must be
///   given one (rule 5: a tiles request naming none is denied).
///
/// Any other path is `None`, which the layer answers with 404.
pub fn target(parts: &Parts) -> Option<Target<'_>> {
    let path = parts.uri.path();
    if path == "/tiles-auth" {
        let tileset = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes()).find_map(|(name, value)| (name == "tileset").then_some(value))
        });
        let mut target = Target::new(Resource::Tiles);
        target.tileset = tileset;
        return Some(target);
    }
    let segments: Vec<&str> = path.strip_prefix("/v1/")?.split('/').collect();
    match segments.as_slice() {
        ["tiles", tileset, _z, _x, y] if y.ends_with(".png") => {
            let tileset: Cow<'_, str> = percent_encoding::percent_decode_str(tileset).decode_utf8().ok()?;
            Some(Target::new(Resource::Tiles).with_tileset(tileset))
        }
        ["styles", _user, _style] => Some(Target::new(Resource::Styles)),
        _ => None,
    }
}

/// The layer's options that the command line sets.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--origin-fallback`: URL-restricted tokens judge the Origin when a
    /// request has no Referer.
    pub origin_fallback: bool,
    /// `--same-origin ORIGIN`: this server's public origins; same-origin
    /// pages are judged as the one their `Host` names.
    pub same_origin: Vec<PublicOrigin>,
    /// `--allow-header NAME`: request headers preflights accept besides
    /// `Range`.
    pub allow_headers: Vec<HeaderName>,
}

/// The router, every route guarded by the key-policy layer set up with
/// `options`, its keys and tokens found by `keys`.
pub fn router<L: KeyLookup + Clone + 'static>(keys: L, options: &Options) -> Router {
    let allow_headers = std::iter::once(header::RANGE).chain(options.allow_headers.iter().cloned());
    let layer = PolicyLayer::new(keys, target)
        .allow_headers(allow_headers)
        .origin_fallback(options.origin_fallback)
        .same_origin(options.same_origin.iter().cloned());
    Router::new()
        .route(
            "/v1/tiles/{tileset}/{z}/{x}/{y}",
            get(tile).with_state(TileCache::default()),
        )
        .route("/v1/styles/{user}/{style}", get(style))
        .route("/tiles-auth", get(tiles_auth))
        .layer(layer)
}

/// The tiles' `Cache-Control`: browsers and CDNs may keep a tile for an
/// hour, which is also how long a revoked key or a removed domain may
/// still be served from a cache. The layer's `Vary` (`Origin`, and
/// `Referer` for URL-restricted tokens) must be part of any cache key.
pub const TILE_CACHE_CONTROL: &str = "max-age=3600";

fn not_found() -> Response {
    error_response::<axum::body::Body>(StatusCode::NOT_FOUND, "Not Found", "not_found").into_response()
}

/// Rendered tiles. A tile depends only on its tileset's colour and its
/// stripe shift, so a few PNGs serve every request: rendering one costs a
/// thousand times the policy check, and a real tile server reads tiles
/// from storage rather than drawing them. Bounded: emptied when full.
#[derive(Clone, Default)]
struct TileCache(Arc<Mutex<HashMap<TileLook, Bytes>>>);

/// What a tile looks like: its tileset's colour and its stripes' start.
type TileLook = ([u8; 3], u32);

/// How many rendered tiles the cache keeps (each ≈ 3 KB).
const TILE_CACHE_ENTRIES: usize = 1024;

impl TileCache {
    fn get_or_render(&self, tileset: &str, z: u8, x: u32, y: u32) -> std::io::Result<Bytes> {
        let key = (tileset_colour(tileset), stripe_shift(z, x, y));
        if let Some(png) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(png.clone());
        }
        // Rendered outside the lock; a race renders the same tile twice.
        let png = Bytes::from(render_png(key.0, key.1)?);
        let mut tiles = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if tiles.len() >= TILE_CACHE_ENTRIES {
            tiles.clear();
        }
        tiles.insert(key, png.clone());
        Ok(png)
    }
}

/// `GET /v1/tiles/{tileset}/{z}/{x}/{y}.png`: a generated 256×256 PNG.
async fn tile(State(cache): State<TileCache>, Path((tileset, z, x, y)): Path<(String, u8, u32, String)>) -> Response {
    let Some(y) = y.strip_suffix(".png").and_then(|y| y.parse::<u32>().ok()) else {
        return not_found();
    };
    if z > 22 || u64::from(x) >= 1 << z || u64::from(y) >= 1 << z {
        return not_found();
    }
    match cache.get_or_render(&tileset, z, x, y) {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, TILE_CACHE_CONTROL),
            ],
            png,
        )
            .into_response(),
        Err(e) => error_response::<axum::body::Body>(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), "internal")
            .into_response(),
    }
}

/// `GET /v1/styles/{user}/{style}`: a minimal MapLibre style whose raster
/// source points back at this server with the same key.
async fn style(Path((user, style)): Path<(String, String)>, uri: Uri, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    // The key or token the request was allowed with (the layer checked it).
    let (param, credential) = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "key" || name == "access_token")
        .unwrap_or_default();
    let credential: String = form_urlencoded::byte_serialize(credential.as_bytes()).collect();
    let tiles = format!("http://{host}/v1/tiles/{user}.streets/{{z}}/{{x}}/{{y}}.png?{param}={credential}");
    let style = serde_json::json!({
        "version": 8,
        "name": format!("{user}/{style}"),
        "sources": {"raster": {"type": "raster", "tiles": [tiles], "tileSize": 256}},
        "layers": [{"id": "raster", "type": "raster", "source": "raster"}],
    });
    ([(header::CONTENT_TYPE, "application/json")], style.to_string()).into_response()
}

/// `GET /tiles-auth`: 200 when the key may read tiles.
async fn tiles_auth() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], r#"{"message":"Allowed"}"#).into_response()
}

/// The tile's colour: a hash of the tileset name, so each tileset looks
/// different and every tile of one looks alike.
fn tileset_colour(tileset: &str) -> [u8; 3] {
    let hash = tileset
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let [r, g, b, _] = hash.to_le_bytes();
    [r / 2 + 96, g / 2 + 96, b / 2 + 96]
}

/// Side of a tile in pixels.
pub const TILE_SIZE: u32 = 256;

/// Where a tile's stripes start: each tile of a tileset differs by this only.
fn stripe_shift(z: u8, x: u32, y: u32) -> u32 {
    (u32::from(z) * 31 + x.wrapping_mul(7) + y.wrapping_mul(13)) % 32
}

/// A tile's PNG: 256×256 RGB, the tileset's colour `[r, g, b]`, a darker
/// border, and a diagonal stripe pattern starting at `shift`.
fn render_png([r, g, b]: [u8; 3], shift: u32) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(((TILE_SIZE * 3 + 1) * TILE_SIZE) as usize);
    for row in 0..TILE_SIZE {
        raw.push(0); // filter type: none
        for col in 0..TILE_SIZE {
            let border = row < 2 || col < 2 || row >= TILE_SIZE - 2 || col >= TILE_SIZE - 2;
            let stripe = (row + col + shift) % 32 < 4;
            let [pr, pg, pb] = match (border, stripe) {
                (true, _) => [r / 3, g / 3, b / 3],
                (false, true) => [r.saturating_add(40), g.saturating_add(40), b.saturating_add(40)],
                (false, false) => [r, g, b],
            };
            raw.extend_from_slice(&[pr, pg, pb]);
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(&raw)?;
    let idat = zlib.finish()?;

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&TILE_SIZE.to_be_bytes());
    ihdr.extend_from_slice(&TILE_SIZE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &idat[..]), (b"IEND", &[][..])] {
        let len = u32::try_from(data.len()).map_err(std::io::Error::other)?;
        png.extend_from_slice(&len.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    Ok(png)
}
