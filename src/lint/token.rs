//! Lint checks for access-token policies.

use crate::lint::{development_host, sort, Finding, LintCode, Written};
use crate::token::{AllowedUrl, TokenPolicy, TokenScope, TokenUsage};

const FIELD: &str = "allowedUrls";

/// The scopes a tile server checks: tiles and static images, styles,
/// fonts. A public token with none of them serves nothing a map needs.
const MAP_SCOPES: [TokenScope; 3] = [TokenScope::StylesTiles, TokenScope::StylesRead, TokenScope::FontsRead];

/// Lints a built token. Indexes point into [`TokenPolicy::allowed_urls`];
/// building already dropped exact duplicates, so use
/// [`lint_token_as_written`] to report them.
pub fn lint_token(token: &TokenPolicy) -> Vec<Finding> {
    let entries: Vec<(usize, &AllowedUrl)> = token.allowed_urls().iter().enumerate().collect();
    lint(token, &entries, Vec::new())
}

/// Lints a built token together with its `allowedUrls` as the user wrote
/// them: indexes point into `urls_as_written`, and entries that normalize
/// to the same URL are reported. Entries that do not parse are skipped.
pub fn lint_token_as_written<S: AsRef<str>>(token: &TokenPolicy, urls_as_written: &[S]) -> Vec<Finding> {
    let parsed: Vec<(usize, &str, AllowedUrl)> = urls_as_written
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().parse::<AllowedUrl>().ok().map(|u| (i, s.as_ref(), u)))
        .collect();
    let mut unique: Vec<(usize, &str, &AllowedUrl)> = Vec::new();
    let mut extra = Vec::new();
    for (i, written, url) in &parsed {
        match unique.iter().find(|(_, _, u)| *u == url) {
            Some((j, original, _)) => {
                let mut how = Written::split(written).differences(&Written::split(original), false);
                if how.is_empty() {
                    how.push("nothing: it is written the same way");
                }
                extra.push(
                    Finding::new(
                        LintCode::DuplicateEntry,
                        format!(
                            "`{written}` is the same URL as `{original}` ({FIELD}[{j}]) after normalization; they \
                             differ only in {}; remove one",
                            how.join(", ")
                        ),
                    )
                    .at(FIELD, Some(*i)),
                );
            }
            None => unique.push((*i, written, url)),
        }
    }
    let entries: Vec<(usize, &AllowedUrl)> = unique.iter().map(|(i, _, u)| (*i, *u)).collect();
    lint(token, &entries, extra)
}

/// Whether `broad` allows every request that `narrow` allows.
fn covers(broad: &AllowedUrl, narrow: &AllowedUrl) -> bool {
    let host = narrow
        .host()
        .strip_suffix(broad.host())
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
    let scheme = broad.scheme().is_none() || broad.scheme() == narrow.scheme();
    let port = broad.port().is_none() || broad.port() == narrow.port();
    let path = match (broad.path(), narrow.path()) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(b), Some(n)) => n
            .strip_prefix(b)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
    };
    host && scheme && port && path
}

fn lint(token: &TokenPolicy, entries: &[(usize, &AllowedUrl)], mut out: Vec<Finding>) -> Vec<Finding> {
    let scopes = token.scopes();
    if scopes.is_empty() {
        out.push(
            Finding::new(
                LintCode::ServesNothing,
                "the token has no scopes, so every request is refused (scope_missing); add the scopes its API \
                 calls need, e.g. styles:read and styles:tiles for a map",
            )
            .at("scopes", None),
        );
    } else if token.usage() == TokenUsage::Public && !MAP_SCOPES.iter().any(|s| scopes.contains(*s)) {
        let listed: Vec<&str> = scopes.iter().map(TokenScope::as_str).collect();
        out.push(
            Finding::new(
                LintCode::ServesNothing,
                format!(
                    "a public token with scopes {} serves nothing on a tile server, which checks styles:tiles, \
                     styles:read or fonts:read; add the ones the map needs",
                    listed.join(", ")
                ),
            )
            .at("scopes", None),
        );
    }
    if token.usage() == TokenUsage::Secret && token.is_url_restricted() {
        out.push(
            Finding::new(
                LintCode::SecretTokenWithUrls,
                "an sk token has allowedUrls, which only browsers honour: a secret token must never be used from \
                 a browser; use a pk token with public scopes in the page, and keep the sk token on a server",
            )
            .at(FIELD, None),
        );
    }
    if token.usage() == TokenUsage::Public && !token.is_url_restricted() {
        let default = if token.is_default() {
            " (the default public token cannot have URL restrictions: create a separate token for production)"
        } else {
            "; add allowedUrls with your sites"
        };
        out.push(Finding::new(
            LintCode::Unrestricted,
            format!("a public token without allowedUrls works from any URL{default}"),
        ));
    }
    for (i, url) in entries {
        if let Some(path) = url.path() {
            out.push(
                Finding::new(
                    LintCode::UrlWithPath,
                    format!(
                        "`{url}` restricts the path to `{path}`: cross-site requests carry only the page's origin \
                         under the default Referrer-Policy (strict-origin-when-cross-origin), and MapLibre's \
                         workers send only the origin, so those requests are refused; drop the path (`{}`) unless \
                         every page sends a full Referer",
                        without_path(url)
                    ),
                )
                .at(FIELD, Some(*i)),
            );
        }
        if let Some(why) = development_host(url.host()) {
            out.push(
                Finding::new(
                    LintCode::DevelopmentEntry,
                    format!(
                        "`{url}` is a development entry ({why}) in what may be a production token; use a separate \
                         token for local development"
                    ),
                )
                .at(FIELD, Some(*i)),
            );
        }
    }
    for (i, narrow) in entries {
        if let Some((j, broad)) = entries.iter().find(|(j, broad)| j != i && covers(broad, narrow)) {
            out.push(
                Finding::new(
                    LintCode::ShadowedEntry,
                    format!(
                        "`{narrow}` is already allowed by `{broad}` ({FIELD}[{j}]), which covers its subdomains \
                         and subpaths; remove it"
                    ),
                )
                .at(FIELD, Some(*i)),
            );
        }
    }
    sort(&mut out);
    out
}

/// The entry without its path.
fn without_path(url: &AllowedUrl) -> String {
    let mut out = String::new();
    if let Some(scheme) = url.scheme() {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(url.host());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out
}
