//! The same API-key decision, made by keypolicy and by what a user would
//! otherwise reach for: a naive hand-written check, a Cedar policy
//! (`cedar-policy`) and a Rego policy (`regorus`, interpreter and bytecode
//! VM). The benchmark in `benches/compare.rs` first checks that every engine
//! gives the same allow/deny on every input, then times them.
//!
//! Each engine is built once from a [`KeySpec`] (compile once) and then
//! answers [`Input`]s (evaluate many). The per-request work each engine is
//! timed on is what its user would have to do per request: keypolicy gets
//! the raw header; Cedar gets a `Request` with a context that the caller
//! builds (Cedar has no string functions to parse an Origin); Rego gets an
//! `input` document with the raw header and parses it in the policy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Authorizer, Context, Entities, Entity, EntityUid, PolicySet, Request, RestrictedExpression};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::Value;

/// Any error from building an engine; a bench setup failure.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A key's rules as a user writes them (the JSON policy's fields).
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// `any`, `web`, `desktop` or `server`.
    pub key_type: &'static str,
    /// Scope names, e.g. `tiles:read`.
    pub scopes: Vec<String>,
    /// `allowed_domains` entries as written.
    pub domains: Vec<String>,
    /// `allowed_tilesets` entries (exact `user.id` only in these benches).
    pub tilesets: Vec<String>,
}

impl KeySpec {
    /// Rules 2 and 3: whether the key requires an Origin.
    pub fn has_origin_rule(&self) -> bool {
        !self.domains.is_empty() || self.key_type == "web"
    }
}

/// One request: the Origin header, the resource and the tileset(s).
#[derive(Debug, Clone)]
pub struct Input {
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// `tiles`, `styles`, `static` or `export`.
    pub resource: &'static str,
    /// The requested tileset(s), comma-separated.
    pub tileset: Option<String>,
}

/// One way of deciding.
pub trait Engine {
    /// Whether the request may be served.
    fn allowed(&mut self, input: &Input) -> bool;
}

// ---------------------------------------------------------------------------
// keypolicy
// ---------------------------------------------------------------------------

/// keypolicy itself.
pub struct Keypolicy {
    policy: keypolicy::KeyPolicy,
}

impl Keypolicy {
    /// Compiles the key.
    pub fn new(spec: &KeySpec) -> Result<Self, Error> {
        let scopes = spec
            .scopes
            .iter()
            .map(|s| s.parse::<keypolicy::key::KeyScope>())
            .collect::<Result<Vec<_>, _>>()?;
        let policy = keypolicy::KeyPolicy::builder()
            .key_type(spec.key_type.parse()?)
            .scopes(scopes)
            .allowed_domains(spec.domains.iter().map(String::as_str))
            .allowed_tilesets(spec.tilesets.iter().map(String::as_str))
            .build()?;
        Ok(Keypolicy { policy })
    }
}

impl Engine for Keypolicy {
    fn allowed(&mut self, input: &Input) -> bool {
        let resource = input.resource.parse().unwrap_or_default();
        let mut request = keypolicy::KeyRequest::new(resource);
        if let Some(origin) = &input.origin {
            request = request.with_origin(origin.as_str());
        }
        if let Some(tileset) = &input.tileset {
            request = request.with_tileset(tileset.as_str());
        }
        keypolicy::evaluate_key(&self.policy, &request).is_allowed()
    }
}

// ---------------------------------------------------------------------------
// Naive: the obvious hand-written check
// ---------------------------------------------------------------------------

/// The lower-case host of a URL or bare host, via `url::Url::parse`.
fn url_host(text: &str) -> Option<String> {
    let url = if text.contains("://") {
        url::Url::parse(text)
    } else {
        url::Url::parse(&format!("https://{text}"))
    };
    Some(url.ok()?.host_str()?.to_lowercase())
}

/// Strips one leading `www.`.
fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// The obvious check a developer writes by hand: `url::Url::parse` the
/// Origin, lowercase it, strip `www.`, and compare it with `==` against
/// each allowlist entry in turn (wildcards with `ends_with`).
pub struct Naive {
    origin_rule: bool,
    domains: Vec<String>,
    /// `*.example.com` entries, held as `.example.com`.
    wildcard_suffixes: Vec<String>,
    scopes: Vec<String>,
    tilesets: Vec<String>,
}

impl Naive {
    /// Normalizes the entries the same naive way.
    pub fn new(spec: &KeySpec) -> Result<Self, Error> {
        let mut domains = Vec::new();
        let mut wildcard_suffixes = Vec::new();
        for entry in &spec.domains {
            if let Some(rest) = entry.strip_prefix("*.") {
                let host = url_host(rest).ok_or_else(|| format!("bad entry {entry:?}"))?;
                wildcard_suffixes.push(format!(".{host}"));
            } else {
                let host = url_host(entry).ok_or_else(|| format!("bad entry {entry:?}"))?;
                domains.push(strip_www(&host).to_owned());
            }
        }
        Ok(Naive {
            origin_rule: spec.has_origin_rule(),
            domains,
            wildcard_suffixes,
            scopes: spec.scopes.clone(),
            tilesets: spec.tilesets.clone(),
        })
    }

    fn origin_ok(&self, origin: Option<&str>) -> bool {
        if !self.origin_rule {
            return true;
        }
        let Some(host) = origin.and_then(url_host) else {
            return false;
        };
        if self.domains.is_empty() && self.wildcard_suffixes.is_empty() {
            return true;
        }
        let short = strip_www(&host);
        self.domains.iter().any(|d| *d == short) || self.wildcard_suffixes.iter().any(|s| host.ends_with(s.as_str()))
    }
}

/// The scope a resource needs.
fn required_scope(resource: &str) -> String {
    format!("{resource}:read")
}

impl Engine for Naive {
    fn allowed(&mut self, input: &Input) -> bool {
        let scope_ok = self.scopes.is_empty() || self.scopes.contains(&required_scope(input.resource));
        let tileset_ok = self.tilesets.is_empty()
            || match &input.tileset {
                Some(t) => t.split(',').all(|part| self.tilesets.iter().any(|a| a == part)),
                None => input.resource != "tiles",
            };
        self.origin_ok(input.origin.as_deref()) && scope_ok && tileset_ok
    }
}

// ---------------------------------------------------------------------------
// Cedar
// ---------------------------------------------------------------------------

/// The key's rules as one Cedar policy. The key is the resource entity;
/// its allowlists are set attributes; the action is the resource kind.
pub const CEDAR_POLICY: &str = r#"
permit (principal, action, resource)
when {
  // Rules 2-3: an Origin host is required, and must be allowed.
  (!resource.origin_rule ||
    (context has host &&
      (resource.any_host ||
       resource.domains.contains(context.host) ||
       resource.wildcards.containsAny(context.host_suffixes)))) &&
  // Rule 6: scopes, when the key has any.
  (resource.scopes.isEmpty() ||
    (action == Action::"tiles" && resource.scopes.contains("tiles:read")) ||
    (action == Action::"styles" && resource.scopes.contains("styles:read")) ||
    (action == Action::"static" && resource.scopes.contains("static:read")) ||
    (action == Action::"export" && resource.scopes.contains("export:read"))) &&
  // Rule 5: every requested tileset, when the key restricts them.
  (resource.tilesets.isEmpty() ||
    (context has tilesets && resource.tilesets.containsAll(context.tilesets)) ||
    (!(context has tilesets) && action != Action::"tiles"))
};
"#;

/// A Cedar policy set, the key as an entity, and `Authorizer::is_authorized`.
///
/// Cedar has no string functions, so the caller must turn the Origin
/// header into a host before building the request: here, the naive way
/// (`url::Url::parse`, lowercase, strip `www.`), plus the label-boundary
/// suffixes of the host for the wildcard entries. That work is part of
/// each timed request.
pub struct Cedar {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    principal: EntityUid,
    key: EntityUid,
    actions: HashMap<&'static str, EntityUid>,
}

impl Cedar {
    /// Builds the policy set and the key entity once.
    pub fn new(spec: &KeySpec) -> Result<Self, Error> {
        let naive = Naive::new(spec)?;
        let set =
            |items: Vec<String>| RestrictedExpression::new_set(items.into_iter().map(RestrictedExpression::new_string));
        let wildcards = naive
            .wildcard_suffixes
            .iter()
            .map(|s| s.trim_start_matches('.').to_owned())
            .collect();
        let attrs = HashMap::from([
            (
                "origin_rule".to_owned(),
                RestrictedExpression::new_bool(spec.has_origin_rule()),
            ),
            (
                "any_host".to_owned(),
                RestrictedExpression::new_bool(spec.domains.is_empty()),
            ),
            ("domains".to_owned(), set(naive.domains)),
            ("wildcards".to_owned(), set(wildcards)),
            ("scopes".to_owned(), set(spec.scopes.clone())),
            ("tilesets".to_owned(), set(spec.tilesets.clone())),
        ]);
        let key = EntityUid::from_str(r#"Key::"key""#)?;
        let entity = Entity::new(key.clone(), attrs, HashSet::new())?;
        let entities = Entities::from_entities([entity], None)?;
        let mut actions = HashMap::new();
        for action in ["tiles", "styles", "static", "export"] {
            actions.insert(action, EntityUid::from_str(&format!(r#"Action::"{action}""#))?);
        }
        Ok(Cedar {
            authorizer: Authorizer::new(),
            policies: PolicySet::from_str(CEDAR_POLICY)?,
            entities,
            principal: EntityUid::from_str(r#"Client::"anonymous""#)?,
            key,
            actions,
        })
    }

    fn request(&self, input: &Input) -> Result<Request, Error> {
        let mut context = Vec::new();
        if let Some(host) = input.origin.as_deref().and_then(url_host) {
            // Every label-boundary suffix, for the wildcard entries.
            let suffixes = host
                .match_indices('.')
                .filter_map(|(dot, _)| host.get(dot + 1..))
                .map(|s| RestrictedExpression::new_string(s.to_owned()))
                .collect::<Vec<_>>();
            context.push(("host_suffixes".to_owned(), RestrictedExpression::new_set(suffixes)));
            context.push((
                "host".to_owned(),
                RestrictedExpression::new_string(strip_www(&host).to_owned()),
            ));
        }
        if let Some(tileset) = &input.tileset {
            let parts = tileset
                .split(',')
                .map(|p| RestrictedExpression::new_string(p.to_owned()));
            context.push(("tilesets".to_owned(), RestrictedExpression::new_set(parts)));
        }
        let action = self.actions.get(input.resource).ok_or("unknown resource")?.clone();
        let context = Context::from_pairs(context)?;
        Ok(Request::new(
            self.principal.clone(),
            action,
            self.key.clone(),
            context,
            None,
        )?)
    }
}

impl Engine for Cedar {
    fn allowed(&mut self, input: &Input) -> bool {
        match self.request(input) {
            Ok(request) => {
                let response = self.authorizer.is_authorized(&request, &self.policies, &self.entities);
                response.decision() == cedar_policy::Decision::Allow
            }
            Err(_) => false,
        }
    }
}

// ---------------------------------------------------------------------------
// Rego (regorus)
// ---------------------------------------------------------------------------

/// The key's rules in Rego. The key is `data.key` (allowlists as objects,
/// so a lookup is a map lookup, not a scan); the request is `input`, with
/// the raw Origin header, which the policy parses itself.
pub const REGO_POLICY: &str = r#"
package keypolicy

import rego.v1

default allow := false

allow if {
	origin_ok
	scope_ok
	tileset_ok
}

# Rules 2-3.
origin_ok if not data.key.origin_rule

origin_ok if {
	data.key.any_host
	host
}

origin_ok if data.key.domains[host]

origin_ok if {
	labels := split(lower_host, ".")
	some i in numbers.range(1, count(labels) - 1)
	data.key.wildcards[concat(".", array.slice(labels, i, count(labels)))]
}

# The Origin's host: scheme://host[:port], at most 2 KiB, no path.
lower_host := trim_suffix(lower(hostname), ".") if {
	count(input.origin) <= 2048
	parts := split(input.origin, "://")
	count(parts) == 2
	lower(parts[0]) in {"http", "https"}
	not contains(parts[1], "/")
	hostname := split(parts[1], ":")[0]
	hostname != ""
}

# One leading `www.` is ignored.
host := h if {
	startswith(lower_host, "www.")
	h := substring(lower_host, 4, -1)
	contains(h, ".")
} else := lower_host

# Rule 6.
required_scope := {"tiles": "tiles:read", "styles": "styles:read", "static": "static:read", "export": "export:read"}[input.resource]

scope_ok if count(data.key.scopes) == 0

scope_ok if data.key.scopes[required_scope]

# Rule 5.
tileset_ok if count(data.key.tilesets) == 0

tileset_ok if {
	not input.tileset
	input.resource != "tiles"
}

# (Written with a helper rule rather than `every`: with `every`, regorus
# 0.14.1's bytecode VM allowed a tileset that is not listed, while its
# interpreter denied it. See README.md.)
tileset_ok if {
	input.tileset
	not tileset_denied
}

tileset_denied if {
	some part in split(input.tileset, ",")
	not data.key.tilesets[part]
}
"#;

/// The Rego rule that holds the decision.
pub const REGO_RULE: &str = "data.keypolicy.allow";

/// The key as a Rego `data` document.
fn rego_data(spec: &KeySpec) -> Result<Value, Error> {
    let naive = Naive::new(spec)?;
    let object = |items: &[String]| {
        Value::from(
            items
                .iter()
                .map(|s| (Value::from(s.as_str()), Value::from(true)))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let wildcards: Vec<String> = naive
        .wildcard_suffixes
        .iter()
        .map(|s| s.trim_start_matches('.').to_owned())
        .collect();
    let key = BTreeMap::from([
        (Value::from("origin_rule"), Value::from(spec.has_origin_rule())),
        (Value::from("any_host"), Value::from(spec.domains.is_empty())),
        (Value::from("domains"), object(&naive.domains)),
        (Value::from("wildcards"), object(&wildcards)),
        (Value::from("scopes"), object(&spec.scopes)),
        (Value::from("tilesets"), object(&spec.tilesets)),
    ]);
    Ok(Value::from(BTreeMap::from([(Value::from("key"), Value::from(key))])))
}

/// The request as a Rego `input` document.
fn rego_input(input: &Input) -> Value {
    let mut fields = BTreeMap::from([(Value::from("resource"), Value::from(input.resource))]);
    if let Some(origin) = &input.origin {
        fields.insert(Value::from("origin"), Value::from(origin.as_str()));
    }
    if let Some(tileset) = &input.tileset {
        fields.insert(Value::from("tileset"), Value::from(tileset.as_str()));
    }
    Value::from(fields)
}

/// The regorus interpreter: one `Engine` holding the policy and the key's
/// data, `set_input` and `eval_rule` per request.
pub struct RegoInterpreter {
    engine: regorus::Engine,
}

impl RegoInterpreter {
    /// Parses the policy and loads the key's data once.
    pub fn new(spec: &KeySpec) -> Result<Self, Error> {
        let mut engine = regorus::Engine::new();
        engine.add_policy("keypolicy.rego".to_owned(), REGO_POLICY.to_owned())?;
        engine.add_data(rego_data(spec)?)?;
        Ok(RegoInterpreter { engine })
    }
}

impl Engine for RegoInterpreter {
    fn allowed(&mut self, input: &Input) -> bool {
        self.engine.set_input(rego_input(input));
        matches!(self.engine.eval_rule(REGO_RULE.to_owned()), Ok(Value::Bool(true)))
    }
}

/// The regorus bytecode VM (RVM): the policy compiled to a program once,
/// `set_input` and `execute` per request.
pub struct RegoVm {
    vm: RegoVM,
}

impl RegoVm {
    /// Compiles the policy to RVM bytecode and loads the key's data once.
    pub fn new(spec: &KeySpec) -> Result<Self, Error> {
        let mut engine = regorus::Engine::new();
        engine.add_policy("keypolicy.rego".to_owned(), REGO_POLICY.to_owned())?;
        let compiled = engine.compile_with_entrypoint(&REGO_RULE.into())?;
        let program: Arc<Program> = Compiler::compile_from_policy(&compiled, &[REGO_RULE])?;
        let mut vm = RegoVM::new();
        vm.load_program(program);
        vm.set_data(rego_data(spec)?)?;
        Ok(RegoVm { vm })
    }
}

impl Engine for RegoVm {
    fn allowed(&mut self, input: &Input) -> bool {
        self.vm.set_input(rego_input(input));
        matches!(self.vm.execute(), Ok(Value::Bool(true)))
    }
}
