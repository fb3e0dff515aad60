//! Answers: a decision's CORS headers on a response, and JSON error
//! responses (with a `WWW-Authenticate` challenge on 401s).

use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::{Response, StatusCode};

use crate::decision::{AllowOrigin, Decision, Denial, Vary};

/// The `WWW-Authenticate` challenge of every 401 answer. RFC 9110 requires
/// one; the credential travels in the query string, not in an
/// `Authorization` header, so the scheme is `ApiKey` with the parameters
/// of OpenAPI's `apiKey` security scheme (`in`, `name`): one challenge
/// per accepted query parameter.
pub const WWW_AUTHENTICATE: &str = r#"ApiKey in="query", name="key", ApiKey in="query", name="access_token""#;

/// The CORS headers of a decision, owned, to put on a response later
/// (e.g. on an inner service's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsHeaders {
    allow_origin: Option<HeaderValue>,
    vary: Vary,
    vary_sec_fetch_site: bool,
}

impl CorsHeaders {
    /// The headers `decision` asks for.
    pub fn of(decision: &Decision<'_>) -> Self {
        CorsHeaders {
            allow_origin: decision.allow_origin().and_then(allow_origin_value),
            vary: decision.vary(),
            vary_sec_fetch_site: false,
        }
    }

    /// [`of`](Self::of), echoing an allowed Origin by cloning `origin`, the
    /// request's own `Origin` header value, when it is that value (the
    /// guard's case): a clone shares the request's bytes where `of` copies
    /// them into a new allocation.
    pub(crate) fn echoing(decision: &Decision<'_>, origin: Option<&HeaderValue>) -> Self {
        let allow_origin = match (decision.allow_origin(), origin) {
            (Some(AllowOrigin::Origin(echoed)), Some(value))
                if value.as_bytes() == echoed.as_bytes() && !value.is_sensitive() =>
            {
                Some(value.clone())
            }
            (allow, _) => allow.and_then(allow_origin_value),
        };
        CorsHeaders {
            allow_origin,
            vary: decision.vary(),
            vary_sec_fetch_site: false,
        }
    }

    /// `Access-Control-Allow-Origin: *` and nothing else: the headers of
    /// answers that are the same for every page (a 401).
    pub(crate) fn any() -> Self {
        CorsHeaders {
            allow_origin: Some(HeaderValue::from_static("*")),
            vary: Vary::default(),
            vary_sec_fetch_site: false,
        }
    }

    /// Also varies on `Sec-Fetch-Site` (the answer to a request without
    /// an Origin depended on it).
    pub(crate) fn varying_on_sec_fetch_site(mut self) -> Self {
        self.vary_sec_fetch_site = true;
        self
    }

    /// Whether the answer will carry `Access-Control-Allow-Origin`, so a
    /// page's script may read it.
    pub fn is_readable(&self) -> bool {
        self.allow_origin.is_some()
    }

    /// Puts the headers on a response: sets `Access-Control-Allow-Origin`
    /// (replacing any already there, or removing it when the decision
    /// sends none: only the policy says who may read the answer) and
    /// merges `Vary`: each header name is added unless the response
    /// already varies on it (compared case-insensitively) or on `*`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        match &self.allow_origin {
            Some(value) => {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value.clone());
            }
            None => {
                headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            }
        }
        merge_vary(
            headers,
            [
                (self.vary.origin, "Origin"),
                (self.vary.referer, "Referer"),
                (self.vary_sec_fetch_site, "Sec-Fetch-Site"),
            ],
        );
    }
}

/// Adds the names (`Origin`, `Referer`, `Sec-Fetch-Site`, those whose flag
/// is set) that a response does not already vary on to its `Vary`, in one
/// header line. Every such line is a static value: nothing is allocated.
fn merge_vary(headers: &mut HeaderMap, names: [(bool, &'static str); 3]) {
    let mut missing = 0;
    for (bit, (on, name)) in names.into_iter().enumerate() {
        if on && !varies_on(headers, name) {
            missing |= 1 << bit;
        }
    }
    if let Some(line) = VARY_LINES.get(missing).copied().flatten() {
        headers.append(header::VARY, HeaderValue::from_static(line));
    }
}

/// The `Vary` line for each set of missing names, by bit (`Origin` 1,
/// `Referer` 2, `Sec-Fetch-Site` 4), in [`CorsHeaders::apply`]'s order.
const VARY_LINES: [Option<&str>; 8] = [
    None,
    Some("Origin"),
    Some("Referer"),
    Some("Origin, Referer"),
    Some("Sec-Fetch-Site"),
    Some("Origin, Sec-Fetch-Site"),
    Some("Referer, Sec-Fetch-Site"),
    Some("Origin, Referer, Sec-Fetch-Site"),
];

/// Whether the response's `Vary` (any of its lines) lists `name` or `*`.
fn varies_on(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|token| token == "*" || token.eq_ignore_ascii_case(name))
}

/// Adds a decision's CORS headers to a response: see
/// [`CorsHeaders::apply`]. `Access-Control-Allow-Origin` is set from the
/// decision (a service's own is removed when the decision sends none), and
/// the decision's `Vary` is merged with the service's (e.g.
/// `Vary: Accept-Encoding` becomes `Accept-Encoding, Origin`; an existing
/// `vary: origin` is kept as it is).
pub fn apply_cors(decision: &Decision<'_>, headers: &mut HeaderMap) {
    CorsHeaders::of(decision).apply(headers);
}

/// The `Access-Control-Allow-Origin` header value. An echoed Origin passed
/// the strict parser, so it is visible ASCII; if it somehow were not, no
/// header is sent (fail closed: the browser will not expose the answer).
fn allow_origin_value(allow: AllowOrigin<'_>) -> Option<HeaderValue> {
    match allow {
        AllowOrigin::Any => Some(HeaderValue::from_static("*")),
        AllowOrigin::Origin(origin) => HeaderValue::from_str(origin).ok(),
    }
}

/// The JSON error body `{"message": "…", "reason": "…"}`.
///
/// ```
/// assert_eq!(
///     keypolicy::http::error_body("Missing or invalid key", "key_missing"),
///     r#"{"message":"Missing or invalid key","reason":"key_missing"}"#
/// );
/// ```
pub fn error_body(message: &str, reason: &str) -> String {
    let mut body = String::with_capacity(message.len() + reason.len() + 26);
    body.push_str("{\"message\":");
    push_json_string(&mut body, message);
    body.push_str(",\"reason\":");
    push_json_string(&mut body, reason);
    body.push('}');
    body
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON error response: `status`, `Content-Type: application/json` and
/// the [`error_body`]; a 401 also carries [`WWW_AUTHENTICATE`].
pub fn error_response<B: From<String>>(status: StatusCode, message: &str, reason: &str) -> Response<B> {
    let mut response = Response::new(B::from(error_body(message, reason)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(WWW_AUTHENTICATE));
    }
    response
}

/// The response for a denied decision — its status, CORS headers and JSON
/// body — or `None` when the decision allows the request.
///
/// ```
/// use keypolicy::http::denial_response;
/// use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
/// use keypolicy::key::{KeyType, Resource};
/// let policy = KeyPolicy::builder().key_type(KeyType::Web).build()?;
/// let request = KeyRequest::new(Resource::Tiles); // no Origin
/// let response = denial_response::<String>(&evaluate_key(&policy, &request)).unwrap();
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["vary"], "Origin");
/// assert!(response.body().contains(r#""reason":"origin_required""#));
/// # Ok::<(), keypolicy::key::KeyPolicyError>(())
/// ```
pub fn denial_response<B: From<String>>(decision: &Decision<'_>) -> Option<Response<B>> {
    Some(refusal(decision.denial()?, &CorsHeaders::of(decision)))
}

/// The response for `denial`, with `cors` on it.
pub(crate) fn refusal<B: From<String>>(denial: Denial, cors: &CorsHeaders) -> Response<B> {
    let status = StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = error_response(status, denial.message(), denial.reason());
    cors.apply(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{parts, tiles_token};
    use crate::http::{key_request, Target};
    use crate::key::{KeyRequest, KeyType, Resource};
    use crate::token::{Timestamp, TokenScope, TokenUsage};
    use crate::{evaluate_key, evaluate_token, Denial, KeyPolicy, TokenPolicy, TokenRequest};

    fn vary_lines(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all(header::VARY)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn cors_headers_replace_allow_origin_and_merge_vary() {
        let web = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
        let target = Target::new(Resource::Styles);
        let p = parts(|b| b.header("origin", "https://a.com"));
        let request = key_request(&p, &target);
        let decision = evaluate_key(&web, &request);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        apply_cors(&decision, &mut headers);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        assert_eq!(vary_lines(&headers), ["Accept-Encoding", "Origin"]);

        // Denied for an origin-rule key: the service's own `*` is removed.
        let none = parts(|b| b);
        let request = key_request(&none, &target);
        let decision = evaluate_key(&web, &request);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        apply_cors(&decision, &mut headers);
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(headers[header::VARY], "Origin");
    }

    #[test]
    fn vary_is_merged_case_insensitively() {
        let token = tiles_token(&["https://a.com"]);
        let request = TokenRequest::new(TokenScope::StylesTiles).with_referer("https://a.com/");
        let decision = evaluate_token(&token, &request);
        assert_eq!(decision.vary().header_value(), Some("Origin, Referer"));
        let cases: [(&[&str], &[&str]); 6] = [
            (&[], &["Origin, Referer"]),
            (&["origin"], &["origin", "Referer"]),
            (&["Accept-Encoding, ORIGIN"], &["Accept-Encoding, ORIGIN", "Referer"]),
            (
                &["accept-encoding", " referer ,origin"],
                &["accept-encoding", " referer ,origin"],
            ),
            (&["*"], &["*"]),
            (&["Origins"], &["Origins", "Origin, Referer"]),
        ];
        for (before, after) in cases {
            let mut headers = HeaderMap::new();
            for line in before {
                headers.append(header::VARY, HeaderValue::from_str(line).unwrap());
            }
            apply_cors(&decision, &mut headers);
            assert_eq!(vary_lines(&headers), after, "{before:?}");
        }
        // Sec-Fetch-Site joins the list when the guard read it.
        let mut headers = HeaderMap::new();
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        CorsHeaders::of(&decision)
            .varying_on_sec_fetch_site()
            .apply(&mut headers);
        assert_eq!(vary_lines(&headers), ["origin", "Referer, Sec-Fetch-Site"]);
    }

    #[test]
    fn every_vary_line_lists_the_missing_names_in_order() {
        let names = ["Origin", "Referer", "Sec-Fetch-Site"];
        for mask in 0..8usize {
            let on = |bit: usize| mask & (1 << bit) != 0;
            let cors = CorsHeaders {
                allow_origin: None,
                vary: Vary {
                    origin: on(0),
                    referer: on(1),
                },
                vary_sec_fetch_site: on(2),
            };
            let expected: Vec<&str> = (0..3).filter(|&bit| on(bit)).map(|bit| names[bit]).collect();
            let mut headers = HeaderMap::new();
            cors.apply(&mut headers);
            let lines = vary_lines(&headers);
            if expected.is_empty() {
                assert!(lines.is_empty(), "{mask}");
            } else {
                assert_eq!(lines, [expected.join(", ")], "{mask}");
            }
        }
    }

    #[test]
    fn an_echoed_origin_is_the_request_header_value() {
        let web = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
        let target = Target::new(Resource::Styles);
        let p = parts(|b| b.header("origin", "https://a.com"));
        let request = key_request(&p, &target);
        let decision = evaluate_key(&web, &request);
        let sent = p.headers.get(header::ORIGIN);
        assert_eq!(CorsHeaders::echoing(&decision, sent), CorsHeaders::of(&decision));
        // A value that is not the echoed Origin is not used: `of`'s answer.
        let other = HeaderValue::from_static("https://b.com");
        let cors = CorsHeaders::echoing(&decision, Some(&other));
        assert_eq!(cors, CorsHeaders::of(&decision));
        assert_eq!(
            cors.allow_origin.as_ref().map(HeaderValue::as_bytes),
            Some(&b"https://a.com"[..])
        );
        // `*` stays `*`.
        let open = KeyPolicy::unrestricted();
        let decision = evaluate_key(&open, &request);
        assert_eq!(CorsHeaders::echoing(&decision, sent), CorsHeaders::any());
    }

    #[test]
    fn denials_become_json_responses() {
        let scoped = KeyPolicy::builder()
            .scope(crate::key::KeyScope::StylesRead)
            .build()
            .unwrap();
        let request = KeyRequest::new(Resource::Tiles);
        let response: Response<String> = denial_response(&evaluate_key(&scoped, &request)).unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(response.headers().get(header::VARY).is_none());
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(
            *response.body(),
            format!(
                r#"{{"message":"{}","reason":"scope_missing"}}"#,
                Denial::ScopeMissing.message()
            )
        );
        let open = KeyPolicy::unrestricted();
        assert!(denial_response::<String>(&evaluate_key(&open, &request)).is_none());
    }

    #[test]
    fn every_401_carries_a_challenge() {
        let expired = TokenPolicy::builder(TokenUsage::Temporary)
            .scope(TokenScope::StylesTiles)
            .expires(Timestamp::from_unix_seconds(1_600_000_000).unwrap())
            .build()
            .unwrap();
        let request = TokenRequest::new(TokenScope::StylesTiles);
        let response: Response<String> = denial_response(&evaluate_token(&expired, &request)).unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], WWW_AUTHENTICATE);
        let response: Response<String> = error_response(StatusCode::UNAUTHORIZED, "m", "key_missing");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], WWW_AUTHENTICATE);
        let response: Response<String> = error_response(StatusCode::NOT_FOUND, "m", "not_found");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            error_body("a\"b\\c\nd", "r"),
            r#"{"message":"a\"b\\c\u000ad","reason":"r"}"#
        );
    }
}
