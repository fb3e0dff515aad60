//! Shared by the adversarial corpora (`tests/data/adversarial_*.tsv`): the
//! escape syntax their lines use for bytes a TSV file cannot hold.

/// Decodes `\t \n \r \0 \\ \xHH \u{H..}` and `{{s*N}}`.
pub fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{{") {
            let end = after.find("}}").expect("unclosed {{");
            let (s, n) = after[..end].rsplit_once('*').expect("{{s*N}}");
            out.push_str(&s.repeat(n.parse().unwrap()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('\\') {
            let (decoded, used) = match after.chars().next() {
                Some('t') => ('\t', 1),
                Some('n') => ('\n', 1),
                Some('r') => ('\r', 1),
                Some('0') => ('\0', 1),
                Some('\\') => ('\\', 1),
                Some('x') => (char::from(u8::from_str_radix(&after[1..3], 16).unwrap()), 3),
                Some('u') => {
                    let end = after.find('}').unwrap();
                    (
                        char::from_u32(u32::from_str_radix(&after[2..end], 16).unwrap()).unwrap(),
                        end + 1,
                    )
                }
                other => panic!("bad escape {other:?} in {raw:?}"),
            };
            out.push(decoded);
            rest = &after[used..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}
