//! `evaluate`: the pure decision function for API keys.

use crate::decision::{AllowOrigin, Decision, Denial, Vary};
use crate::key::domains::OriginMatch;
use crate::key::policy::KeyPolicy;
use crate::key::request::KeyRequest;
use crate::key::scope::Resource;
use crate::syntax::origin::parse_origin;

/// Decides whether `request` may be served under `policy`.
///
/// Checks run in a fixed order and the first failure is the reason:
/// origin (allowed domains, `web` key type), then scope, then tileset.
/// The Origin header is looked at only by keys with an origin rule
/// ([`KeyPolicy::has_origin_rule`]); other keys ignore it, however
/// malformed. No I/O, no clock, no global state; no heap allocation unless
/// the Origin has a punycode label the allowlist does not hold.
pub fn evaluate_key<'r>(policy: &KeyPolicy, request: &'r KeyRequest<'_>) -> Decision<'r> {
    let (allow_origin, vary) = if policy.has_origin_rule() {
        let vary = Vary {
            origin: true,
            referer: false,
        };
        match check_origin(policy, request.origin.as_deref()) {
            Ok(origin) => (Some(AllowOrigin::Origin(origin)), vary),
            Err(denial) => return Decision::deny(denial, None, vary),
        }
    } else {
        (Some(AllowOrigin::Any), Vary::default())
    };
    if !policy.scopes.is_empty() && !policy.scopes.contains(request.resource.required_scope()) {
        return Decision::deny(Denial::ScopeMissing, allow_origin, vary);
    }
    if !policy.tilesets.is_empty() {
        let allowed = match request.tileset.as_deref() {
            Some(tileset) => policy.tilesets.allows(tileset),
            // Only tile requests must name a tileset; a style request
            // naming none is not restricted by this rule.
            None => request.resource != Resource::Tiles,
        };
        if !allowed {
            return Decision::deny(Denial::TilesetNotAllowed, allow_origin, vary);
        }
    }
    Decision::allow(allow_origin, vary)
}

/// Rules 2 and 3. An empty header counts as no header.
fn check_origin<'r>(policy: &KeyPolicy, header: Option<&'r str>) -> Result<&'r str, Denial> {
    let header = header.filter(|h| !h.is_empty()).ok_or(Denial::OriginRequired)?;
    let origin = parse_origin(header).ok_or(Denial::OriginInvalid)?;
    if policy.domains.is_empty() {
        // A `web` key with no domains: any valid origin will do.
        return if origin.idna_is_valid() {
            Ok(header)
        } else {
            Err(Denial::OriginInvalid)
        };
    }
    match policy.domains.match_origin(&origin) {
        OriginMatch::Allowed => Ok(header),
        OriginMatch::NotAllowed => Err(Denial::OriginNotAllowed),
        OriginMatch::Invalid => Err(Denial::OriginInvalid),
    }
}
