//! A [`tower::Layer`] that guards any HTTP service with
//! key policies: it finds the key in the query string, looks its policy
//! up, evaluates the request, and either answers the denial itself or
//! calls the inner service and adds the CORS headers to its response.
//!
//! You supply two things:
//!
//! * a [`KeyLookup`] from key and token strings to their policies — usually
//!   a [`KeyStore`], an in-memory map that can be swapped atomically when
//!   keys are created, edited or rotated;
//! * a function from the request's [`Parts`] to the [`Target`] it asks for
//!   (the resource, the tileset(s) named and the scope a token needs),
//!   usually from the path.
//!
//! API keys arrive as `?key=` and are judged by [`evaluate_key`] on the
//! `Origin` header; access tokens arrive as `?access_token=` and are
//! judged by [`evaluate_token`] on the `Referer` (and, for the CORS
//! answer, `Origin`) header, at the server's current time.
//!
//! | The request | The layer answers |
//! |---|---|
//! | no `key=` or `access_token=` in the query | `401 {"message": "Missing or invalid key", "reason": "key_missing"}` |
//! | the parameter is empty or given twice, or both are given | `401 {"message": "Missing or invalid key", "reason": "key_invalid"}` |
//! | a key or token the lookup does not know, or a key sent as `access_token=` (or the reverse) | `401 {"message": "Missing or invalid key", "reason": "key_unknown"}` |
//! | a path your target function returns `None` for | `404 {"message": "Not Found", "reason": "not_found"}`; the inner service is never called unguarded |
//! | denied by the key's or token's policy | the decision's status (403; 401 for `token_expired`) and `{"message", "reason"}`, with its CORS headers |
//! | a CORS preflight the policy allows | `204` with the CORS headers, `Access-Control-Allow-Methods: GET, HEAD`, [`PolicyLayer::allow_headers`] and `Access-Control-Max-Age` ([`PolicyLayer::max_age`], default 7200 s) |
//! | allowed | the inner service's response, with `Access-Control-Allow-Origin` set and `Vary` appended |
//!
//! The 401 answers carry `Access-Control-Allow-Origin: *` so that a map in
//! a browser can read why it failed; their body is the same for every
//! request and reveals nothing about any key.
//!
//! ```
//! use std::sync::Arc;
//! use http::request::Parts;
//! use keypolicy::http::Target;
//! use keypolicy::tower::{Credential, KeyStore, PolicyLayer};
//! use keypolicy::KeyPolicy;
//! use keypolicy::key::Resource;
//! use tower::{Layer, Service, ServiceExt};
//!
//! // Key string → policy; `KeyStore::replace` swaps the whole map atomically.
//! let policy = KeyPolicy::builder().allowed_domains(["app.example.com"]).build()?;
//! let keys = Arc::new(KeyStore::from_iter([("my-key", Credential::Key(Arc::new(policy)))]));
//!
//! // Request → what it asks for: `/tiles/{tileset}/…` here.
//! fn target(parts: &Parts) -> Option<Target<'_>> {
//!     let tileset = parts.uri.path().strip_prefix("/tiles/")?.split('/').next()?;
//!     Some(Target::new(Resource::Tiles).with_tileset(tileset))
//! }
//!
//! let tiles = tower::service_fn(|_req: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("tile")))
//! });
//! let mut service = PolicyLayer::new(keys.clone(), target).layer(tiles);
//!
//! let request = http::Request::get("/tiles/alice.streets/0/0/0.png?key=my-key")
//!     .header("origin", "https://app.example.com")
//!     .body(String::new())?;
//! # let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! # rt.block_on(async {
//! let response = service.ready().await?.call(request).await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
//!
//! let foreign = http::Request::get("/tiles/alice.streets/0/0/0.png?key=my-key")
//!     .header("origin", "https://evil.example")
//!     .body(String::new())?;
//! let response = service.ready().await?.call(foreign).await?;
//! assert_eq!(response.status(), 403);
//! assert!(response.body().contains("origin_not_allowed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The layer calls `poll_ready` on the inner service before it knows
//! whether the request will reach it; a request the layer answers itself
//! leaves that readiness unused, which is harmless for routers and
//! handlers (always ready) but holds a slot of a `Buffer` or
//! `ConcurrencyLimit` placed *inside* the layer until the next call. Put
//! such middleware outside it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::request::Parts;
use ::http::{Method, Request, Response, StatusCode};

use crate::decision::{Decision, Denial};
use crate::http::{
    apply_cors, credential_from_query, denial_response, error_response, key_request, token_request, CredentialKind,
    Target,
};
use crate::key::evaluate_key;
use crate::key::KeyPolicy;
use crate::token::evaluate_token;
use crate::token::Timestamp;
use crate::token::TokenPolicy;

/// The message of every 401 answer.
pub const MISSING_OR_INVALID_KEY: &str = "Missing or invalid key";

/// The default `Access-Control-Max-Age` of preflight answers: two hours,
/// Chromium's cap (Firefox allows a day). A cached preflight never lets a
/// revoked origin read anything: every actual request is checked again.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7200);

/// The policy a key string stands for.
///
/// `#[non_exhaustive]`: a platform may add credential kinds; match with a
/// wildcard arm.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credential {
    /// A Mappinest API key, given as `?key=`.
    Key(Arc<KeyPolicy>),
    /// A Mapbox-style access token, given as `?access_token=`.
    Token(Arc<TokenPolicy>),
}

impl Credential {
    /// The query parameter this credential must arrive in. A key string
    /// given in the wrong parameter is treated as unknown.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Key(_) => CredentialKind::Key,
            Credential::Token(_) => CredentialKind::AccessToken,
        }
    }
}

impl From<KeyPolicy> for Credential {
    fn from(policy: KeyPolicy) -> Self {
        Credential::Key(Arc::new(policy))
    }
}

impl From<TokenPolicy> for Credential {
    fn from(policy: TokenPolicy) -> Self {
        Credential::Token(Arc::new(policy))
    }
}

/// Finds the policy of a key string. Called once per request, on the
/// request's thread, so it must be fast and must not block on I/O: keep
/// the keys in memory and refresh them in the background.
pub trait KeyLookup: Send + Sync {
    /// The credential `key` stands for, or `None` when it is unknown.
    fn lookup(&self, key: &str) -> Option<Credential>;
}

impl<T: KeyLookup + ?Sized> KeyLookup for Arc<T> {
    fn lookup(&self, key: &str) -> Option<Credential> {
        (**self).lookup(key)
    }
}

impl<K, S> KeyLookup for HashMap<K, Credential, S>
where
    K: Borrow<str> + Eq + Hash + Send + Sync,
    S: std::hash::BuildHasher + Send + Sync,
{
    fn lookup(&self, key: &str) -> Option<Credential> {
        self.get(key).cloned()
    }
}

/// The in-memory [`KeyLookup`]: a map from key strings to credentials
/// that readers share and writers replace whole.
///
/// Lookups take a read lock just long enough to clone one `Arc`; a
/// rotation builds the new map off to the side and swaps it in with
/// [`replace`](Self::replace) (or edits a copy with
/// [`update`](Self::update)), so every request sees either the old keys or
/// the new ones, never a mix. This is `std::sync::RwLock<Arc<HashMap>>`
/// rather than a lock-free `ArcSwap` to keep the dependency set small; the
/// read lock is uncontended except during a swap. A panic while the lock
/// is held cannot leave a half-edited map (the map behind the `Arc` is
/// never mutated in place), so a poisoned lock is used as it is.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: RwLock<Arc<HashMap<Box<str>, Credential>>>,
}

impl KeyStore {
    /// A store holding `keys`.
    pub fn new(keys: HashMap<Box<str>, Credential>) -> Self {
        KeyStore {
            keys: RwLock::new(Arc::new(keys)),
        }
    }

    /// The current map, shared.
    pub fn snapshot(&self) -> Arc<HashMap<Box<str>, Credential>> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in a new map atomically and returns the old one.
    pub fn replace(&self, keys: HashMap<Box<str>, Credential>) -> Arc<HashMap<Box<str>, Credential>> {
        let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, Arc::new(keys))
    }

    /// Edits a copy of the map and swaps it in atomically (e.g. to rotate
    /// one key: remove the old string, insert the new one).
    pub fn update(&self, edit: impl FnOnce(&mut HashMap<Box<str>, Credential>)) {
        let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let mut keys = HashMap::clone(&current);
        edit(&mut keys);
        *current = Arc::new(keys);
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Into<Box<str>>> FromIterator<(K, Credential)> for KeyStore {
    fn from_iter<I: IntoIterator<Item = (K, Credential)>>(iter: I) -> Self {
        KeyStore::new(iter.into_iter().map(|(k, c)| (k.into(), c)).collect())
    }
}

impl KeyLookup for KeyStore {
    fn lookup(&self, key: &str) -> Option<Credential> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

/// How the layer answers CORS preflights, and token options.
#[derive(Debug, Clone)]
struct Options {
    allow_headers: Option<HeaderValue>,
    max_age: HeaderValue,
    origin_fallback: bool,
}

/// A [`Layer`](::tower::Layer) that guards a service with key policies;
/// see the [module documentation](self).
///
/// `L` looks keys up, `T` maps a request to its [`Target`]. Cloning is
/// cheap (both are shared).
#[derive(Debug)]
pub struct PolicyLayer<L, T> {
    lookup: Arc<L>,
    target: Arc<T>,
    options: Options,
}

impl<L, T> Clone for PolicyLayer<L, T> {
    fn clone(&self) -> Self {
        PolicyLayer {
            lookup: Arc::clone(&self.lookup),
            target: Arc::clone(&self.target),
            options: self.options.clone(),
        }
    }
}

impl<L, T> PolicyLayer<L, T>
where
    L: KeyLookup,
    T: for<'a> Fn(&'a Parts) -> Option<Target<'a>> + Send + Sync,
{
    /// A layer that looks keys up in `lookup` and asks `target` what each
    /// request is for (`None`: not a path this layer guards → 404).
    pub fn new(lookup: L, target: T) -> Self {
        PolicyLayer {
            lookup: Arc::new(lookup),
            target: Arc::new(target),
            options: Options {
                allow_headers: None,
                max_age: max_age_value(DEFAULT_MAX_AGE),
                origin_fallback: false,
            },
        }
    }
}

impl<L, T> PolicyLayer<L, T> {
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
        self.options.allow_headers = HeaderValue::from_str(&list).ok().filter(|v| !v.is_empty());
        self
    }

    /// How long browsers may cache a preflight answer
    /// ([`DEFAULT_MAX_AGE`] unless set), in whole seconds.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.options.max_age = max_age_value(max_age);
        self
    }
}

impl<L, T> PolicyLayer<L, T> {
    /// Turns on the access tokens' Origin fallback (off by default): a
    /// URL-restricted token's request with no Referer is judged by its
    /// Origin header instead. See [`evaluate_token`] for the trade-off.
    #[must_use]
    pub fn origin_fallback(mut self, on: bool) -> Self {
        self.options.origin_fallback = on;
        self
    }
}

fn max_age_value(max_age: Duration) -> HeaderValue {
    HeaderValue::from(max_age.as_secs())
}

impl<S, L, T> ::tower::Layer<S> for PolicyLayer<L, T> {
    type Service = PolicyService<S, L, T>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The [`Service`](::tower::Service) made by [`PolicyLayer`].
#[derive(Debug)]
pub struct PolicyService<S, L, T> {
    inner: S,
    layer: PolicyLayer<L, T>,
}

impl<S: Clone, L, T> Clone for PolicyService<S, L, T> {
    fn clone(&self) -> Self {
        PolicyService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

/// The CORS headers to put on the inner service's response.
#[derive(Debug, Clone)]
struct Cors {
    allow_origin: Option<HeaderValue>,
    vary: Option<&'static str>,
}

impl Cors {
    fn of(decision: &Decision<'_>) -> Self {
        let mut headers = HeaderMap::new();
        apply_cors(decision, &mut headers);
        Cors {
            allow_origin: headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            vary: decision.vary().header_value(),
        }
    }

    fn apply(self, headers: &mut HeaderMap) {
        match self.allow_origin {
            Some(value) => {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
            None => {
                headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            }
        }
        if let Some(vary) = self.vary {
            headers.append(header::VARY, HeaderValue::from_static(vary));
        }
    }
}

/// What the layer does with a request.
enum Verdict<B> {
    /// Answer it without the inner service.
    Answer(Response<B>),
    /// Pass it on and add these headers to the answer.
    Pass(Cors),
}

fn unauthorized<B: From<String>>(reason: &str) -> Response<B> {
    let mut response = error_response(StatusCode::UNAUTHORIZED, MISSING_OR_INVALID_KEY, reason);
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

impl<S, L, T> PolicyService<S, L, T>
where
    L: KeyLookup,
    T: for<'a> Fn(&'a Parts) -> Option<Target<'a>> + Send + Sync,
{
    fn verdict<B: From<String>>(&self, parts: &Parts) -> Verdict<B> {
        let credential = match credential_from_query(parts.uri.query()) {
            Ok(Some(credential)) => credential,
            Ok(None) => return Verdict::Answer(unauthorized("key_missing")),
            Err(_) => return Verdict::Answer(unauthorized("key_invalid")),
        };
        let policy = match self.layer.lookup.lookup(&credential.value) {
            Some(policy) if policy.kind() == credential.kind => policy,
            _ => return Verdict::Answer(unauthorized("key_unknown")),
        };
        let Some(target) = (self.layer.target)(parts) else {
            return Verdict::Answer(error_response(StatusCode::NOT_FOUND, "Not Found", "not_found"));
        };
        let cors = match &policy {
            Credential::Key(policy) => {
                let request = key_request(parts, &target);
                let decision = evaluate_key(policy, &request);
                if let Some(response) = denial_response(&decision) {
                    return Verdict::Answer(response);
                }
                Cors::of(&decision)
            }
            Credential::Token(policy) => {
                let Some(scope) = target.token_scope else {
                    // No token scope covers this resource: no token may use it.
                    let denial = Denial::ScopeMissing;
                    let status = StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::FORBIDDEN);
                    return Verdict::Answer(error_response(status, denial.message(), denial.reason()));
                };
                let now = Timestamp::from_system_time(SystemTime::now());
                let request =
                    token_request(parts, scope, Some(now)).with_origin_fallback(self.layer.options.origin_fallback);
                let decision = evaluate_token(policy, &request);
                if let Some(response) = denial_response(&decision) {
                    return Verdict::Answer(response);
                }
                Cors::of(&decision)
            }
        };
        if is_preflight(parts) {
            Verdict::Answer(self.preflight_response(cors))
        } else {
            Verdict::Pass(cors)
        }
    }

    fn preflight_response<B: From<String>>(&self, cors: Cors) -> Response<B> {
        let mut response = Response::new(B::from(String::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        cors.apply(headers);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD"),
        );
        if let Some(allow) = &self.layer.options.allow_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow.clone());
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, self.layer.options.max_age.clone());
        response
    }
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight(parts: &Parts) -> bool {
    parts.method == Method::OPTIONS && parts.headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S, L, T, ReqBody, ResBody> ::tower::Service<Request<ReqBody>> for PolicyService<S, L, T>
where
    S: ::tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    L: KeyLookup,
    T: for<'a> Fn(&'a Parts) -> Option<Target<'a>> + Send + Sync,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        match self.verdict(&parts) {
            Verdict::Answer(response) => ResponseFuture {
                state: State::Answer {
                    response: Some(response),
                },
            },
            Verdict::Pass(cors) => ResponseFuture {
                state: State::Inner {
                    future: self.inner.call(Request::from_parts(parts, body)),
                    cors: Some(cors),
                },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`PolicyService`]: the layer's own answer, or the
    /// inner service's response with the CORS headers added.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Answer { response: Option<Response<B>> },
        Inner { #[pin] future: F, cors: Option<Cors> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Answer { response } => Poll::Ready(Ok(response.take().unwrap_or_else(polled_again))),
            StateProj::Inner { future, cors } => {
                let mut response = match future.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    other => return other,
                };
                match cors.take() {
                    Some(cors) => cors.apply(response.headers_mut()),
                    // Polled again after completion: never hand out a
                    // response without its policy's headers.
                    None => return Poll::Ready(Ok(polled_again())),
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The answer to a future polled after it completed (a caller bug): a 500
/// rather than a panic.
fn polled_again<B: From<String>>() -> Response<B> {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Response future polled after completion",
        "internal",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeyScope, KeyType, Resource};
    use std::convert::Infallible;
    use std::task::Waker;
    use tower::{Layer, Service};

    fn echo() -> impl Service<Request<String>, Response = Response<String>, Error = Infallible> {
        tower::service_fn(|_request: Request<String>| {
            let mut response = Response::new("tile".to_owned());
            response
                .headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            std::future::ready(Ok(response))
        })
    }

    struct NoopWaker;
    impl std::task::Wake for NoopWaker {
        fn wake(self: Arc<Self>) {}
    }

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
        let url_token = TokenPolicy::builder(crate::token::TokenUsage::Public)
            .scope(crate::token::TokenScope::StylesTiles)
            .allowed_urls(["https://a.com/maps"])
            .build()
            .unwrap();
        let expired = TokenPolicy::builder(crate::token::TokenUsage::Temporary)
            .scope(crate::token::TokenScope::StylesTiles)
            .expires(Timestamp::from_unix_seconds(1_600_000_000).unwrap())
            .build()
            .unwrap();
        KeyStore::from_iter([
            ("web", Credential::from(web)),
            ("open", KeyPolicy::unrestricted().into()),
            ("pk.url", url_token.into()),
            ("tk.expired", expired.into()),
        ])
    }

    /// Calls the service and polls the (always immediately ready) future.
    fn call<S>(service: &mut S, request: Request<String>) -> Response<String>
    where
        S: Service<Request<String>, Response = Response<String>, Error = Infallible>,
    {
        let waker = Waker::from(Arc::new(NoopWaker));
        let mut cx = Context::from_waker(&waker);
        assert!(service.poll_ready(&mut cx).is_ready());
        let mut future = std::pin::pin!(service.call(request));
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(response)) => response,
            other => panic!("not ready: {:?}", other.is_ready()),
        }
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
        let mut service = PolicyLayer::new(store(), target).layer(echo());
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
            let response = call(&mut service, get(uri, Some("https://a.com")));
            assert_eq!(response.status(), status, "{uri}");
            assert!(response.body().contains(&format!(r#""reason":"{reason}""#)), "{uri}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        }
        let response = call(&mut service, get("/tiles", None));
        assert_eq!(
            response.body(),
            r#"{"message":"Missing or invalid key","reason":"key_missing"}"#
        );
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn allowed_responses_carry_the_policys_cors_headers() {
        let mut service = PolicyLayer::new(store(), target).layer(echo());
        let response = call(&mut service, get("/tiles?key=web", Some("https://www.a.com")));
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), "tile");
        // The inner service's own `*` is replaced by the echoed origin.
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://www.a.com"
        );
        assert_eq!(response.headers()[header::VARY], "Origin");

        let response = call(&mut service, get("/tiles?key=web", Some("https://evil.com")));
        assert_eq!(response.status(), 403);
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

        let response = call(&mut service, get("/tiles?key=open", Some("https://evil.com")));
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(response.headers().get(header::VARY).is_none());
    }

    #[test]
    fn preflights_are_answered_for_allowed_origins_only() {
        let mut service = PolicyLayer::new(store(), target)
            .allow_headers([header::RANGE, header::IF_NONE_MATCH])
            .max_age(Duration::from_secs(60))
            .layer(echo());
        let preflight = |origin: &str| {
            Request::options("/tiles?key=web")
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .body(String::new())
                .unwrap()
        };
        let response = call(&mut service, preflight("https://a.com"));
        assert_eq!(response.status(), 204);
        assert_eq!(response.body(), "");
        let h = response.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], "range, if-none-match");
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "60");
        assert_eq!(h[header::VARY], "Origin");

        let response = call(&mut service, preflight("https://evil.com"));
        assert_eq!(response.status(), 403);
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

        // OPTIONS without Access-Control-Request-Method is not a preflight.
        let plain = Request::options("/tiles?key=web")
            .header("origin", "https://a.com")
            .body(String::new())
            .unwrap();
        assert_eq!(call(&mut service, plain).body(), "tile");
    }

    #[test]
    fn tokens_are_judged_on_the_referer() {
        let mut service = PolicyLayer::new(store(), target).layer(echo());
        let request = |uri: &str, referer: Option<&str>| {
            let mut builder = Request::get(uri).header("origin", "https://a.com");
            if let Some(referer) = referer {
                builder = builder.header("referer", referer);
            }
            builder.body(String::new()).unwrap()
        };
        let response = call(
            &mut service,
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
            let response = call(&mut service, request(uri, referer));
            assert_eq!(response.status(), status, "{uri} {referer:?}");
            assert!(response.body().contains(&format!(r#""reason":"{reason}""#)), "{uri}");
            assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none() || status == 401);
        }

        // The Origin fallback is opt-in.
        let mut service = PolicyLayer::new(store(), target).origin_fallback(true).layer(echo());
        let response = call(&mut service, request("/tiles?access_token=pk.url", None));
        assert_eq!(
            response.status(),
            403,
            "an Origin has no path, so /maps cannot match it"
        );
    }

    #[test]
    fn the_store_swaps_keys_atomically() {
        let keys = Arc::new(store());
        let mut service = PolicyLayer::new(Arc::clone(&keys), target).layer(echo());
        assert_eq!(call(&mut service, get("/tiles?key=open", None)).status(), 200);
        let old = keys.replace(HashMap::from([("rotated".into(), KeyPolicy::unrestricted().into())]));
        assert_eq!(old.len(), 4);
        assert_eq!(call(&mut service, get("/tiles?key=open", None)).status(), 401);
        assert_eq!(call(&mut service, get("/tiles?key=rotated", None)).status(), 200);
        keys.update(|map| {
            map.remove("rotated");
        });
        assert!(keys.is_empty());
        assert_eq!(call(&mut service, get("/tiles?key=rotated", None)).status(), 401);
    }

    #[test]
    fn plain_maps_are_lookups() {
        let map: HashMap<String, Credential> = HashMap::from([("k".to_owned(), KeyPolicy::unrestricted().into())]);
        assert!(map.lookup("k").is_some());
        assert!(map.lookup("x").is_none());
        let shared: Arc<dyn KeyLookup> = Arc::new(map);
        assert!(shared.lookup("k").is_some());
    }
}
