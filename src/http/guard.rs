//! The whole request pipeline, framework-free: credential → lookup →
//! target → evaluate → an answer of its own, or "pass" with the CORS
//! headers to put on the real answer. [`tower`](crate::tower) wraps it in
//! a `Layer`; any other framework can call [`Guard::check`] itself.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::http::header::{self, HeaderName, HeaderValue};
use ::http::request::Parts;
use ::http::{Method, Response, StatusCode};

use crate::decision::{Decision, Denial};
use crate::http::credential::{Credential, KeyLookup};
use crate::http::query::credential_from_query;
use crate::http::request::{key_request_with_origin, token_request_with_origin};
use crate::http::response::{error_response, refusal, CorsHeaders};
use crate::http::same_origin::{effective_origin, PublicOrigin};
use crate::http::target::Target;
use crate::key::evaluate_key;
use crate::token::{evaluate_token, Timestamp, TokenScope};

/// The message of every 401 answer.
pub const MISSING_OR_INVALID_KEY: &str = "Missing or invalid key";

/// The default `Access-Control-Max-Age` of preflight answers: two hours,
/// Chromium's cap (Firefox allows a day). A cached preflight never lets a
/// revoked origin read anything: every actual request is checked again.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7200);

/// What the guard does with a request.
///
/// Deliberately not `#[non_exhaustive]`: a caller must handle both, and a
/// third outcome would need every caller's attention.
#[derive(Debug)]
#[must_use]
pub enum Verdict<B> {
    /// Answer it with this response; the service behind is not called.
    Answer(Response<B>),
    /// Serve it, and put these headers on the answer.
    Pass(CorsHeaders),
}

/// How the guard answers preflights, and its opt-ins.
#[derive(Debug, Clone)]
struct Options {
    allow_headers: Option<HeaderValue>,
    max_age: HeaderValue,
    origin_fallback: bool,
    same_origin: Vec<PublicOrigin>,
}

/// The request pipeline: finds the key or token in the query string,
/// looks it up, asks the target function what the request is for,
/// evaluates, and says whether to serve it. See the
/// [module documentation of `tower`](crate::tower) for the answers, and
/// `PolicyLayer` for the same thing as a `tower::Layer`.
///
/// `L` looks keys up, `T` maps a request to its [`Target`] (`None`: not a
/// path this guard knows → 404). Cloning is cheap (all shared).
///
/// ```
/// use http::request::Parts;
/// use keypolicy::http::{Credential, Guard, KeyStore, Target, Verdict};
/// use keypolicy::key::Resource;
/// use keypolicy::KeyPolicy;
///
/// let policy = KeyPolicy::builder().allowed_domains(["app.example.com"]).build()?;
/// let keys = KeyStore::from_iter([("my-key", Credential::from(policy))]);
/// fn target(_: &Parts) -> Option<Target<'_>> {
///     Some(Target::new(Resource::Tiles))
/// }
/// let guard = Guard::new(keys, target);
///
/// let (parts, ()) = http::Request::get("/t?key=my-key")
///     .header("origin", "https://app.example.com")
///     .body(())?
///     .into_parts();
/// let Verdict::Pass(cors) = guard.check::<String>(&parts) else { panic!("refused") };
/// let mut response = http::Response::new("tile");
/// cors.apply(response.headers_mut());
/// assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
///
/// let (parts, ()) = http::Request::get("/t?key=other").body(())?.into_parts();
/// let Verdict::Answer(response) = guard.check::<String>(&parts) else { panic!("served") };
/// assert_eq!(response.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Guard<L, T> {
    lookup: Arc<L>,
    target: Arc<T>,
    options: Arc<Options>,
}

impl<L, T> Clone for Guard<L, T> {
    fn clone(&self) -> Self {
        Guard {
            lookup: Arc::clone(&self.lookup),
            target: Arc::clone(&self.target),
            options: Arc::clone(&self.options),
        }
    }
}

impl<L, T> Guard<L, T>
where
    L: KeyLookup,
    T: for<'a> Fn(&'a Parts) -> Option<Target<'a>> + Send + Sync,
{
    /// A guard that looks keys up in `lookup` and asks `target` what each
    /// request is for.
    pub fn new(lookup: L, target: T) -> Self {
        Guard {
            lookup: Arc::new(lookup),
            target: Arc::new(target),
            options: Arc::new(Options {
                allow_headers: None,
                max_age: max_age_value(DEFAULT_MAX_AGE),
                origin_fallback: false,
                same_origin: Vec::new(),
            }),
        }
    }

    /// Judges a request: the answer to send without calling the service
    /// behind (a 401, 404 or policy denial, or a preflight's answer), or
    /// the CORS headers to add to the service's answer.
    pub fn check<B: From<String>>(&self, parts: &Parts) -> Verdict<B> {
        let preflight =
            parts.method == Method::OPTIONS && parts.headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let (refused, cors) = match self.judge(parts) {
            Outcome::NotFound => {
                return Verdict::Answer(error_response(StatusCode::NOT_FOUND, "Not Found", "not_found"));
            }
            Outcome::Unauthorized(reason) => {
                let cors = CorsHeaders::any();
                let mut response = error_response(StatusCode::UNAUTHORIZED, MISSING_OR_INVALID_KEY, reason);
                cors.apply(response.headers_mut());
                (Some(response), cors)
            }
            Outcome::Decided { denial, cors } => (denial.map(|denial| refusal(denial, &cors)), cors),
        };
        // A preflight is answered OK whenever the page could read the
        // actual request's answer — the resource, or a readable error
        // (`*`: a 401, or a denial by a key without an origin rule) — so
        // that the browser sends it and the page learns why it failed.
        // The actual request is always checked again.
        // An allowed preflight is always answered here (it never reaches
        // the service), with or without an Origin to echo.
        if preflight && (refused.is_none() || cors.is_readable()) {
            return Verdict::Answer(self.preflight_response(&cors));
        }
        match refused {
            Some(response) => Verdict::Answer(response),
            None => Verdict::Pass(cors),
        }
    }

    fn judge(&self, parts: &Parts) -> Outcome {
        let credential = match credential_from_query(parts.uri.query()) {
            Ok(Some(credential)) => credential,
            Ok(None) => return Outcome::Unauthorized("key_missing"),
            Err(_) => return Outcome::Unauthorized("key_invalid"),
        };
        let policy = match self.lookup.lookup(&credential.value) {
            Some(policy) if policy.kind() == credential.kind => policy,
            _ => return Outcome::Unauthorized("key_unknown"),
        };
        let Some(target) = (self.target)(parts) else {
            return Outcome::NotFound;
        };
        let authority = parts.uri.authority().map(|a| a.as_str());
        let (origin, origin_value, read_sec_fetch_site) =
            effective_origin(&parts.headers, authority, &self.options.same_origin);
        let summary = |decision: &Decision<'_>| {
            (
                decision.denial(),
                CorsHeaders::echoing(decision, origin_value),
                decision.vary(),
            )
        };
        let (denial, cors, vary) = match &policy {
            Credential::Key(policy) => {
                let request = key_request_with_origin(origin, &target);
                summary(&evaluate_key(policy, &request))
            }
            Credential::Token(policy) => {
                let now = Timestamp::from_system_time(SystemTime::now());
                // A target that no token scope covers is still judged by
                // the token's other rules (expiry, Referer) with any scope,
                // then refused `scope_missing`, so that refusal carries the
                // same headers as any other `scope_missing`.
                let scope = target.token_scope.unwrap_or(TokenScope::StylesTiles);
                let request = token_request_with_origin(&parts.headers, origin, scope, Some(now))
                    .with_origin_fallback(self.options.origin_fallback);
                let decision = evaluate_token(policy, &request);
                match target.token_scope {
                    Some(_) => summary(&decision),
                    None => summary(&no_token_scope(decision)),
                }
            }
        };
        // The answer to a request without an Origin depended on
        // `Sec-Fetch-Site`: a cache must not hand a same-origin page's
        // answer to a client that sent none.
        let cors = if read_sec_fetch_site && vary.origin {
            cors.varying_on_sec_fetch_site()
        } else {
            cors
        };
        Outcome::Decided { denial, cors }
    }

    fn preflight_response<B: From<String>>(&self, cors: &CorsHeaders) -> Response<B> {
        let mut response = Response::new(B::from(String::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        cors.apply(headers);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD"),
        );
        if let Some(allow) = &self.options.allow_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow.clone());
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, self.options.max_age.clone());
        response
    }
}

impl<L, T> Guard<L, T> {
    fn options_mut(&mut self) -> &mut Options {
        Arc::make_mut(&mut self.options)
    }

    /// Request headers that allowed preflights accept, beyond the CORS
    /// safelisted ones (`Accept`, `Accept-Language`, …), e.g. `Range` for
    /// PMTiles-style range reads. None by default: a map's plain `fetch`
    /// of a tile sends no preflight at all.
    #[must_use]
    pub fn allow_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        let list = headers
            .into_iter()
            .map(|h| h.as_str().to_owned())
            .collect::<Vec<_>>()
            .join(", ");
        // Header names are tokens, so the joined list is a valid value.
        self.options_mut().allow_headers = HeaderValue::from_str(&list).ok().filter(|v| !v.is_empty());
        self
    }

    /// How long browsers may cache a preflight answer
    /// ([`DEFAULT_MAX_AGE`] unless set), in whole seconds.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.options_mut().max_age = max_age_value(max_age);
        self
    }

    /// Turns on the access tokens' Origin fallback (off by default): a
    /// URL-restricted token's request with no Referer is judged by its
    /// Origin header instead. See [`evaluate_token`] for the trade-off.
    #[must_use]
    pub fn origin_fallback(mut self, on: bool) -> Self {
        self.options_mut().origin_fallback = on;
        self
    }

    /// Opt-in (off by default): judges a same-origin browser request — no
    /// `Origin` header, `Sec-Fetch-Site: same-origin` — as if it came from
    /// the one of `origins` (this server's public origins) that its `Host`
    /// names, so the tile host's own pages work with keys that allow that
    /// origin. Such answers also `Vary: Sec-Fetch-Site`.
    ///
    /// The trade-off: browsers set `Sec-Fetch-Site` themselves and a page
    /// cannot forge it, but any other client can send it, exactly as it
    /// can send any `Origin`; a key that allows one of `origins` then
    /// serves such clients too. Requests from a page elsewhere are not
    /// affected (they carry their own Origin, or `cross-site`). An empty
    /// list turns it off.
    #[must_use]
    pub fn same_origin(mut self, origins: impl IntoIterator<Item = PublicOrigin>) -> Self {
        self.options_mut().same_origin = origins.into_iter().collect();
        self
    }
}

/// What the pipeline concluded, before it is turned into a response.
enum Outcome {
    /// `401 Missing or invalid key` with this reason, readable by any page.
    Unauthorized(&'static str),
    /// `404`: the target function does not know the path.
    NotFound,
    /// The policy's decision.
    Decided { denial: Option<Denial>, cors: CorsHeaders },
}

/// A token decision for a target with no token scope: an earlier denial
/// stands; otherwise it is `scope_missing` with the CORS headers a token
/// lacking the scope gets (see `evaluate_token`).
fn no_token_scope(decision: Decision<'_>) -> Decision<'_> {
    match decision.denial() {
        Some(denial) if denial != Denial::ScopeMissing => decision,
        _ => Decision::deny(Denial::ScopeMissing, decision.allow_origin(), decision.vary()),
    }
}

fn max_age_value(max_age: Duration) -> HeaderValue {
    HeaderValue::from(max_age.as_secs())
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
