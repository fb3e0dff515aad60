//! The management API: the lifecycle's operations over HTTP, through the
//! registry, with the lifecycle's JSON bodies and statuses.
//!
//! * Key routes (Mappinest keys), for the account owner — the console,
//!   authenticated by `Authorization: Bearer <owner secret>` (compared in
//!   constant time; without a configured secret the routes do not exist):
//!   `POST /keys/v1/{user}` (create), `GET /keys/v1/{user}` (list),
//!   `PATCH /keys/v1/{user}/{key_id}` (edit), `DELETE
//!   /keys/v1/{user}/{key_id}`, `POST /keys/v1/{user}/{key_id}/rotate`
//!   (body `{"grace_seconds": N}`, optional).
//! * Tokens API routes, authenticated by `?access_token=` (a token actor,
//!   bound by its own scopes) or by the owner's bearer secret (the
//!   console, which may grant any scope): `GET`/`POST /tokens/v2/{user}`,
//!   `PATCH`/`DELETE /tokens/v2/{user}/{token_id}`, and `GET
//!   /tokens/v2?access_token=T` (retrieve).
//!
//! Bad input changes nothing: a body over [`MAX_BODY`] bytes is 413, a
//! body that is not the expected JSON (malformed, unknown fields) is the
//! lifecycle's 422, an unknown user or id 404.

#![allow(
    clippy::result_large_err,
    reason = "an early answer is a whole Response; the handlers return it at once, so boxing it would only add an allocation"
)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderMap};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use keypolicy::lifecycle::{Account, Actor, KeyError, TokenBody, TokenError, TokenStringError};
use keypolicy::token::Timestamp;
use keypolicy::KeyPolicy;
use keypolicy_registry::{Registry, RegistryError, Store};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The largest management request body, in bytes (a key policy with
/// thousands of domains fits; anything larger is refused, 413).
pub const MAX_BODY: usize = 1 << 20;

/// The registry the management API writes to.
pub type SharedRegistry = Arc<Registry<Box<dyn Store>>>;

/// What the management routes share.
#[derive(Clone)]
pub struct Management {
    registry: SharedRegistry,
    /// The owner's secret; `None` turns the key routes off.
    owner_secret: Option<Arc<str>>,
}

impl Management {
    /// The management API of `registry`; the owner authenticates with
    /// `owner_secret` (none: no key routes, and no owner on token routes).
    pub fn new(registry: SharedRegistry, owner_secret: Option<String>) -> Self {
        Management {
            registry,
            owner_secret: owner_secret.filter(|s| !s.is_empty()).map(Arc::from),
        }
    }

    /// Whether the request carries the owner's bearer secret.
    fn is_owner(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = &self.owner_secret else {
            return false;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Constant time: the comparison leaks neither where the guess
        // first differs nor, beyond its length, what it is.
        bool::from(given.as_bytes().ct_eq(secret.as_bytes()))
    }
}

/// The routes. Key routes exist only with an owner secret.
pub fn router(management: Management) -> Router {
    let mut router = Router::new()
        .route("/tokens/v2", get(retrieve_token))
        .route("/tokens/v2/{user}", get(list_tokens).post(create_token))
        .route("/tokens/v2/{user}/{id}", patch(update_token).delete(delete_token));
    if management.owner_secret.is_some() {
        router = router
            .route("/keys/v1/{user}", get(list_keys).post(create_key))
            .route("/keys/v1/{user}/{id}", patch(update_key).delete(delete_key))
            .route("/keys/v1/{user}/{id}/rotate", post(rotate_key));
    }
    router.with_state(management)
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => (status, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => internal(&e.to_string()),
    }
}

fn internal(message: &str) -> Response {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &serde_json::json!({"message": message, "code": "internal"}),
    )
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// The body, or 413 past [`MAX_BODY`].
async fn read_body(body: Body, api: Api) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        let message = format!("the request body is over {MAX_BODY} bytes");
        match api {
            Api::Keys => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({"message": message, "code": "body_too_large"}),
            ),
            Api::Tokens => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({ "message": message }),
            ),
        }
    })
}

#[derive(Clone, Copy)]
enum Api {
    Keys,
    Tokens,
}

/// A registry failure as a response: an unknown user is 404 in the API's
/// shape; anything else (the database failed) is 503 and changed nothing.
fn registry_error(error: &RegistryError, api: Api) -> Response {
    match (error, api) {
        (RegistryError::UnknownUser { .. } | RegistryError::InvalidUser { .. }, Api::Keys) => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"message": error.to_string(), "code": "user_not_found"}),
        ),
        (RegistryError::UnknownUser { .. } | RegistryError::InvalidUser { .. }, Api::Tokens) => {
            json(StatusCode::NOT_FOUND, &serde_json::json!({"message": "Not found"}))
        }
        _ => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"message": format!("the registry could not complete the operation: {error}")}),
        ),
    }
}

/// Runs a write on the blocking pool: the registry waits for the database
/// to make the change durable, which must not stall the tile routes.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| internal(&format!("the operation did not finish: {e}")))
}

/// A lifecycle refusal of either API: its response, and the API whose
/// shapes its registry failures take.
trait Refusal {
    const API: Api;
    fn response(&self) -> Response;
}

impl Refusal for KeyError {
    const API: Api = Api::Keys;
    fn response(&self) -> Response {
        json(status(self.status()), &self.body())
    }
}

impl Refusal for TokenError {
    const API: Api = Api::Tokens;
    fn response(&self) -> Response {
        json(status(self.status()), &self.body())
    }
}

/// A write's response: `ok` with the answer as JSON (no body for 204),
/// the lifecycle's refusal, or the registry's failure.
fn answer<T: Serialize, E: Refusal>(
    done: Result<Result<Result<T, E>, RegistryError>, Response>,
    ok: StatusCode,
) -> Response {
    match done {
        Ok(Ok(Ok(_))) if ok == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(Ok(answer))) => json(ok, &answer),
        Ok(Ok(Err(refused))) => refused.response(),
        Ok(Err(e)) => registry_error(&e, E::API),
        Err(response) => response,
    }
}

fn unauthorized_owner() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"message": "Unauthorized: send Authorization: Bearer <owner secret>", "code": "unauthorized"}),
    )
}

/// The body of an owner's key write: 401 without the owner's secret, 413
/// past [`MAX_BODY`].
async fn owner_body(m: &Management, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    if !m.is_owner(headers) {
        return Err(unauthorized_owner());
    }
    read_body(body, Api::Keys).await
}

fn parse_policy(bytes: &[u8]) -> Result<KeyPolicy, KeyError> {
    serde_json::from_slice(bytes).map_err(|e| KeyError::InvalidBody {
        message: format!("body: {e}"),
    })
}

// ---- keys ---------------------------------------------------------------

async fn create_key(State(m): State<Management>, Path(user): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match owner_body(&m, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let policy = match parse_policy(&bytes) {
        Ok(policy) => policy,
        Err(e) => return e.response(),
    };
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || {
        let at = now();
        registry.write(&user, |account, rng| account.create_key(policy.clone(), at, rng))
    })
    .await;
    answer(done, StatusCode::OK)
}

async fn list_keys(State(m): State<Management>, Path(user): Path<String>, headers: HeaderMap) -> Response {
    if !m.is_owner(&headers) {
        return unauthorized_owner();
    }
    match m.registry.read(&user, Account::list_keys) {
        Ok(keys) => json(StatusCode::OK, &keys),
        Err(e) => registry_error(&e, Api::Keys),
    }
}

async fn update_key(
    State(m): State<Management>,
    Path((user, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match owner_body(&m, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    // The id is checked before the body (404 and 409 first, as the
    // lifecycle orders them), so an edit of the default key is 409
    // whatever the body says.
    match m.registry.read(&user, |account| account.editable_key(&id).map(|_| ())) {
        Err(e) => return registry_error(&e, Api::Keys),
        Ok(Err(refused)) => return refused.response(),
        Ok(Ok(())) => {}
    }
    let policy = match parse_policy(&bytes) {
        Ok(policy) => policy,
        Err(e) => return e.response(),
    };
    let registry = Arc::clone(&m.registry);
    let done =
        blocking(move || registry.write(&user, |account, _| account.update_key(&id, policy.clone(), now()))).await;
    answer(done, StatusCode::OK)
}

async fn delete_key(
    State(m): State<Management>,
    Path((user, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !m.is_owner(&headers) {
        return unauthorized_owner();
    }
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || registry.write(&user, |account, _| account.delete_key(&id, now()))).await;
    answer(done, StatusCode::NO_CONTENT)
}

/// The body of a rotation: `{"grace_seconds": N}`, or nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    grace_seconds: Option<i64>,
}

async fn rotate_key(
    State(m): State<Management>,
    Path((user, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match owner_body(&m, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let rotate: RotateBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(rotate) => rotate,
            Err(e) => {
                return KeyError::InvalidBody {
                    message: format!("body: {e}"),
                }
                .response()
            }
        }
    };
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || {
        let at = now();
        registry.write(&user, |account, rng| {
            account.rotate_key(&id, rotate.grace_seconds, at, rng)
        })
    })
    .await;
    answer(done, StatusCode::OK)
}

// ---- tokens -------------------------------------------------------------

/// `?access_token=` on the Tokens API routes.
#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// Who asks, owned so it can move to the blocking pool.
enum Caller {
    /// The owner's bearer secret: the console.
    Owner,
    /// A token string (`?access_token=`): the Tokens API.
    Token(String),
}

impl Caller {
    fn actor(&self) -> Actor<'_> {
        match self {
            Caller::Owner => Actor::Owner,
            Caller::Token(token) => Actor::Token(token),
        }
    }
}

/// Who asks: the owner (bearer secret) or a token string; neither is 401.
fn caller(m: &Management, headers: &HeaderMap, query: TokenQuery) -> Result<Caller, Response> {
    if m.is_owner(headers) {
        return Ok(Caller::Owner);
    }
    match query.access_token {
        Some(token) if !token.is_empty() => Ok(Caller::Token(token)),
        _ => Err(json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"message": "Unauthorized"}),
        )),
    }
}

/// The caller and the body of a token create or update: 401, 413 or 422
/// before anything is planned.
async fn token_write_input(
    m: &Management,
    headers: &HeaderMap,
    query: TokenQuery,
    body: Body,
) -> Result<(Caller, TokenBody), Response> {
    let caller = caller(m, headers, query)?;
    let bytes = read_body(body, Api::Tokens).await?;
    let body = parse_token_body(&bytes).map_err(|e| e.response())?;
    Ok((caller, body))
}

fn parse_token_body(bytes: &[u8]) -> Result<TokenBody, TokenError> {
    serde_json::from_slice(bytes).map_err(|e| TokenError::InvalidBody {
        message: format!("body: {e}"),
    })
}

async fn list_tokens(
    State(m): State<Management>,
    Path(user): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&m, &headers, query) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let keys = m.registry.signing_keys();
    match m
        .registry
        .read(&user, |account| account.list_tokens(keys, caller.actor(), now()))
    {
        Ok(Ok(tokens)) => json(StatusCode::OK, &tokens),
        Ok(Err(refused)) => refused.response(),
        Err(e) => registry_error(&e, Api::Tokens),
    }
}

async fn create_token(
    State(m): State<Management>,
    Path(user): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (caller, body) = match token_write_input(&m, &headers, query, body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || {
        let at = now();
        let keys = registry.signing_keys().clone();
        registry.write(&user, |account, rng| {
            account.create_token(&keys, caller.actor(), body.clone(), at, rng)
        })
    })
    .await;
    answer(done, StatusCode::OK)
}

async fn update_token(
    State(m): State<Management>,
    Path((user, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (caller, body) = match token_write_input(&m, &headers, query, body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || {
        let keys = registry.signing_keys().clone();
        registry.write(&user, |account, _| {
            account.update_token(&keys, caller.actor(), &id, body.clone(), now())
        })
    })
    .await;
    answer(done, StatusCode::OK)
}

async fn delete_token(
    State(m): State<Management>,
    Path((user, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&m, &headers, query) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let registry = Arc::clone(&m.registry);
    let done = blocking(move || {
        let at = now();
        let keys = registry.signing_keys().clone();
        registry.write(&user, |account, rng| {
            account.delete_token(&keys, caller.actor(), &id, at, rng)
        })
    })
    .await;
    answer(done, StatusCode::NO_CONTENT)
}

/// `GET /tokens/v2?access_token=T`: always 200, with the verdict's code.
/// The account is the one the string names (verified or not); a string
/// naming no account is judged against an empty one (`TokenInvalid` for a
/// `pk`/`sk`, as its id exists nowhere).
async fn retrieve_token(State(m): State<Management>, Query(query): Query<TokenQuery>) -> Response {
    let token = query.access_token.unwrap_or_default();
    let keys = m.registry.signing_keys();
    let user = match keys.verify(&token) {
        Ok(verified) => Some(verified.claims.user().to_owned()),
        Err(TokenStringError::Invalid { claims, .. }) => Some(claims.user().to_owned()),
        Err(_) => None,
    };
    let at = now();
    let body = user
        .and_then(|user| {
            m.registry
                .read(&user, |account| account.retrieve_token(keys, &token, at))
                .ok()
        })
        .unwrap_or_else(|| Account::empty("").retrieve_token(keys, &token, at));
    json(StatusCode::OK, &body)
}
