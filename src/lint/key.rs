//! Lint checks for API-key policies.

use crate::key::{AllowedDomain, KeyPolicy, KeyScope, KeyType};
use crate::lint::{development_host, sort, Finding, LintCode, Written};

const FIELD: &str = "allowed_domains";

/// Lints a built key policy. Indexes point into
/// [`KeyPolicy::allowed_domains`]; building already dropped duplicates, so
/// use [`lint_key_as_written`] to report them.
pub fn lint_key(policy: &KeyPolicy) -> Vec<Finding> {
    let entries: Vec<(usize, String, &AllowedDomain)> = policy
        .allowed_domains()
        .iter()
        .enumerate()
        .map(|(i, d)| (i, d.to_string(), d))
        .collect();
    lint(policy, &entries, &[])
}

/// Lints a built key policy together with its `allowed_domains` as the
/// user wrote them (in order, before normalization): indexes point into
/// `domains_as_written`, and duplicates and ignored ports or paths are
/// reported too. Entries that do not parse are skipped (the policy could
/// not have been built with them).
pub fn lint_key_as_written<S: AsRef<str>>(policy: &KeyPolicy, domains_as_written: &[S]) -> Vec<Finding> {
    let parsed: Vec<(usize, &str, AllowedDomain)> = domains_as_written
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().parse::<AllowedDomain>().ok().map(|d| (i, s.as_ref(), d)))
        .collect();
    let mut first: Vec<(usize, String, &AllowedDomain)> = Vec::new();
    let mut repeats = Vec::new();
    for (i, written, entry) in &parsed {
        match first.iter().find(|(_, _, d)| *d == entry) {
            Some((j, _, _)) => repeats.push((*i, *written, *j)),
            None => first.push((*i, entry.to_string(), entry)),
        }
    }
    let mut extra = Vec::new();
    for (i, written, j) in repeats {
        let original = domains_as_written.get(j).map(AsRef::as_ref).unwrap_or_default();
        let mut how = Written::split(written).differences(&Written::split(original), true);
        if how.is_empty() {
            how.push("nothing: it is written the same way");
        }
        extra.push(
            Finding::new(
                LintCode::DuplicateEntry,
                format!(
                    "`{written}` is the same entry as `{original}` ({FIELD}[{j}]) after normalization; they differ \
                     only in {} — domain matching ignores scheme, port and path and folds case, `www.` and a \
                     trailing dot; remove one",
                    how.join(", ")
                ),
            )
            .at(FIELD, Some(i)),
        );
    }
    for (i, written, entry) in &parsed {
        let parts = Written::split(written);
        let path = parts.path.trim_end_matches('/');
        let is_app = entry.to_string().contains("://");
        let mut ignored = Vec::new();
        if let Some(port) = parts.port {
            ignored.push(format!("port {port}"));
        }
        if !path.is_empty() {
            ignored.push(format!("path `{}`", parts.path));
        }
        if !ignored.is_empty() {
            let allows = if is_app {
                "this origin".to_owned()
            } else {
                format!("`{entry}` on any scheme, port and path")
            };
            extra.push(
                Finding::new(
                    LintCode::IgnoredPortOrPath,
                    format!(
                        "`{written}`: the {} is ignored; the entry allows {allows}",
                        ignored.join(" and ")
                    ),
                )
                .at(FIELD, Some(*i)),
            );
        }
    }
    lint(policy, &first, &extra)
}

/// The checks, on unique entries with their indexes.
fn lint(policy: &KeyPolicy, entries: &[(usize, String, &AllowedDomain)], extra: &[Finding]) -> Vec<Finding> {
    let mut out = extra.to_vec();
    let scopes = policy.scopes();
    let has_domains = !policy.allowed_domains().is_empty();
    let has_tilesets = !policy.allowed_tilesets().is_empty();
    if has_tilesets && !scopes.is_empty() && !scopes.contains(KeyScope::TilesRead) {
        let listed: Vec<&str> = scopes.iter().map(KeyScope::as_str).collect();
        out.push(
            Finding::new(
                LintCode::TilesetsWithoutTilesScope,
                format!(
                    "allowed_tilesets is set but scopes ({}) lack tiles:read, so every tile request is refused \
                     (scope_missing); add tiles:read, or remove allowed_tilesets if the key is not for tiles",
                    listed.join(", ")
                ),
            )
            .at("scopes", None),
        );
    }
    match policy.key_type() {
        KeyType::Web if has_domains && entries.iter().all(|(_, shown, _)| shown.contains("://")) => {
            out.push(
                Finding::new(
                    LintCode::WebKeyOnlyAppSchemes,
                    "a web key whose allowed_domains are all app-scheme origins (capacitor://, tauri://…) can never \
                     serve a website; add the site's domains, or use a separate key for the app",
                )
                .at(FIELD, None),
            );
        }
        KeyType::Desktop | KeyType::Server if has_domains => out.push(
            Finding::new(
                LintCode::DomainsOnNonBrowserKey,
                format!(
                    "a {} key with allowed_domains requires an Origin header: desktop clients will be rejected \
                     because they do not send Origin; remove allowed_domains, or make this a web key",
                    policy.key_type()
                ),
            )
            .at(FIELD, None),
        ),
        KeyType::Web if !has_domains => out.push(Finding::new(
            LintCode::WebKeyAnyOrigin,
            "a web key without allowed_domains accepts an Origin from any website; add allowed_domains to \
             restrict it to your sites",
        )),
        KeyType::Any if !has_domains && scopes.is_empty() && !has_tilesets => out.push(Finding::new(
            LintCode::Unrestricted,
            "no key type, scopes, domains or tilesets: the key works from anywhere, with anything; fine during \
             setup, but move to web (with allowed_domains), desktop or server for production",
        )),
        // Without domains a desktop or server key ignores the Origin, so
        // its type alone restricts nothing.
        KeyType::Desktop | KeyType::Server if scopes.is_empty() && !has_tilesets => out.push(Finding::new(
            LintCode::Unrestricted,
            format!(
                "a {} key without scopes or tilesets works from anywhere, with anything (without domains the \
                 Origin is optional); add the scopes and tilesets it needs",
                policy.key_type()
            ),
        )),
        _ => {}
    }
    for (i, shown, _) in entries {
        if shown.contains("://") {
            // App origins (`capacitor://localhost`) are production values.
            continue;
        }
        let host = shown.strip_prefix("*.").unwrap_or(shown);
        if let Some(why) = development_host(host) {
            out.push(
                Finding::new(
                    LintCode::DevelopmentEntry,
                    format!(
                        "`{shown}` is a development entry ({why}) in what may be a production key; anyone can \
                         send this Origin, so keep development entries on a separate key"
                    ),
                )
                .at(FIELD, Some(*i)),
            );
        }
    }
    for (i, shown, _) in entries {
        for (j, other, _) in entries {
            let Some(suffix) = other.strip_prefix("*.") else {
                continue;
            };
            if i == j || shown.contains("://") {
                continue;
            }
            let covered = |host: &str| host.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('.'));
            if let Some(narrower) = shown.strip_prefix("*.") {
                if covered(narrower) {
                    out.push(
                        Finding::new(
                            LintCode::ShadowedEntry,
                            format!("`{shown}` is covered by `{other}` ({FIELD}[{j}]); remove it"),
                        )
                        .at(FIELD, Some(*i)),
                    );
                    break;
                }
            } else if covered(shown) {
                out.push(
                    Finding::new(
                        LintCode::WildcardCoversExact,
                        format!("`{shown}` is already allowed by the wildcard `{other}` ({FIELD}[{j}]); remove it"),
                    )
                    .at(FIELD, Some(*i)),
                );
                break;
            }
        }
    }
    sort(&mut out);
    out
}
