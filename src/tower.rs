//! A [`tower::Layer`] that guards any HTTP service with
//! key policies: it finds the key in the query string, looks its policy
//! up, evaluates the request, and either answers the denial itself or
//! calls the inner service and adds the CORS headers to its response.
//! The pipeline is [`http::Guard`](crate::http::Guard), usable without
//! tower; this module only adapts it to `Layer` and `Service`.
//!
//! You supply two things:
//!
//! * a [`KeyLookup`] from key and token strings to their policies — usually
//!   a [`KeyStore`](crate::http::KeyStore), an in-memory map that can be swapped atomically when
//!   keys are created, edited or rotated;
//! * a function from the request's [`Parts`] to the [`Target`] it asks for
//!   (the resource, the tileset(s) named and the scope a token needs),
//!   usually from the path.
//!
//! API keys arrive as `?key=` and are judged by
//! [`evaluate_key`](crate::evaluate_key) on the `Origin` header; access
//! tokens arrive as `?access_token=` and are judged by
//! [`evaluate_token`](crate::evaluate_token) on the `Referer` (and, for the CORS
//! answer, `Origin`) header, at the server's current time.
//!
//! | The request | The layer answers |
//! |---|---|
//! | no `key=` or `access_token=` in the query | `401 {"message": "Missing or invalid key", "reason": "key_missing"}` with [`WWW-Authenticate`](crate::http::WWW_AUTHENTICATE) |
//! | the parameter is empty or given twice, or both are given | `401 {"message": "Missing or invalid key", "reason": "key_invalid"}` |
//! | a key or token the lookup does not know, or a key sent as `access_token=` (or the reverse) | `401 {"message": "Missing or invalid key", "reason": "key_unknown"}` |
//! | a path your target function returns `None` for | `404 {"message": "Not Found", "reason": "not_found"}`; the inner service is never called unguarded |
//! | denied by the key's or token's policy (a token on a target with no token scope: `scope_missing`) | the decision's status (403; 401 for `token_expired`) and `{"message", "reason"}`, with its CORS headers |
//! | a CORS preflight the policy allows, or whose refusal the page could read (one with `Access-Control-Allow-Origin: *`: every 401, and denials by keys and tokens without an origin or URL rule) | `204` with the CORS headers, `Access-Control-Allow-Methods: GET, HEAD`, [`PolicyLayer::allow_headers`] and `Access-Control-Max-Age` ([`PolicyLayer::max_age`], default 7200 s); the actual request is checked again |
//! | allowed | the inner service's response, with `Access-Control-Allow-Origin` set and `Vary` merged (names it already lists, in any case, are not repeated) |
//!
//! The 401 answers carry `Access-Control-Allow-Origin: *` so that a map in
//! a browser can read why it failed; their body is the same for every
//! request and reveals nothing about any key.
//!
//! ```
//! use std::sync::Arc;
//! use http::request::Parts;
//! use keypolicy::http::{Credential, KeyStore, Target};
//! use keypolicy::tower::PolicyLayer;
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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::header::HeaderName;
use ::http::request::Parts;
use ::http::{Request, Response, StatusCode};

use crate::http::{error_response, CorsHeaders, Guard, KeyLookup, PublicOrigin, Target, Verdict};

/// A [`Layer`](::tower::Layer) that guards a service with key policies;
/// see the [module documentation](self). A [`Guard`] as a layer.
///
/// `L` looks keys up, `T` maps a request to its [`Target`]. Cloning is
/// cheap (both are shared).
#[derive(Debug)]
pub struct PolicyLayer<L, T> {
    guard: Guard<L, T>,
}

impl<L, T> Clone for PolicyLayer<L, T> {
    fn clone(&self) -> Self {
        PolicyLayer {
            guard: self.guard.clone(),
        }
    }
}

impl<L, T> From<Guard<L, T>> for PolicyLayer<L, T> {
    fn from(guard: Guard<L, T>) -> Self {
        PolicyLayer { guard }
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
        PolicyLayer::from(Guard::new(lookup, target))
    }
}

impl<L, T> PolicyLayer<L, T> {
    /// See [`Guard::allow_headers`].
    #[must_use]
    pub fn allow_headers(self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        PolicyLayer::from(self.guard.allow_headers(headers))
    }

    /// See [`Guard::max_age`].
    #[must_use]
    pub fn max_age(self, max_age: Duration) -> Self {
        PolicyLayer::from(self.guard.max_age(max_age))
    }

    /// See [`Guard::origin_fallback`].
    #[must_use]
    pub fn origin_fallback(self, on: bool) -> Self {
        PolicyLayer::from(self.guard.origin_fallback(on))
    }

    /// See [`Guard::same_origin`].
    #[must_use]
    pub fn same_origin(self, origins: impl IntoIterator<Item = PublicOrigin>) -> Self {
        PolicyLayer::from(self.guard.same_origin(origins))
    }
}

impl<S, L, T> ::tower::Layer<S> for PolicyLayer<L, T> {
    type Service = PolicyService<S, L, T>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The [`Service`](::tower::Service) made by [`PolicyLayer`].
#[derive(Debug)]
pub struct PolicyService<S, L, T> {
    inner: S,
    guard: Guard<L, T>,
}

impl<S: Clone, L, T> Clone for PolicyService<S, L, T> {
    fn clone(&self) -> Self {
        PolicyService {
            inner: self.inner.clone(),
            guard: self.guard.clone(),
        }
    }
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
        match self.guard.check(&parts) {
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
        Inner { #[pin] future: F, cors: Option<CorsHeaders> },
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
    use crate::http::{Credential, KeyStore};
    use crate::key::{KeyPolicy, KeyType, Resource};
    use ::http::header::{self, HeaderValue};
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::task::Waker;
    use tower::{Layer, Service};

    fn echo() -> impl Service<Request<String>, Response = Response<String>, Error = Infallible> {
        tower::service_fn(|_request: Request<String>| {
            let mut response = Response::new("tile".to_owned());
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(header::VARY, HeaderValue::from_static("origin"));
            std::future::ready(Ok(response))
        })
    }

    struct NoopWaker;
    impl std::task::Wake for NoopWaker {
        fn wake(self: Arc<Self>) {}
    }

    fn target(_: &Parts) -> Option<Target<'_>> {
        Some(Target::new(Resource::Tiles))
    }

    fn get(uri: &str, origin: &str) -> Request<String> {
        Request::get(uri).header("origin", origin).body(String::new()).unwrap()
    }

    #[test]
    fn the_layer_answers_or_passes_with_the_guards_headers() {
        let web = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
        let keys = KeyStore::from_iter([("web", Credential::from(web))]);
        let mut service = PolicyLayer::new(keys, target).layer(echo());
        let waker = Waker::from(Arc::new(NoopWaker));
        let mut cx = Context::from_waker(&waker);

        assert!(service.poll_ready(&mut cx).is_ready());
        let mut future = std::pin::pin!(service.call(get("/t?key=web", "https://a.com")));
        let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
            panic!("not ready")
        };
        assert_eq!(response.body(), "tile");
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        // The service already varies on `origin`: not repeated.
        assert_eq!(response.headers().get_all(header::VARY).iter().count(), 1);

        let mut future = std::pin::pin!(service.call(get("/t?key=nope", "https://a.com")));
        let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
            panic!("not ready")
        };
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // The layer's own answer polled again: a 500 rather than a panic.
        let Poll::Ready(Ok(again)) = future.as_mut().poll(&mut cx) else {
            panic!("not ready")
        };
        assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
