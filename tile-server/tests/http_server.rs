//! The example tile server on an ephemeral loopback port, driven by a real
//! HTTP client: one test per rule of the layer (issue 6).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, Method, StatusCode};
use keypolicy::http::{Credential, KeyStore, Target, WWW_AUTHENTICATE};
use keypolicy::key::Resource;
use keypolicy::tower::PolicyLayer;
use keypolicy::KeyPolicy;

mod support;
use support::{app, get, send, serve, serve_at, shipped_keys, tile_server};

const TILE: &str = "/v1/tiles/alice.streets/3/2/1.png";

fn png_size(body: &[u8]) -> (u32, u32) {
    assert_eq!(body.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "not a PNG");
    assert_eq!(body.get(12..16), Some(&b"IHDR"[..]));
    let word = |at: usize| u32::from_be_bytes(body[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[tokio::test]
async fn allowed_origin_gets_the_tile_with_cors_headers() {
    let (addr, _) = tile_server().await;
    let origin = "http://localhost:5173";
    let reply = get(addr, &format!("{TILE}?key=demo-web-localhost"), &[("origin", origin)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
    assert_eq!(reply.header("vary"), Some("Origin"));
    assert_eq!(reply.header("cache-control"), Some(app::TILE_CACHE_CONTROL));
    assert_eq!(png_size(&reply.body), (256, 256));

    // `www.`, scheme and port are folded: the seed's three example domains
    // (the shipped file lists `localhost`, which allows every port).
    for origin in [
        "https://mappinest.com",
        "https://www.app.example.com",
        "http://localhost:3000",
        "http://localhost:5173",
        "https://localhost",
    ] {
        let reply = get(addr, &format!("{TILE}?key=demo-web-app"), &[("origin", origin)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin}");
        assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
    }
}

#[tokio::test]
async fn foreign_or_missing_origin_is_refused_without_allow_origin() {
    let (addr, _) = tile_server().await;
    let cases = [
        (Some("https://evil.example"), "origin_not_allowed"),
        (Some("http://localhost.evil.example"), "origin_not_allowed"),
        (Some("http://127.0.0.1:3000"), "origin_not_allowed"),
        (Some("null"), "origin_invalid"),
        (Some("http://localhost/"), "origin_invalid"),
        (None, "origin_required"),
    ];
    for (origin, reason) in cases {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let reply = get(addr, &format!("{TILE}?key=demo-web-localhost"), &headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(reply.reason().as_deref(), Some(reason), "{origin:?}");
        assert_eq!(reply.header("access-control-allow-origin"), None, "{origin:?}");
        assert_eq!(reply.header("vary"), Some("Origin"));
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn missing_unknown_or_repeated_keys_are_401() {
    let (addr, _) = tile_server().await;
    let cases = [
        (TILE.to_owned(), "key_missing"),
        (format!("{TILE}?keys=demo-unrestricted"), "key_missing"),
        (format!("{TILE}?key="), "key_invalid"),
        (
            format!("{TILE}?key=demo-unrestricted&key=demo-unrestricted"),
            "key_invalid",
        ),
        (
            format!("{TILE}?key=demo-unrestricted&access_token=demo-unrestricted"),
            "key_invalid",
        ),
        (format!("{TILE}?key=no-such-key"), "key_unknown"),
        (format!("{TILE}?key=DEMO-UNRESTRICTED"), "key_unknown"),
        (format!("{TILE}?access_token=demo-unrestricted"), "key_unknown"),
    ];
    for (uri, reason) in cases {
        let reply = get(addr, &uri, &[("origin", "http://localhost")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            reply.text(),
            format!(r#"{{"message":"Missing or invalid key","reason":"{reason}"}}"#),
            "{uri}"
        );
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("www-authenticate"), Some(WWW_AUTHENTICATE), "{uri}");
    }
    // The key is percent-decoded.
    let reply = get(addr, &format!("{TILE}?x=1&key=demo%2Dunrestricted"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn tiles_auth_checks_the_scope() {
    let (addr, _) = tile_server().await;
    let reply = get(addr, "/tiles-auth?key=demo-desktop-styles", &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.reason().as_deref(), Some("scope_missing"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));

    for key in ["demo-unrestricted", "demo-server-alice"] {
        let reply = get(addr, &format!("/tiles-auth?key={key}&tileset=alice.streets"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{key}");
        assert_eq!(reply.text(), r#"{"message":"Allowed"}"#);
    }
    let reply = get(
        addr,
        "/tiles-auth?key=demo-web-localhost",
        &[("origin", "http://localhost:8000")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // A tileset-restricted key must name a tileset (rule 5).
    let reply = get(addr, "/tiles-auth?key=demo-server-alice", &[]).await;
    assert_eq!(reply.reason().as_deref(), Some("tileset_not_allowed"));
    // Styles need styles:read, which the tiles-only server key lacks.
    let reply = get(addr, "/v1/styles/alice/basic?key=demo-server-alice", &[]).await;
    assert_eq!(reply.reason().as_deref(), Some("scope_missing"));
    let reply = get(addr, "/v1/styles/alice/basic?key=demo-desktop-styles", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains(r#""version":8"#));
}

#[tokio::test]
async fn composite_tilesets_need_every_part() {
    let (addr, _) = tile_server().await;
    let origin = [("origin", "https://app.example.com")];
    let cases = [
        ("alice.streets,bob.terrain", StatusCode::OK),
        ("alice.streets%2Cbob.terrain", StatusCode::OK),
        ("alice.terrain,bob.anything,alice.streets", StatusCode::OK),
        ("alice.streets,carol.terrain", StatusCode::FORBIDDEN),
        ("alice.streets,", StatusCode::FORBIDDEN),
        ("alice.Streets", StatusCode::FORBIDDEN),
        ("carol.terrain", StatusCode::FORBIDDEN),
    ];
    for (tileset, status) in cases {
        let reply = get(
            addr,
            &format!("/v1/tiles/{tileset}/0/0/0.png?key=demo-web-app"),
            &origin,
        )
        .await;
        assert_eq!(reply.status, status, "{tileset}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(reply.reason().as_deref(), Some("tileset_not_allowed"), "{tileset}");
        } else {
            assert_eq!(png_size(&reply.body), (256, 256));
        }
    }
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins() {
    let (addr, _) = tile_server().await;
    let uri = format!("{TILE}?key=demo-web-localhost");
    let preflight = |origin: &'static str| {
        let uri = uri.clone();
        async move {
            let headers = [
                ("origin", origin),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "range"),
            ];
            send(addr, Method::OPTIONS, &uri, &headers).await
        }
    };
    let reply = preflight("http://localhost:8000").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:8000")
    );
    assert_eq!(reply.header("access-control-allow-methods"), Some("GET, HEAD"));
    assert_eq!(reply.header("access-control-allow-headers"), Some("range"));
    assert_eq!(reply.header("access-control-max-age"), Some("7200"));
    assert_eq!(reply.header("vary"), Some("Origin"));
    assert!(reply.body.is_empty());

    let reply = preflight("http://127.0.0.1:8000").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-methods"), None);
}

/// Issue 9: Chromium rejects a preflight that is not 2xx before the page
/// can read anything, so a preflight whose actual request would get a
/// readable error (`*`) is answered 204 and the actual request's error
/// reaches the page. Refusals the page could not read stay refused.
#[tokio::test]
async fn preflights_let_readable_errors_through() {
    let (addr, _) = tile_server().await;
    let preflight = |uri: String| async move {
        let headers = [
            ("origin", "http://localhost:8000"),
            ("access-control-request-method", "GET"),
        ];
        send(addr, Method::OPTIONS, &uri, &headers).await
    };
    for uri in [
        TILE.to_owned(),
        format!("{TILE}?key=no-such-key"),
        format!("{TILE}?key=a&key=b"),
        format!("{TILE}?access_token=tk.demo-expired"),
        "/tiles-auth?key=demo-desktop-styles".to_owned(),
    ] {
        let reply = preflight(uri.clone()).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{uri}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"), "{uri}");
        assert_eq!(reply.header("access-control-allow-methods"), Some("GET, HEAD"), "{uri}");
        assert_eq!(reply.header("www-authenticate"), None, "{uri}");
        // ... and the actual request gets the error, readable.
        let actual = get(addr, &uri, &[("origin", "http://localhost:8000")]).await;
        assert!(actual.status.is_client_error(), "{uri}");
        assert_eq!(actual.header("access-control-allow-origin"), Some("*"), "{uri}");
    }
    // Unreadable refusals (an origin rule's) and unknown paths stay refused.
    let reply = preflight(format!("{TILE}?access_token=pk.demo-docs-maps")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let reply = preflight("/v1/other?key=demo-unrestricted".to_owned()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repeated_origin_headers_are_invalid() {
    let (addr, _) = tile_server().await;
    let twice = [("origin", "http://localhost"), ("origin", "http://localhost")];
    let reply = get(addr, &format!("{TILE}?key=demo-web-localhost"), &twice).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.reason().as_deref(), Some("origin_invalid"));
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let mixed = [("origin", "https://evil.example"), ("origin", "http://localhost")];
    let reply = get(addr, &format!("{TILE}?key=demo-web-localhost"), &mixed).await;
    assert_eq!(reply.reason().as_deref(), Some("origin_invalid"));

    // A key without an origin rule ignores the Origin header, however sent.
    let reply = get(addr, &format!("{TILE}?key=demo-unrestricted"), &mixed).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn vary_origin_whenever_the_answer_depended_on_it() {
    let (addr, _) = tile_server().await;
    let cases = [
        (
            "demo-web-localhost",
            Some("http://localhost"),
            StatusCode::OK,
            Some("Origin"),
        ),
        (
            "demo-web-localhost",
            Some("http://evil.example"),
            StatusCode::FORBIDDEN,
            Some("Origin"),
        ),
        ("demo-web-localhost", None, StatusCode::FORBIDDEN, Some("Origin")),
        (
            "demo-web-any-origin",
            Some("http://anything.example"),
            StatusCode::OK,
            Some("Origin"),
        ),
        ("demo-unrestricted", Some("http://localhost"), StatusCode::OK, None),
        ("demo-desktop-styles", None, StatusCode::FORBIDDEN, None),
    ];
    for (key, origin, status, vary) in cases {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let reply = get(addr, &format!("{TILE}?key={key}"), &headers).await;
        assert_eq!((reply.status, reply.header("vary")), (status, vary), "{key} {origin:?}");
    }
}

#[tokio::test]
async fn head_unknown_paths_and_bad_tiles() {
    let (addr, _) = tile_server().await;
    let reply = send(addr, Method::HEAD, &format!("{TILE}?key=demo-unrestricted"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.body.is_empty());
    for uri in ["/", "/v1/tiles/alice.streets/0/0/0.jpg", "/v1/other"] {
        let reply = get(addr, &format!("{uri}?key=demo-unrestricted"), &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.reason().as_deref(), Some("not_found"));
    }
    let reply = get(addr, "/v1/tiles/alice.streets/1/2/0.png?key=demo-unrestricted", &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rotating_keys_takes_effect_at_once() {
    let (addr, keys) = tile_server().await;
    let uri = |key: &str| format!("{TILE}?key={key}");
    assert_eq!(get(addr, &uri("demo-unrestricted"), &[]).await.status, StatusCode::OK);
    keys.update(|map| {
        let old = map.remove("demo-unrestricted").unwrap();
        map.insert("demo-unrestricted-v2".into(), old);
    });
    assert_eq!(
        get(addr, &uri("demo-unrestricted"), &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(addr, &uri("demo-unrestricted-v2"), &[]).await.status,
        StatusCode::OK
    );
    let restricted = KeyPolicy::builder().allowed_tilesets(["bob.*"]).build().unwrap();
    keys.replace(HashMap::from([("k".into(), Credential::from(restricted))]));
    assert_eq!(
        get(addr, &uri("demo-unrestricted-v2"), &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let reply = get(addr, &uri("k"), &[]).await;
    assert_eq!(reply.reason().as_deref(), Some("tileset_not_allowed"));
}

#[tokio::test]
async fn url_restricted_tokens_are_judged_on_the_referer() {
    let (addr, _) = tile_server().await;
    let uri = format!("{TILE}?access_token=pk.demo-localhost");
    let page = [
        ("origin", "http://localhost:5173"),
        ("referer", "http://localhost:5173/map/"),
    ];
    let reply = get(addr, &uri, &page).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(reply.header("vary"), Some("Origin, Referer"));
    assert_eq!(png_size(&reply.body), (256, 256));

    // An allowed Referer with a foreign Origin: served, but not to that origin's scripts.
    let reply = get(
        addr,
        &uri,
        &[
            ("origin", "https://evil.example"),
            ("referer", "http://localhost:5173/"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("vary"), Some("Origin, Referer"));

    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("origin", "http://localhost:5173")], "referer_required"),
        (&[("referer", "https://evil.example/")], "referer_not_allowed"),
        (&[("referer", "http://127.0.0.1:5173/")], "referer_not_allowed"),
        (
            &[("referer", "http://localhost/"), ("referer", "http://localhost/")],
            "referer_not_allowed",
        ),
    ];
    for (headers, reason) in cases {
        let reply = get(addr, &uri, headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(reply.reason().as_deref(), Some(reason), "{headers:?}");
        assert_eq!(reply.header("access-control-allow-origin"), None);
        assert_eq!(reply.header("vary"), Some("Origin, Referer"));
    }

    // Path restrictions need the full Referer, which browsers only send same-origin by default.
    let docs = format!("{TILE}?access_token=pk.demo-docs-maps");
    let full = get(addr, &docs, &[("referer", "https://docs.example.com/maps/city?x=1")]).await;
    assert_eq!(full.status, StatusCode::OK);
    let origin_only = get(addr, &docs, &[("referer", "https://docs.example.com/")]).await;
    assert_eq!(origin_only.reason().as_deref(), Some("referer_not_allowed"));

    // Preflight with a token.
    let headers = [
        ("origin", "http://localhost:5173"),
        ("referer", "http://localhost:5173/"),
        ("access-control-request-method", "GET"),
    ];
    let reply = send(addr, Method::OPTIONS, &uri, &headers).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(reply.header("vary"), Some("Origin, Referer"));
}

#[tokio::test]
async fn tokens_need_their_scope_and_must_not_be_expired() {
    let (addr, _) = tile_server().await;
    let reply = get(addr, &format!("{TILE}?access_token=pk.demo-open"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("vary"), None);

    let reply = get(addr, "/v1/styles/alice/basic?access_token=pk.demo-open", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("access_token=pk.demo-open"), "{}", reply.text());
    // pk.demo-docs-maps has styles:tiles only.
    let reply = get(
        addr,
        "/v1/styles/alice/basic?access_token=pk.demo-docs-maps",
        &[("referer", "https://docs.example.com/maps")],
    )
    .await;
    assert_eq!(reply.reason().as_deref(), Some("scope_missing"));

    let reply = get(addr, "/tiles-auth?access_token=tk.demo-valid", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = get(addr, "/tiles-auth?access_token=tk.demo-expired", &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.reason().as_deref(), Some("token_expired"));
    assert_eq!(reply.header("www-authenticate"), Some(WWW_AUTHENTICATE));

    // Each credential only in its own parameter.
    let reply = get(addr, &format!("{TILE}?key=pk.demo-open"), &[]).await;
    assert_eq!(reply.reason().as_deref(), Some("key_unknown"));
    let reply = get(
        addr,
        &format!("{TILE}?access_token=pk.demo-open&access_token=pk.demo-open"),
        &[],
    )
    .await;
    assert_eq!(reply.reason().as_deref(), Some("key_invalid"));
}

/// Denials and 401s are not tiles: no `Cache-Control` from the example.
#[tokio::test]
async fn only_tiles_are_marked_cacheable() {
    let (addr, _) = tile_server().await;
    let refused = get(addr, &format!("{TILE}?key=demo-web-localhost"), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.header("cache-control"), None);
    let unknown = get(addr, &format!("{TILE}?key=nope"), &[]).await;
    assert_eq!(unknown.header("cache-control"), None);
    let tile = get(addr, &format!("{TILE}?key=demo-unrestricted"), &[]).await;
    assert_eq!(tile.header("cache-control"), Some("max-age=3600"));
}

/// Issue 9: a service that already varies on `origin` does not get a second `Vary: Origin`.
#[tokio::test]
async fn vary_is_merged_with_the_services_own() {
    fn target(_: &axum::http::request::Parts) -> Option<Target<'_>> {
        Some(Target::new(Resource::Tiles))
    }
    let web = KeyPolicy::builder().allowed_domains(["localhost"]).build().unwrap();
    let keys = KeyStore::from_iter([("web", Credential::from(web))]);
    let router = axum::Router::new()
        .route(
            "/t",
            axum::routing::get(|| async { ([(header::VARY, "accept-encoding, origin")], "tile") }),
        )
        .layer(PolicyLayer::new(keys, target));
    let addr = serve(router).await;
    let reply = get(addr, "/t?key=web", &[("origin", "http://localhost")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("vary"), Some("accept-encoding, origin"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://localhost"));
}

/// Issue 9: `--same-origin`: the tile host's own pages send no Origin on
/// a `GET`; opted in, they are judged as the server's public origin.
#[tokio::test]
async fn same_origin_requests_are_judged_as_the_public_origin_when_opted_in() {
    let keys = shipped_keys();
    let addr = serve_at(|addr| {
        let options = app::Options {
            same_origin: vec![format!("http://localhost:{}", addr.port()).parse().unwrap()],
            ..app::Options::default()
        };
        app::router(Arc::clone(&keys), &options)
    })
    .await;
    let host = format!("localhost:{}", addr.port());
    let uri = format!("{TILE}?key=demo-web-localhost");
    let same = [("host", host.as_str()), ("sec-fetch-site", "same-origin")];
    let reply = get(addr, &uri, &same).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("vary"), Some("Origin, Sec-Fetch-Site"));
    // demo-web-app allows localhost:3000's host, any port: the same host.
    let reply = get(addr, &format!("{TILE}?key=demo-web-app"), &same).await;
    assert_eq!(reply.status, StatusCode::OK);
    // A Host that is not the public origin's, or no Sec-Fetch-Site: as before.
    let ip = format!("127.0.0.1:{}", addr.port());
    for headers in [
        vec![("host", ip.as_str()), ("sec-fetch-site", "same-origin")],
        vec![("host", host.as_str()), ("sec-fetch-site", "cross-site")],
        vec![("host", host.as_str())],
    ] {
        let reply = get(addr, &uri, &headers).await;
        assert_eq!(reply.reason().as_deref(), Some("origin_required"), "{headers:?}");
    }
    // Off by default.
    let (plain, _) = tile_server().await;
    let host = format!("localhost:{}", plain.port());
    let same = [("host", host.as_str()), ("sec-fetch-site", "same-origin")];
    let reply = get(plain, &uri, &same).await;
    assert_eq!(reply.reason().as_deref(), Some("origin_required"));
}

/// `--origin-fallback` and `--allow-header` reach the layer.
#[tokio::test]
async fn example_flags_reach_the_layer() {
    let options = app::Options {
        origin_fallback: true,
        allow_headers: vec![header::HeaderName::from_static("x-map-client")],
        ..app::Options::default()
    };
    let addr = serve(app::router(shipped_keys(), &options)).await;
    let token = format!("{TILE}?access_token=pk.demo-localhost");
    let reply = get(addr, &token, &[("origin", "http://localhost:5173")]).await;
    assert_eq!(reply.status, StatusCode::OK, "judged by the Origin: no Referer");
    let (plain, _) = tile_server().await;
    let reply = get(plain, &token, &[("origin", "http://localhost:5173")]).await;
    assert_eq!(reply.reason().as_deref(), Some("referer_required"));

    let headers = [
        ("origin", "http://localhost:5173"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "x-map-client"),
    ];
    let reply = send(
        addr,
        Method::OPTIONS,
        &format!("{TILE}?key=demo-web-localhost"),
        &headers,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("range, x-map-client")
    );
}
