//! `LinkedIdentities`: parsing the value, and the set of Visa Identities known to be one person.

use std::collections::HashMap;

use crate::{ClaimError, VisaClaims, VisaType};

/// One Visa Identity listed in a `LinkedIdentities` value, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkedIdentity {
    /// The subject within `iss`.
    pub sub: String,
    /// The issuer.
    pub iss: String,
}

/// Parses a `LinkedIdentities` value (Passport 1.2 "LinkedIdentities").
///
/// "The value claim format is a semicolon-delimited list of `<uri-encoded-sub>,<uri-encoded-iss>`
/// entries with no added whitespace between entries." Each entry must have exactly one raw comma;
/// `sub` and `iss` are percent-decoded (RFC 3986 section 2.1; `+` stays `+`) and must be non-empty
/// UTF-8 without control characters. Raw whitespace or control characters, empty entries, a malformed `%` escape, or an empty
/// value are refused.
///
/// # Errors
///
/// [`ClaimError::BadLinkedIdentities`].
///
/// # Examples
///
/// ```
/// use gemj_passport::{LinkedIdentity, parse_linked_identities};
///
/// let ids = parse_linked_identities(
///     "123456,https%3A%2F%2Fexample.org%2Fa%7Cb%2Cc;7890,https%3A%2F%2Fexample2.org",
/// )?;
/// assert_eq!(ids[0], LinkedIdentity { sub: "123456".into(), iss: "https://example.org/a|b,c".into() });
/// assert_eq!(ids[1].iss, "https://example2.org");
/// assert!(parse_linked_identities("123456").is_err());
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
pub fn parse_linked_identities(value: &str) -> Result<Vec<LinkedIdentity>, ClaimError> {
    value
        .split(';')
        .map(|entry| {
            let (sub, iss) = entry
                .split_once(',')
                .ok_or(ClaimError::BadLinkedIdentities)?;
            let sub = percent_decode(sub).ok_or(ClaimError::BadLinkedIdentities)?;
            let iss = percent_decode(iss).ok_or(ClaimError::BadLinkedIdentities)?;
            Ok(LinkedIdentity { sub, iss })
        })
        .collect()
}

/// Writes a `LinkedIdentities` value: the inverse of [`parse_linked_identities`]. Every byte
/// of `sub` and `iss` but RFC 3986's unreserved characters is percent-encoded, so `,` and `;`
/// never split an entry.
///
/// # Examples
///
/// ```
/// use gemj_passport::{LinkedIdentity, format_linked_identities, parse_linked_identities};
///
/// let ids = vec![LinkedIdentity { sub: "a,b c".into(), iss: "https://idp.example/x;y".into() }];
/// let value = format_linked_identities(&ids);
/// assert_eq!(value, "a%2Cb%20c,https%3A%2F%2Fidp.example%2Fx%3By");
/// assert_eq!(parse_linked_identities(&value)?, ids);
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
#[must_use]
pub fn format_linked_identities(ids: &[LinkedIdentity]) -> String {
    fn escape(text: &str, out: &mut String) {
        use std::fmt::Write as _;
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        escape(&id.sub, &mut out);
        out.push(',');
        escape(&id.iss, &mut out);
    }
    out
}

/// Decodes `%XX` escapes. `None` for an empty input or result, a raw `,`, whitespace or control
/// character, a truncated or non-hex escape, or a result that is not UTF-8 or holds a control
/// character (identities end up in audit records).
fn percent_decode(encoded: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b',' => return None,
            b if b.is_ascii_whitespace() || b.is_ascii_control() => return None,
            b => out.push(b),
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.is_empty() && !decoded.chars().any(char::is_control)).then_some(decoded)
}

/// The Visa Identities known to be the same person as a Passport's subject.
///
/// A union-find over `(iss, sub)` pairs. It starts with the Passport's own identity; each
/// `LinkedIdentities` Visa joins its own Visa Identity with every identity in its `value` ("The
/// identity as indicated by the {"sub", "iss"} pair ... of the Visa is the same as the identity or
/// identities listed in the value claim"). Links are transitive and order-independent, so the
/// spec's three examples all work: one Visa listing the others, one Visa from a fourth identity
/// listing a superset, and chains of Visas. A `LinkedIdentities` Visa whose identities touch none
/// of the Passport's adds a separate group and so links nothing to the Passport.
///
/// Feed it only Visas that are verified, pass [`check_visa`](crate::check_visa) and whose source
/// the [`SourcePolicy`](crate::SourcePolicy) trusts: "a Passport Clearinghouse MUST check the
/// LinkedIdentities Visas by trusted issuers and ensure that trusted sources have asserted that
/// these Visa Identities represent the same end user" (Passport 1.2 "General Requirements" 8.4).
/// `LinkedIdentities` Visas with a non-empty `conditions` are ignored: their conditions could
/// only be evaluated against Visas whose identity they are meant to establish.
///
/// # Examples
///
/// ```
/// use gemj_passport::{IdentityLinks, parse_visa_claims};
/// use serde_json::json;
///
/// let mut links = IdentityLinks::new("https://broker.example.jp", "999");
/// let linked = parse_visa_claims(&json!({
///     "iss": "https://broker.example.jp", "sub": "999", "iat": 100, "exp": 200,
///     "ga4gh_visa_v1": {
///         "type": "LinkedIdentities", "asserted": 90, "by": "system",
///         "value": "10001,https:%2F%2Fidp.example1.jp", "source": "https://broker.example.jp"
///     }
/// }))?;
/// links.add_linked_identities(&linked);
/// assert!(links.is_linked("https://idp.example1.jp", "10001"));
/// assert!(!links.is_linked("https://idp.example1.jp", "10002"));
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IdentityLinks {
    /// `iss` → `sub` → node.
    ids: HashMap<String, HashMap<String, usize>>,
    /// Union-find parent of each node; node 0 is the Passport's identity.
    parent: Vec<usize>,
    /// Union-by-size weights, so trees stay logarithmically shallow without path compression.
    size: Vec<usize>,
}

impl IdentityLinks {
    /// Starts from the Passport's own identity.
    #[must_use]
    pub fn new(passport_iss: &str, passport_sub: &str) -> Self {
        let mut links = Self {
            ids: HashMap::new(),
            parent: Vec::new(),
            size: Vec::new(),
        };
        links.node(passport_iss, passport_sub);
        links
    }

    /// Adds the links asserted by a `LinkedIdentities` Visa. Other Visa types, Visas with a
    /// non-empty `conditions`, and malformed values are ignored (check them first with
    /// [`check_visa`](crate::check_visa) to report them).
    pub fn add_linked_identities(&mut self, visa: &VisaClaims) {
        let object = &visa.ga4gh_visa_v1;
        if object.r#type != VisaType::LinkedIdentities
            || object.conditions.as_ref().is_some_and(|c| !c.is_empty())
        {
            return;
        }
        let Ok(identities) = crate::parse_linked_identities(&object.value) else {
            return;
        };
        let own = self.node(&visa.iss, &visa.sub);
        for identity in identities {
            let other = self.node(&identity.iss, &identity.sub);
            self.union(own, other);
        }
    }

    /// Whether `(iss, sub)` is the Passport's identity or linked to it.
    #[must_use]
    pub fn is_linked(&self, iss: &str, sub: &str) -> bool {
        self.ids
            .get(iss)
            .and_then(|subs| subs.get(sub))
            .is_some_and(|&node| self.find(node) == self.find(0))
    }

    /// [`is_linked`](Self::is_linked) for a Visa's identity.
    ///
    /// # Errors
    ///
    /// [`ClaimError::SubjectMismatch`] when the Visa belongs to another person.
    pub fn check_subject(&self, visa: &VisaClaims) -> Result<(), ClaimError> {
        if self.is_linked(&visa.iss, &visa.sub) {
            Ok(())
        } else {
            Err(ClaimError::SubjectMismatch)
        }
    }

    fn node(&mut self, iss: &str, sub: &str) -> usize {
        if let Some(&node) = self.ids.get(iss).and_then(|subs| subs.get(sub)) {
            return node;
        }
        let node = self.parent.len();
        self.parent.push(node);
        self.size.push(1);
        self.ids
            .entry(iss.to_owned())
            .or_default()
            .insert(sub.to_owned(), node);
        node
    }

    fn find(&self, mut node: usize) -> usize {
        while let Some(&parent) = self.parent.get(node) {
            if parent == node {
                break;
            }
            node = parent;
        }
        node
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let size_a = self.size.get(a).copied().unwrap_or(1);
        let size_b = self.size.get(b).copied().unwrap_or(1);
        let (big, small) = if size_a >= size_b { (a, b) } else { (b, a) };
        if let Some(p) = self.parent.get_mut(small) {
            *p = big;
        }
        if let Some(s) = self.size.get_mut(big) {
            *s = size_a + size_b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{IdentityLinks, LinkedIdentity, parse_linked_identities, percent_decode};
    use crate::{ClaimError, Condition, Matcher, VisaClaims, VisaObject, VisaType};

    #[test]
    fn parse() {
        #[track_caller]
        fn check(value: &str, expect: Option<&[(&str, &str)]>) {
            let expect = expect
                .map(|pairs| {
                    pairs
                        .iter()
                        .map(|(sub, iss)| LinkedIdentity {
                            sub: (*sub).into(),
                            iss: (*iss).into(),
                        })
                        .collect::<Vec<_>>()
                })
                .ok_or(ClaimError::BadLinkedIdentities);
            assert_eq!(parse_linked_identities(value), expect, "{value:?}");
        }
        // The spec's examples.
        check(
            "123456,https%3A%2F%2Fexample.org%2Fa%7Cb%2Cc;7890,https%3A%2F%2Fexample2.org",
            Some(&[
                ("123456", "https://example.org/a|b,c"),
                ("7890", "https://example2.org"),
            ]),
        );
        check(
            "10001,https:%2F%2Fissuer.example1.org%2Foidc;abcd,https:%2F%2Fother.example2.org%2Foidc",
            Some(&[
                ("10001", "https://issuer.example1.org/oidc"),
                ("abcd", "https://other.example2.org/oidc"),
            ]),
        );
        // Raw `:` and `/` are tolerated; encoded `,` and `;` are data.
        check(
            "567,https://example2.org/oidc",
            Some(&[("567", "https://example2.org/oidc")]),
        );
        check(
            "a%2Cb,https://x%3By.org",
            Some(&[("a,b", "https://x;y.org")]),
        );
        check("a%3Bb,i", Some(&[("a;b", "i")]));
        check("a%20b,i", Some(&[("a b", "i")]));
        check("a+b,i", Some(&[("a+b", "i")]));
        check("%E6%97%A5%E6%9C%AC,i", Some(&[("日本", "i")]));
        check("日本,i", Some(&[("日本", "i")]));
        check("%2c,%2f", Some(&[(",", "/")]));
        // Malformed.
        check("", None);
        check("123456", None);
        check("123456,", None);
        check(",https://x", None);
        check("a,b,c", None);
        check("a,b;", None);
        check(";a,b", None);
        check("a,b;;c,d", None);
        check("a,b; c,d", None);
        check("a ,b", None);
        check("a,b\n", None);
        check("a\t,b", None);
        check("a%,b", None);
        check("a%2,b", None);
        check("a%zz,b", None);
        check("a%G0,b", None);
        check("a,%", None);
        check("%FF,b", None);
        check("%C3,b", None);
        check("%00,b", None);
        check("a,b%0A", None);
    }

    #[test]
    fn decoder() {
        assert_eq!(percent_decode("%41%62c").as_deref(), Some("Abc"));
        assert_eq!(percent_decode("%%41"), None);
        assert_eq!(percent_decode(""), None);
    }

    fn linked(iss: &str, sub: &str, value: &str) -> VisaClaims {
        VisaClaims {
            iss: iss.into(),
            sub: sub.into(),
            iat: 1,
            exp: 2,
            jti: None,
            ga4gh_visa_v1: VisaObject {
                r#type: VisaType::LinkedIdentities,
                asserted: 1,
                value: value.into(),
                source: iss.into(),
                by: Some("system".into()),
                conditions: None,
            },
        }
    }

    const E1: &str = "https://example1.org/oidc";
    const E2: &str = "https://example2.org/oidc";
    const E3: &str = "https://example3.org/oidc";
    const E0: &str = "https://example0.org/oidc";

    #[test]
    fn spec_example_one_visa_links_three() {
        let mut links = IdentityLinks::new(E1, "1234");
        links.add_linked_identities(&linked(
            E1,
            "1234",
            "567,https:%2F%2Fexample2.org%2Foidc;890123,https:%2F%2Fexample3.org%2Foidc",
        ));
        assert!(links.is_linked(E1, "1234"));
        assert!(links.is_linked(E2, "567"));
        assert!(links.is_linked(E3, "890123"));
        assert!(!links.is_linked(E3, "567"));
        assert!(!links.is_linked(E0, "1234"));
    }

    #[test]
    fn spec_example_superset_from_a_fourth_identity() {
        let mut links = IdentityLinks::new(E2, "567");
        links.add_linked_identities(&linked(
            E0,
            "00001",
            "1234,https:%2F%2Fexample1.org%2Foidc;567,https:%2F%2Fexample2.org%2Foidc;890123,https:%2F%2Fexample3.org%2Foidc",
        ));
        assert!(links.is_linked(E1, "1234"));
        assert!(links.is_linked(E3, "890123"));
        assert!(links.is_linked(E0, "00001"));
    }

    #[test]
    fn spec_example_chain_in_any_order() {
        let a = linked(E1, "1234", "567,https:%2F%2Fexample2.org%2Foidc");
        let b = linked(E2, "567", "890123,https:%2F%2Fexample3.org%2Foidc");
        for order in [[&a, &b], [&b, &a]] {
            let mut links = IdentityLinks::new(E1, "1234");
            for v in order {
                links.add_linked_identities(v);
            }
            assert!(links.is_linked(E3, "890123"));
            assert_eq!(links.check_subject(&linked(E3, "890123", "x,y")), Ok(()));
        }
    }

    #[test]
    fn unrelated_groups_do_not_link() {
        let mut links = IdentityLinks::new(E1, "1234");
        links.add_linked_identities(&linked(
            E2,
            "evil",
            "victim,https:%2F%2Fexample3.org%2Foidc",
        ));
        assert!(!links.is_linked(E2, "evil"));
        assert!(!links.is_linked(E3, "victim"));
        assert_eq!(
            links.check_subject(&linked(E3, "victim", "x,y")),
            Err(ClaimError::SubjectMismatch)
        );
    }

    #[test]
    fn ignored_visas() {
        let mut links = IdentityLinks::new(E1, "1234");
        let mut not_linked_type = linked(E1, "1234", "567,https:%2F%2Fexample2.org%2Foidc");
        not_linked_type.ga4gh_visa_v1.r#type = VisaType::AffiliationAndRole;
        links.add_linked_identities(&not_linked_type);
        let mut conditioned = linked(E1, "1234", "567,https:%2F%2Fexample2.org%2Foidc");
        conditioned.ga4gh_visa_v1.conditions = Some(vec![vec![Condition {
            r#type: VisaType::AffiliationAndRole,
            value: Some(Matcher::Pattern("*".into())),
            source: None,
            by: None,
        }]]);
        links.add_linked_identities(&conditioned);
        links.add_linked_identities(&linked(E1, "1234", "567"));
        assert!(!links.is_linked(E2, "567"));
        // An empty `conditions` is no condition.
        let mut empty = linked(E1, "1234", "567,https:%2F%2Fexample2.org%2Foidc");
        empty.ga4gh_visa_v1.conditions = Some(vec![]);
        links.add_linked_identities(&empty);
        assert!(links.is_linked(E2, "567"));
    }

    #[test]
    fn many_links_stay_fast() {
        let mut links = IdentityLinks::new(E1, "root");
        for i in 0..2000 {
            links.add_linked_identities(&linked(
                E1,
                &format!("u{i}"),
                &format!("u{},{}", i + 1, "https:%2F%2Fexample1.org%2Foidc"),
            ));
        }
        links.add_linked_identities(&linked(E1, "root", "u1000,https:%2F%2Fexample1.org%2Foidc"));
        assert!(links.is_linked(E1, "u0"));
        assert!(links.is_linked(E1, "u2000"));
        assert!(!links.is_linked(E1, "u2001"));
    }
}
