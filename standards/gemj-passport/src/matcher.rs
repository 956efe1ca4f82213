//! Condition Clause matchers (`const:`, `pattern:`, `split_pattern:`) and spec Pattern Matching.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ClaimError;

/// The value of a Condition Clause claim: `<match-type>:<match-value>` (Passport 1.2
/// "conditions").
///
/// * `const:` — "case sensitive full string matching".
/// * `pattern:` — full string [Pattern Matching](pattern_matches).
/// * `split_pattern:` — the compared claim value is split on `;` and the pattern must match at
///   least one full part.
///
/// A value without one of these prefixes does not parse ([`ClaimError::BadCondition`]). The spec
/// says an unknown prefix makes the clause "fail to match", and also that a Clearinghouse "MUST
/// reject any Passport Visas that contain patterns that are not supported"; this crate takes the
/// stricter reading and refuses the whole Visa.
///
/// Serialized back as the same prefixed string, so it can also be used in configuration files.
///
/// # Examples
///
/// ```
/// use gemj_passport::Matcher;
///
/// let m = Matcher::parse("pattern:faculty@*.ac.jp")?;
/// assert!(m.matches("faculty@u-tokyo.ac.jp"));
/// assert!(!m.matches("student@u-tokyo.ac.jp"));
///
/// let m = Matcher::parse("split_pattern:123,https:%2F%2Fexample?.org")?;
/// assert!(m.matches("001,https:%2F%2Fexample1.org;123,https:%2F%2Fexample2.org"));
///
/// assert!(Matcher::parse("faculty@*").is_err());
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// `const:<value>`: case-sensitive full string equality.
    Const(String),
    /// `pattern:<pattern>`: full string Pattern Matching.
    Pattern(String),
    /// `split_pattern:<pattern>`: Pattern Matching against any `;`-separated part.
    SplitPattern(String),
}

impl Matcher {
    /// Parses `const:…`, `pattern:…` or `split_pattern:…`.
    ///
    /// # Errors
    ///
    /// [`ClaimError::BadCondition`] when the prefix is absent or unknown.
    pub fn parse(s: &str) -> Result<Self, ClaimError> {
        let (prefix, suffix) = s.split_once(':').ok_or(ClaimError::BadCondition)?;
        match prefix {
            "const" => Ok(Self::Const(suffix.to_owned())),
            "pattern" => Ok(Self::Pattern(suffix.to_owned())),
            "split_pattern" => Ok(Self::SplitPattern(suffix.to_owned())),
            _ => Err(ClaimError::BadCondition),
        }
    }

    /// Whether `value` (a Visa Object claim value) satisfies this matcher.
    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Const(expected) => expected == value,
            Self::Pattern(pattern) => pattern_matches(pattern, value),
            Self::SplitPattern(pattern) => {
                value.split(';').any(|part| pattern_matches(pattern, part))
            }
        }
    }

    /// The match value (the text after the prefix).
    #[must_use]
    pub fn suffix(&self) -> &str {
        match self {
            Self::Const(s) | Self::Pattern(s) | Self::SplitPattern(s) => s,
        }
    }
}

impl FromStr for Matcher {
    type Err = ClaimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Const(s) => write!(f, "const:{s}"),
            Self::Pattern(s) => write!(f, "pattern:{s}"),
            Self::SplitPattern(s) => write!(f, "split_pattern:{s}"),
        }
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Full string, case-sensitive Pattern Matching (Passport 1.2 "Pattern Matching").
///
/// `?` matches exactly one character (one Unicode scalar value), `*` matches any string including
/// the empty one. "There is no escape character": every other character, including regex
/// metacharacters such as `.`, `+`, `(` or `\`, matches only itself. The result is true when at
/// least one way to match exists. Runs in O(len(pattern) × len(input)) time at worst, without
/// recursion and without allocation beyond two character buffers.
///
/// # Examples
///
/// ```
/// use gemj_passport::pattern_matches;
///
/// assert!(pattern_matches("faculty@*", "faculty@med.stanford.edu"));
/// assert!(pattern_matches("https://example?.org", "https://example1.org"));
/// assert!(!pattern_matches("https://example.org", "https://exampleXorg"));
/// ```
#[must_use]
pub fn pattern_matches(pattern: &str, input: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = input.chars().collect();
    let (mut pi, mut si) = (0_usize, 0_usize);
    // The position just after the last `*` seen, and the input position it currently absorbs up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(si) {
        match p.get(pi) {
            Some('*') => {
                pi += 1;
                backtrack = Some((pi, si));
            }
            Some(&pc) if pc == '?' || pc == c => {
                pi += 1;
                si += 1;
            }
            _ => match backtrack {
                Some((after_star, absorbed)) => {
                    // Let the last `*` absorb one more input character and retry from there.
                    pi = after_star;
                    si = absorbed + 1;
                    backtrack = Some((after_star, si));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::{Matcher, pattern_matches};
    use crate::ClaimError;

    #[test]
    fn pattern_semantics() {
        #[track_caller]
        fn check(pattern: &str, input: &str, expect: bool) {
            assert_eq!(
                pattern_matches(pattern, input),
                expect,
                "{pattern:?} vs {input:?}"
            );
        }
        // Literal text: full string, case-sensitive.
        check("", "", true);
        check("", "a", false);
        check("abc", "abc", true);
        check("abc", "abcd", false);
        check("abc", "ab", false);
        check("abc", "ABC", false);
        // `?` is exactly one character.
        check("?", "", false);
        check("?", "a", true);
        check("?", "ab", false);
        check("a?c", "abc", true);
        check("a?c", "ac", false);
        check("??", "日本", true);
        check("?", "日", true);
        // `*` is zero or more characters.
        check("*", "", true);
        check("*", "anything at all", true);
        check("a*", "a", true);
        check("a*", "abc", true);
        check("*c", "abc", true);
        check("*c", "abd", false);
        check("a*c", "ac", true);
        check("a*c", "abbbc", true);
        check("a*c", "abbbd", false);
        check("a**c", "abc", true);
        check("*a*b*", "xxaxxbxx", true);
        check("*a*b*", "xxbxxaxx", false);
        check("a*b*c", "abcbc", true);
        check("*?", "", false);
        check("*?", "x", true);
        check("?*?", "x", false);
        check("faculty@*", "faculty@med.stanford.edu", true);
        check("faculty@*", "student@med.stanford.edu", false);
        // No other metacharacters: regex syntax is literal.
        check("a.c", "abc", false);
        check("a.c", "a.c", true);
        check("https://example.org", "https://exampleXorg", false);
        check("a+", "aa", false);
        check("a+", "a+", true);
        check("(a|b)", "a", false);
        check("(a|b)", "(a|b)", true);
        check("[ab]", "a", false);
        check("^abc$", "abc", false);
        check(r"a\*", r"a\xyz", true);
        check(r"a\?", "a?", false);
        check(r"a\?", r"a\x", true);
        check(".*", "anything", false);
        check(".*", ".", true);
        // `*` and `?` in the input are ordinary characters.
        check("a?c", "a*c", true);
        check("abc", "a*c", false);
        check("a*c", "a*c", true);
        // Worst cases stay fast.
        check(&"*a".repeat(200), &"a".repeat(4000), true);
        check(&format!("{}b", "*a".repeat(200)), &"a".repeat(4000), false);
    }

    #[test]
    fn matcher_semantics() {
        #[track_caller]
        fn check(matcher: &str, value: &str, expect: bool) {
            let m = Matcher::parse(matcher).unwrap_or_else(|e| panic!("{matcher}: {e}"));
            assert_eq!(m.matches(value), expect, "{matcher:?} vs {value:?}");
        }
        check(
            "const:faculty@uni-heidelberg.de",
            "faculty@uni-heidelberg.de",
            true,
        );
        check(
            "const:faculty@uni-heidelberg.de",
            "Faculty@uni-heidelberg.de",
            false,
        );
        check(
            "const:faculty@uni-heidelberg.de",
            "faculty@uni-heidelberg.de ",
            false,
        );
        check("const:a*", "abc", false);
        check("const:a*", "a*", true);
        check("const:a?", "ab", false);
        check("const:", "", true);
        check("const:", "x", false);
        check("const:https://x.org:8443/a", "https://x.org:8443/a", true);
        check("pattern:faculty@*", "faculty@x", true);
        check("pattern:faculty@*", "faculty", false);
        check("pattern:https://example?.org", "https://example1.org", true);
        check(
            "pattern:https://example?.org",
            "https://example12.org",
            false,
        );
        check("pattern:*", "", true);
        // The spec's own split_pattern example.
        check(
            "split_pattern:123,https:%2F%2Fexample?.org",
            "001,https:%2F%2Fexample1.org;123,https:%2F%2Fexample2.org;456,https:%2F%2Fexample3.org",
            true,
        );
        check(
            "split_pattern:123,https:%2F%2Fexample?.org",
            "001,https:%2F%2Fexample1.org;1234,https:%2F%2Fexample2.org",
            false,
        );
        check("split_pattern:b", "a;b;c", true);
        check("split_pattern:b", "a;bc", false);
        check("split_pattern:a;b", "a;b", false);
        check("split_pattern:", "a;;c", true);
        check("split_pattern:*", "", true);
        check("pattern:a;b", "a;b", true);
    }

    #[test]
    fn matcher_parse() {
        #[track_caller]
        fn check(input: &str, expect: Result<Matcher, ClaimError>) {
            let parsed = Matcher::parse(input);
            assert_eq!(parsed, expect, "{input:?}");
            if let Ok(m) = parsed {
                assert_eq!(m.to_string(), input);
            }
        }
        check("const:x", Ok(Matcher::Const("x".into())));
        check("const:", Ok(Matcher::Const(String::new())));
        check("const:a:b", Ok(Matcher::Const("a:b".into())));
        check("pattern:*", Ok(Matcher::Pattern("*".into())));
        check("split_pattern:a,b", Ok(Matcher::SplitPattern("a,b".into())));
        check("faculty@x", Err(ClaimError::BadCondition));
        check("", Err(ClaimError::BadCondition));
        check(":x", Err(ClaimError::BadCondition));
        check("Const:x", Err(ClaimError::BadCondition));
        check("regex:.*", Err(ClaimError::BadCondition));
        check(" const:x", Err(ClaimError::BadCondition));
        check("https://example.org", Err(ClaimError::BadCondition));
    }

    #[test]
    fn serde_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let m: Matcher = serde_json::from_str("\"split_pattern:a*\"")?;
        assert_eq!(m, Matcher::SplitPattern("a*".into()));
        assert_eq!(serde_json::to_string(&m)?, "\"split_pattern:a*\"");
        assert!(serde_json::from_str::<Matcher>("\"a*\"").is_err());
        Ok(())
    }
}
