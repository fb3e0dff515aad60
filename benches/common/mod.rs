//! The typical web key's entries, shared by keypolicy's own benchmarks
//! (`benches/evaluate.rs`) and the peers comparison
//! (`benches/peers/benches/compare.rs`), so both measure the same key.

/// The typical web key's ten `allowed_domains`, written the way users
/// write them: with schemes, ports, `www.`, upper case, one Unicode name
/// and one wildcard.
pub const WEB_DOMAINS: [&str; 10] = [
    "https://www.mappinest.com",
    "app.example.com",
    "http://localhost:3000",
    "https://staging.example.com",
    "maps.example.org",
    "https://Dashboard.Example.NET",
    "www.shop.example.co.uk",
    "blog.example.io:8443",
    "münchen.de",
    "*.cdn.example.com",
];

/// The typical web key's ten `allowed_tilesets`.
pub const WEB_TILESETS: [&str; 10] = [
    "alice.streets-v2",
    "alice.satellite",
    "alice.terrain",
    "alice.outdoors",
    "alice.light",
    "alice.dark",
    "bob.transit",
    "bob.bikes",
    "bob.hillshade",
    "carol.buildings",
];
