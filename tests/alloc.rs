//! Evaluation must not touch the heap: a counting global allocator proves
//! that `evaluate` and `evaluate_token` perform zero allocations for ASCII
//! headers without punycode labels, on every path (allowed and denied).

#![allow(
    unsafe_code,
    reason = "a GlobalAlloc impl is unsafe by definition; it only delegates to System"
)]
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code: a panic is a failed test")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::token::{Timestamp, TokenScope, TokenUsage};
use keypolicy::{evaluate_key, evaluate_token, KeyPolicy, KeyRequest, TokenPolicy, TokenRequest};

/// Counts allocations made by the current thread, so that tests running in
/// parallel threads do not disturb each other's counts.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method delegates to `System` unchanged; the counter is a
// const-initialized thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    let after = ALLOCATIONS.with(Cell::get);
    drop(out);
    after - before
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations(|| vec![1u8; 16]) >= 1);
}

#[test]
fn key_evaluation_never_allocates_for_ascii_origins() {
    let mut domains: Vec<String> = (0..100).map(|i| format!("site{i}.example.com")).collect();
    domains.extend([
        "münchen.de".into(),
        "*.maps.example.org".into(),
        "127.0.0.1".into(),
        "[::1]".into(),
    ]);
    domains.push("capacitor://localhost".into());
    let policies = [
        KeyPolicy::builder()
            .key_type(KeyType::Web)
            .scopes([KeyScope::TilesRead, KeyScope::StylesRead])
            .allowed_domains(domains)
            .allowed_tilesets(["alice.streets", "bob.*"])
            .build()
            .unwrap(),
        KeyPolicy::builder().key_type(KeyType::Web).build().unwrap(),
        KeyPolicy::builder()
            .key_type(KeyType::Server)
            .scope(KeyScope::ExportRead)
            .build()
            .unwrap(),
        KeyPolicy::unrestricted(),
    ];
    let origins = [
        None,
        Some(""),
        Some("https://site42.example.com"),
        Some("HTTPS://WWW.SITE42.EXAMPLE.COM:443"),
        Some("https://evil.example.com"),
        Some("https://a.b.maps.example.org"),
        Some("https://maps.example.org"),
        // Punycode the allowlist holds: found without IDNA validation.
        Some("https://xn--mnchen-3ya.de"),
        Some("http://0x7f.1"),
        Some("http://[0:0:0:0:0:0:0:1]:8080"),
        Some("capacitor://LOCALHOST"),
        Some("null"),
        Some("https://exa\tmple.com"),
        Some("https://example.com/"),
        Some("https://a.com, https://b.com"),
    ];
    let long = format!("https://{}.com", "a".repeat(100_000));
    let tilesets = [
        None,
        Some("alice.streets"),
        Some("alice.streets,bob.x"),
        Some("carol.x"),
        Some(",,"),
    ];
    let mut evaluated = 0;
    for policy in &policies {
        for origin in origins.iter().copied().chain([Some(long.as_str())]) {
            for tileset in tilesets {
                for resource in [Resource::Tiles, Resource::Styles, Resource::Export] {
                    let mut request = KeyRequest::new(resource);
                    request.origin = origin.map(Into::into);
                    request.tileset = tileset.map(Into::into);
                    let n = allocations(|| evaluate_key(policy, &request));
                    assert_eq!(n, 0, "{origin:?} {tileset:?} {resource:?}");
                    evaluated += 1;
                }
            }
        }
    }
    assert_eq!(evaluated, 4 * 16 * 5 * 3);
}

/// The documented exception: punycode the allowlist does not hold is
/// validated with `idna`, which may allocate. Pin that it is still correct.
#[test]
fn unknown_punycode_is_validated() {
    let policy = KeyPolicy::builder().allowed_domains(["münchen.de"]).build().unwrap();
    let request = KeyRequest::new(Resource::Tiles).with_origin("https://xn--zz.de");
    assert_eq!(evaluate_key(&policy, &request).reason(), Some("origin_invalid"));
}

#[test]
fn token_evaluation_never_allocates_for_ascii_referers() {
    let mut urls: Vec<String> = (0..96)
        .map(|i| format!("https://site{i}.example.com/maps{i}"))
        .collect();
    urls.extend([
        "localhost".into(),
        "münchen.de".into(),
        "http://example.net:8080".into(),
        "example.org/a/b/".into(),
    ]);
    let expires: Timestamp = "2026-11-22T15:00:00Z".parse().unwrap();
    let tokens = [
        TokenPolicy::builder(TokenUsage::Public)
            .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
            .allowed_urls(urls)
            .build()
            .unwrap(),
        TokenPolicy::builder(TokenUsage::Secret)
            .scopes([TokenScope::StylesRead, TokenScope::UploadsWrite])
            .build()
            .unwrap(),
        TokenPolicy::builder(TokenUsage::Temporary)
            .scope(TokenScope::StylesRead)
            .expires(expires)
            .build()
            .unwrap(),
    ];
    let referers = [
        None,
        Some(""),
        Some("https://site42.example.com/maps42/paris?zoom=3#x"),
        Some("https://a.b.site7.example.com/maps7/"),
        Some("HTTPS://SITE7.EXAMPLE.COM:443/maps7"),
        Some("https://site7.example.com/maps8"),
        Some("https://site7.example.com/maps7/../admin"),
        Some("https://site7.example.com/maps7%2F..%2Fadmin"),
        Some("http://site42.example.com/maps42"),
        Some("https://evil.example.com/"),
        Some("https://site42.example.com.evil.net/maps42"),
        Some("http://localhost:3000/"),
        Some("http://example.net:8080/x"),
        Some("http://example.net/x"),
        Some("https://example.org/a/b/c"),
        // Punycode the allowlist holds: found without IDNA validation.
        Some("https://xn--mnchen-3ya.de/karte"),
        Some("http://127.0.0.1/"),
        Some("null"),
        Some("about:blank"),
        Some("https://user@site42.example.com/maps42"),
        Some("https://site%34%32.example.com/"),
        Some("https://exa\tmple.com/"),
    ];
    let long = format!("https://site1.example.com/maps1/{}", "a".repeat(100_000));
    let origins = [
        None,
        Some("https://site42.example.com"),
        Some("https://evil.example.com"),
        Some("null"),
    ];
    let nows: [Option<Timestamp>; 3] = [None, Some("2026-11-22T14:30:00Z".parse().unwrap()), Some(expires)];
    let mut evaluated = 0;
    for token in &tokens {
        for referer in referers.iter().copied().chain([Some(long.as_str())]) {
            for origin in origins {
                for now in nows {
                    for fallback in [false, true] {
                        for scope in [TokenScope::StylesRead, TokenScope::MapRead] {
                            let mut request = TokenRequest::new(scope).with_origin_fallback(fallback);
                            request.referer = referer.map(Into::into);
                            request.origin = origin.map(Into::into);
                            request.now = now;
                            let n = allocations(|| evaluate_token(token, &request));
                            assert_eq!(n, 0, "{referer:?} {origin:?} {now:?} {fallback} {scope}");
                            evaluated += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(evaluated, 3 * 23 * 4 * 3 * 2 * 2);
}
