//! The guard's pipeline, request by request, without any framework.

use super::*;
use crate::http::testing::tiles_token;
use crate::http::KeyStore;
use crate::http::PublicOrigin;
use crate::key::{KeyPolicy, KeyScope, KeyType, Resource};
use crate::token::{TokenPolicy, TokenUsage};
use ::http::Request;
use std::collections::HashMap;

fn target(parts: &Parts) -> Option<Target<'_>> {
    match parts.uri.path() {
        "/tiles" => Some(Target::new(Resource::Tiles).with_tileset("alice.streets")),
        "/styles" => Some(Target::new(Resource::Styles)),
        "/export" => Some(Target::new(Resource::Export)),
        _ => None,
    }
}

fn store() -> KeyStore {
    let web = KeyPolicy::builder()
        .key_type(KeyType::Web)
        .scope(KeyScope::TilesRead)
        .allowed_domains(["a.com"])
        .build()
        .unwrap();
    let url_token = tiles_token(&["https://a.com/maps"]);
    let expired = TokenPolicy::builder(TokenUsage::Temporary)
        .scope(TokenScope::StylesTiles)
        .expires(Timestamp::from_unix_seconds(1_600_000_000).unwrap())
        .build()
        .unwrap();
    let open_token = tiles_token(&[]);
    let tiles_host = KeyPolicy::builder().allowed_domains(["tiles.test"]).build().unwrap();
    KeyStore::from_iter([
        ("web", Credential::from(web)),
        ("open", KeyPolicy::unrestricted().into()),
        ("pk.url", url_token.into()),
        ("tk.expired", expired.into()),
        ("pk.open", open_token.into()),
        ("tiles-host", tiles_host.into()),
    ])
}

type TestGuard = Guard<Arc<KeyStore>, fn(&Parts) -> Option<Target<'_>>>;

fn guard(store: impl Into<Arc<KeyStore>>) -> TestGuard {
    Guard::new(store.into(), target as fn(&Parts) -> Option<Target<'_>>)
}

/// What a layer does with the guard's verdict: its answer, or the
/// service's (`tile`, with the service's own `*`) with the CORS
/// headers added.
fn call(guard: &TestGuard, request: Request<String>) -> Response<String> {
    let (parts, _) = request.into_parts();
    match guard.check(&parts) {
        Verdict::Answer(response) => response,
        Verdict::Pass(cors) => {
            let mut response = Response::new("tile".to_owned());
            response
                .headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            cors.apply(response.headers_mut());
            response
        }
    }
}

/// A `GET` from a page on `https://a.com`, with a Referer if given.
fn from_a_com(uri: &str, referer: Option<&str>) -> Request<String> {
    let mut builder = Request::get(uri).header("origin", "https://a.com");
    if let Some(referer) = referer {
        builder = builder.header("referer", referer);
    }
    builder.body(String::new()).unwrap()
}

fn get(uri: &str, origin: Option<&str>) -> Request<String> {
    let mut builder = Request::get(uri);
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    builder.body(String::new()).unwrap()
}

#[test]
fn keys_are_checked_before_the_inner_service() {
    let service = guard(store());
    let cases = [
        ("/tiles", 401, "key_missing"),
        ("/tiles?key=", 401, "key_invalid"),
        ("/tiles?key=web&key=web", 401, "key_invalid"),
        ("/tiles?key=nope", 401, "key_unknown"),
        ("/tiles?access_token=web", 401, "key_unknown"),
        ("/other?key=web", 404, "not_found"),
        ("/styles?key=web", 403, "scope_missing"),
    ];
    for (uri, status, reason) in cases {
        let response = call(&service, get(uri, Some("https://a.com")));
        assert_eq!(response.status(), status, "{uri}");
        assert!(response.body().contains(&format!(r#""reason":"{reason}""#)), "{uri}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
    let response = call(&service, get("/tiles", None));
    assert_eq!(
        response.body(),
        r#"{"message":"Missing or invalid key","reason":"key_missing"}"#
    );
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

#[test]
fn allowed_responses_carry_the_policys_cors_headers() {
    let service = guard(store());
    let response = call(&service, get("/tiles?key=web", Some("https://www.a.com")));
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "tile");
    // The inner service's own `*` is replaced by the echoed origin.
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://www.a.com"
    );
    assert_eq!(response.headers()[header::VARY], "Origin");

    let response = call(&service, get("/tiles?key=web", Some("https://evil.com")));
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let response = call(&service, get("/tiles?key=open", Some("https://evil.com")));
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(response.headers().get(header::VARY).is_none());
}

#[test]
fn preflights_are_answered_for_allowed_origins_only() {
    let service = guard(store())
        .allow_headers([header::RANGE, header::IF_NONE_MATCH])
        .max_age(Duration::from_secs(60));
    let preflight = |origin: &str| {
        Request::options("/tiles?key=web")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(String::new())
            .unwrap()
    };
    let response = call(&service, preflight("https://a.com"));
    assert_eq!(response.status(), 204);
    assert_eq!(response.body(), "");
    let h = response.headers();
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], "range, if-none-match");
    assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "60");
    assert_eq!(h[header::VARY], "Origin");

    let response = call(&service, preflight("https://evil.com"));
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // OPTIONS without Access-Control-Request-Method is not a preflight.
    let plain = Request::options("/tiles?key=web")
        .header("origin", "https://a.com")
        .body(String::new())
        .unwrap();
    assert_eq!(call(&service, plain).body(), "tile");
}

#[test]
fn tokens_are_judged_on_the_referer() {
    let service = guard(store());
    let request = from_a_com;
    let response = call(
        &service,
        request("/tiles?access_token=pk.url", Some("https://a.com/maps/x")),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
    assert_eq!(response.headers()[header::VARY], "Origin, Referer");

    let cases = [
        ("/tiles?access_token=pk.url", None, 403, "referer_required"),
        (
            "/tiles?access_token=pk.url",
            Some("https://a.com/other"),
            403,
            "referer_not_allowed",
        ),
        // `styles` needs styles:read, which the token lacks.
        (
            "/styles?access_token=pk.url",
            Some("https://a.com/maps"),
            403,
            "scope_missing",
        ),
        (
            "/export?access_token=pk.url",
            Some("https://a.com/maps"),
            403,
            "scope_missing",
        ),
        ("/tiles?access_token=tk.expired", None, 401, "token_expired"),
        ("/tiles?key=pk.url", Some("https://a.com/maps"), 401, "key_unknown"),
    ];
    for (uri, referer, status, reason) in cases {
        let response = call(&service, request(uri, referer));
        assert_eq!(response.status(), status, "{uri} {referer:?}");
        assert!(response.body().contains(&format!(r#""reason":"{reason}""#)), "{uri}");
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none() || status == 401);
    }

    // The Origin fallback is opt-in.
    let service = guard(store()).origin_fallback(true);
    let response = call(&service, request("/tiles?access_token=pk.url", None));
    assert_eq!(
        response.status(),
        403,
        "an Origin has no path, so /maps cannot match it"
    );
}

#[test]
fn the_store_swaps_keys_atomically() {
    let keys = Arc::new(store());
    let service = guard(Arc::clone(&keys));
    assert_eq!(call(&service, get("/tiles?key=open", None)).status(), 200);
    let old = keys.replace(HashMap::from([("rotated".into(), KeyPolicy::unrestricted().into())]));
    assert_eq!(old.len(), 6);
    assert_eq!(call(&service, get("/tiles?key=open", None)).status(), 401);
    assert_eq!(call(&service, get("/tiles?key=rotated", None)).status(), 200);
    keys.update(|map| {
        map.remove("rotated");
    });
    assert!(keys.is_empty());
    assert_eq!(call(&service, get("/tiles?key=rotated", None)).status(), 401);
}

#[test]
fn every_401_carries_a_challenge_and_star() {
    let service = guard(store());
    for uri in [
        "/tiles",
        "/tiles?key=",
        "/tiles?key=nope",
        "/tiles?access_token=tk.expired",
    ] {
        let response = call(&service, get(uri, Some("https://a.com")));
        assert_eq!(response.status(), 401, "{uri}");
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            crate::http::WWW_AUTHENTICATE
        );
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
    let response = call(&service, get("/tiles?key=web", Some("https://evil.com")));
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
}

/// Issue 9: a token on a target with no token scope is refused through a
/// decision, with the headers of any other `scope_missing`, after the
/// token's earlier rules.
#[test]
fn a_target_without_token_scope_is_a_decision() {
    let service = guard(store());
    let with = |uri: &str, referer: Option<&str>| call(&service, from_a_com(uri, referer));
    // An unrestricted token: its answers do not depend on the page, so `*`.
    let response = with("/export?access_token=pk.open", None);
    assert_eq!(response.status(), 403);
    assert!(response.body().contains(r#""reason":"scope_missing""#));
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    // The same refusal as a scope the token lacks (`styles:read`).
    let lacking = with("/styles?access_token=pk.open", None);
    assert_eq!(lacking.headers(), response.headers());
    // A URL-restricted token: Vary, no echo; and its Referer rule comes first.
    let response = with("/export?access_token=pk.url", Some("https://a.com/maps"));
    assert!(response.body().contains(r#""reason":"scope_missing""#));
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(response.headers()[header::VARY], "Origin, Referer");
    let response = with("/export?access_token=pk.url", Some("https://evil.com/"));
    assert!(response.body().contains(r#""reason":"referer_not_allowed""#));
    // Expiry comes first too.
    let response = with("/export?access_token=tk.expired", None);
    assert_eq!(response.status(), 401);
    assert!(response.body().contains(r#""reason":"token_expired""#));
}

#[test]
fn preflights_go_through_when_the_actual_answer_is_readable() {
    let service = guard(store()).allow_headers([header::RANGE]);
    let preflight = |uri: &str, origin: &str| {
        let request = Request::options(uri)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(String::new())
            .unwrap();
        call(&service, request)
    };
    for uri in [
        "/tiles",
        "/tiles?key=nope",
        "/tiles?key=a&access_token=b",
        "/tiles?access_token=tk.expired",
        "/styles?key=open&x=1",
        "/export?access_token=pk.open",
    ] {
        let response = preflight(uri, "https://evil.com");
        assert_eq!(response.status(), 204, "{uri}");
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*", "{uri}");
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "range",
            "{uri}"
        );
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none(), "{uri}");
        assert_eq!(response.body(), "");
    }
    // Allowed without an echo (the Referer passes, the Origin is foreign):
    // still answered by the guard, without Access-Control-Allow-Origin.
    let request = Request::options("/tiles?access_token=pk.url")
        .header("origin", "https://evil.com")
        .header("referer", "https://a.com/maps/x")
        .header("access-control-request-method", "GET")
        .body(String::new())
        .unwrap();
    let response = call(&service, request);
    assert_eq!(response.status(), 204);
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(response.body(), "");
    // The page could not read these answers: refused as before.
    assert_eq!(preflight("/tiles?key=web", "https://evil.com").status(), 403);
    assert_eq!(preflight("/tiles?access_token=pk.url", "https://a.com").status(), 403);
    assert_eq!(preflight("/elsewhere?key=open", "https://a.com").status(), 404);
}

#[test]
fn same_origin_pages_are_judged_as_the_public_origin_when_opted_in() {
    let public: PublicOrigin = "https://tiles.test".parse().unwrap();
    let request = |key: &str, site: Option<&str>, origin: Option<&str>| {
        let mut builder = Request::get(format!("/tiles?key={key}")).header("host", "tiles.test");
        if let Some(site) = site {
            builder = builder.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder.body(String::new()).unwrap()
    };
    let off = guard(store());
    let on = guard(store()).same_origin([public]);
    let reason = |response: &Response<String>| response.body().split('"').nth(7).map(str::to_owned);

    // Off by default: a same-origin fetch has no Origin.
    let response = call(&off, request("tiles-host", Some("same-origin"), None));
    assert_eq!(reason(&response).as_deref(), Some("origin_required"));
    assert_eq!(response.headers()[header::VARY], "Origin");

    let response = call(&on, request("tiles-host", Some("same-origin"), None));
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://tiles.test"
    );
    assert_eq!(response.headers()[header::VARY], "Origin, Sec-Fetch-Site");
    // The key must allow the public origin like any other.
    let response = call(&on, request("web", Some("same-origin"), None));
    assert_eq!(reason(&response).as_deref(), Some("origin_not_allowed"));
    // Not same-origin, or with an Origin of its own: judged as before.
    for site in [None, Some("same-site"), Some("cross-site"), Some("none")] {
        let response = call(&on, request("tiles-host", site, None));
        assert_eq!(reason(&response).as_deref(), Some("origin_required"), "{site:?}");
        assert_eq!(response.headers()[header::VARY], "Origin, Sec-Fetch-Site");
    }
    let response = call(
        &on,
        request("tiles-host", Some("same-origin"), Some("https://evil.com")),
    );
    assert_eq!(reason(&response).as_deref(), Some("origin_not_allowed"));
    assert_eq!(response.headers()[header::VARY], "Origin");
    // Keys without an origin rule neither read nor vary.
    let response = call(&on, request("open", Some("same-origin"), None));
    assert_eq!(response.status(), 200);
    assert!(response.headers().get(header::VARY).is_none());
}
