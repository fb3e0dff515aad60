//! Fuzz target: arbitrary bytes as a token-policy JSON document (the Tokens
//! API's shape) and as a token-request JSON document.
//!
//! Properties: parsing never panics; a token that parses serializes to JSON
//! that parses back to the same token (usage, scopes, normalized allowed
//! URLs, expiry, flags) and to the same JSON (a fixed point); a request that
//! parses serializes and reads back equal; and the re-read token decides a
//! few fixed requests exactly like the original.

#![no_main]

use keypolicy::{evaluate_token, TokenPolicy, TokenRequest};
use keypolicy::token::TokenScope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = serde_json::from_slice::<TokenPolicy>(data) {
        let json = serde_json::to_string(&token).expect("a token always serializes");
        let again: TokenPolicy = serde_json::from_str(&json).expect("a serialized token parses back");
        assert_eq!(again.usage(), token.usage(), "{json}");
        assert_eq!(again.scopes(), token.scopes(), "{json}");
        assert_eq!(again.allowed_urls(), token.allowed_urls(), "{json}");
        assert_eq!(again.expires(), token.expires(), "{json}");
        assert_eq!(again.is_default(), token.is_default(), "{json}");
        assert_eq!(again.note(), token.note(), "{json}");
        assert_eq!(serde_json::to_string(&again).expect("serializes"), json);
        // Each entry's Display form is itself a valid entry equal to it.
        for url in token.allowed_urls() {
            let text = url.to_string();
            assert_eq!(text.parse::<keypolicy::token::AllowedUrl>().as_ref(), Ok(url), "{text}");
        }
        let now = token
            .expires()
            .and_then(|e| keypolicy::token::Timestamp::from_unix_seconds(e.unix_seconds() - 1));
        for url in token.allowed_urls().iter().take(4) {
            let referer = format!("https://{}/", url.host());
            for scope in [TokenScope::StylesRead, TokenScope::MapRead] {
                let mut request = TokenRequest::new(scope).with_referer(referer.as_str());
                if let Some(now) = now {
                    request = request.with_now(now);
                }
                assert_eq!(
                    evaluate_token(&token, &request),
                    evaluate_token(&again, &request),
                    "{json} {referer}"
                );
            }
        }
    }
    if let Ok(request) = serde_json::from_slice::<TokenRequest<'_>>(data) {
        let json = serde_json::to_string(&request).expect("a request always serializes");
        let again: TokenRequest<'_> = serde_json::from_str(&json).expect("a serialized request parses back");
        assert_eq!(again, request, "{json}");
        let open = TokenPolicy::builder(keypolicy::token::TokenUsage::Secret)
            .scopes(TokenScope::ALL)
            .build()
            .expect("fixed token is valid");
        assert!(evaluate_token(&open, &request).is_allowed(), "{json}");
    }
});
