//! Formats of Visa Object values: URL Claims, `AffiliationAndRole`, `by`, dataset grant URLs.

/// The longest URL Claim: it "MUST NOT exceed 255 characters" (Passport 1.2 "URL Claims").
pub const MAX_URL_CLAIM_LEN: usize = 255;

/// The fixed vocabulary of the `by` claim (Passport 1.2 "by").
pub const BY_VALUES: [&str; 5] = ["self", "peer", "system", "so", "dac"];

/// Whether `s` is a URL Claim (Passport 1.2 "URL Claims": an RFC 3986 URI of at most 255
/// characters, compared as an opaque case-sensitive string, never fetched).
///
/// The check is syntactic and deliberately small: a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" /
/// "." )`), a colon, a non-empty rest, and only printable ASCII without spaces (RFC 3986 URIs are
/// ASCII; internationalized names must be percent- or punycode-encoded).
///
/// # Examples
///
/// ```
/// use gemj_passport::is_url_claim;
///
/// assert!(is_url_claim("https://doi.org/10.1038/s41431-018-0219-y"));
/// assert!(is_url_claim("https://no.organization"));
/// assert!(!is_url_claim("doi.org/10.1038"));
/// assert!(!is_url_claim("https://example.org/a b"));
/// ```
#[must_use]
pub fn is_url_claim(s: &str) -> bool {
    if s.len() > MAX_URL_CLAIM_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut scheme_bytes = scheme.bytes();
    scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
}

/// Splits an `AffiliationAndRole` value into `(role, affiliation)` at the first `@`.
///
/// "AffiliationAndRole can be safely partitioned into a {role, affiliation} pair by splitting the
/// value string at the first "@" sign", "or otherwise producing an error (i.e. denying
/// permission)". The role must be an eduPerson affiliation (`faculty`, `student`, `member`, …) or
/// a custom `namespace.role`, where "Custom roles and their prefixes MUST be limited to
/// characters: a-z, dash ("-"), underscore ("_"), digits (0-9)" and "MUST start with characters
/// a-z"; the affiliation must be non-empty and without whitespace.
///
/// # Examples
///
/// ```
/// use gemj_passport::split_affiliation_and_role;
///
/// assert_eq!(split_affiliation_and_role("faculty@u-tokyo.ac.jp"), Some(("faculty", "u-tokyo.ac.jp")));
/// assert_eq!(
///     split_affiliation_and_role("public.citizen-scientist@no.organization"),
///     Some(("public.citizen-scientist", "no.organization"))
/// );
/// assert_eq!(split_affiliation_and_role("faculty"), None);
/// assert_eq!(split_affiliation_and_role("Faculty@u-tokyo.ac.jp"), None);
/// ```
#[must_use]
pub fn split_affiliation_and_role(value: &str) -> Option<(&str, &str)> {
    fn role_part(s: &str) -> bool {
        let mut bytes = s.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
    }
    let (role, affiliation) = value.split_once('@')?;
    let role_ok = match role.split_once('.') {
        None => role_part(role),
        Some((namespace, custom)) => role_part(namespace) && role_part(custom),
    };
    let affiliation_ok = !affiliation.is_empty()
        && !affiliation
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    (role_ok && affiliation_ok).then_some((role, affiliation))
}

/// The dataset id of a `ControlledAccessGrants` value, when it is `prefix` followed by exactly one
/// path segment.
///
/// `prefix` is the configured grant URL prefix, with or without its trailing `/`
/// (`https://gemj.example.jp/datasets` and `https://gemj.example.jp/datasets/` behave alike). The
/// id must be one non-empty segment of RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`),
/// other than `.` and `..`: no further `/`, no query, no fragment, no percent-encoding, nothing
/// after it. Comparison is case-sensitive, as for every URL Claim. An empty `prefix` matches
/// nothing.
///
/// # Examples
///
/// ```
/// use gemj_passport::dataset_from_grant;
///
/// let prefix = "https://gemj.example.jp/datasets/";
/// assert_eq!(dataset_from_grant("https://gemj.example.jp/datasets/JGAD000001", prefix), Some("JGAD000001"));
/// assert_eq!(dataset_from_grant("https://gemj.example.jp/datasets/JGAD000001/", prefix), None);
/// assert_eq!(dataset_from_grant("https://gemj.example.jp/datasets/JGAD000001?x=1", prefix), None);
/// assert_eq!(dataset_from_grant("https://gemj.example.jp/datasetsX/JGAD000001", prefix), None);
/// ```
#[must_use]
pub fn dataset_from_grant<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    let rest = value.strip_prefix(prefix)?;
    let id = if prefix.ends_with('/') {
        rest
    } else {
        rest.strip_prefix('/')?
    };
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    (!id.is_empty() && id != "." && id != ".." && id.bytes().all(unreserved)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::{dataset_from_grant, is_url_claim, split_affiliation_and_role};

    #[test]
    fn url_claims() {
        #[track_caller]
        fn check(input: &str, expect: bool) {
            assert_eq!(is_url_claim(input), expect, "{input:?}");
        }
        check("https://doi.org/10.1038/s41431-018-0219-y", true);
        check("https://grid.ac/institutes/grid.240952.8", true);
        check("http://example.org", true);
        check("urn:jp:gemj:dac:1", true);
        check("https://no.organization", true);
        check(&format!("https://x.org/{}", "a".repeat(255 - 14)), true);
        check(&format!("https://x.org/{}", "a".repeat(256 - 14)), false);
        check("", false);
        check("https:", false);
        check(":x", false);
        check("1http://x", false);
        check("ht tp://x", false);
        check("https://x.org/a b", false);
        check("https://x.org/\n", false);
        check("https://例え.jp", false);
        check("doi.org/10.1038", false);
        check("faculty@u-tokyo.ac.jp", false);
    }

    #[test]
    fn affiliation_and_role() {
        #[track_caller]
        fn check(input: &str, expect: Option<(&str, &str)>) {
            assert_eq!(split_affiliation_and_role(input), expect, "{input:?}");
        }
        check("faculty@cam.ac.uk", Some(("faculty", "cam.ac.uk")));
        check("student@u-tokyo.ac.jp", Some(("student", "u-tokyo.ac.jp")));
        check("library-walk-in@x.jp", Some(("library-walk-in", "x.jp")));
        check(
            "ega.researcher@med.stanford.edu",
            Some(("ega.researcher", "med.stanford.edu")),
        );
        check(
            "nih.researcher@med.stanford.edu",
            Some(("nih.researcher", "med.stanford.edu")),
        );
        check(
            "public.citizen-scientist@no.organization",
            Some(("public.citizen-scientist", "no.organization")),
        );
        check("member@a@b", Some(("member", "a@b")));
        check("faculty", None);
        check("@cam.ac.uk", None);
        check("faculty@", None);
        check("Faculty@cam.ac.uk", None);
        check("1faculty@cam.ac.uk", None);
        check("fac ulty@cam.ac.uk", None);
        check("a.b.c@cam.ac.uk", None);
        check(".researcher@x", None);
        check("ega.@x", None);
        check("ega.Researcher@x", None);
        check("faculty@cam ac.uk", None);
        check("faculty@cam.ac.uk\n", None);
    }

    #[test]
    fn grants() {
        #[track_caller]
        fn check(value: &str, prefix: &str, expect: Option<&str>) {
            assert_eq!(
                dataset_from_grant(value, prefix),
                expect,
                "{value:?} with {prefix:?}"
            );
        }
        let slash = "https://gemj.example.jp/datasets/";
        let bare = "https://gemj.example.jp/datasets";
        check(
            "https://gemj.example.jp/datasets/JGAD000001",
            slash,
            Some("JGAD000001"),
        );
        check(
            "https://gemj.example.jp/datasets/JGAD000001",
            bare,
            Some("JGAD000001"),
        );
        check(
            "https://gemj.example.jp/datasets/gemj-ds_1.v2~x",
            slash,
            Some("gemj-ds_1.v2~x"),
        );
        check("https://gemj.example.jp/datasets/", slash, None);
        check("https://gemj.example.jp/datasets", bare, None);
        check("https://gemj.example.jp/datasets/", bare, None);
        check("https://gemj.example.jp/datasetsJGAD1", bare, None);
        check("https://gemj.example.jp/datasets/JGAD1/", slash, None);
        check("https://gemj.example.jp/datasets/JGAD1/files", slash, None);
        check("https://gemj.example.jp/datasets//JGAD1", slash, None);
        check(
            "https://gemj.example.jp/datasets/JGAD1?download=1",
            slash,
            None,
        );
        check("https://gemj.example.jp/datasets/JGAD1#x", slash, None);
        check("https://gemj.example.jp/datasets/JGAD%31", slash, None);
        check("https://gemj.example.jp/datasets/JGAD 1", slash, None);
        check("https://gemj.example.jp/datasets/..", slash, None);
        check("https://gemj.example.jp/datasets/.", slash, None);
        check("https://gemj.example.jp/datasets/データ", slash, None);
        check("HTTPS://gemj.example.jp/datasets/JGAD1", slash, None);
        check(
            "https://evil.example/https://gemj.example.jp/datasets/JGAD1",
            slash,
            None,
        );
        check("https://gemj.example.jp/datasets/JGAD1", "", None);
        check("JGAD1", "", None);
    }
}
