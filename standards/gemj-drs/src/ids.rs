//! Identifiers: hostname-based DRS URIs, compact identifiers, and the `expand` query.

/// The hostname-based DRS URI of an object: `drs://<host>/<id>`.
#[must_use]
pub fn hostname_uri(host: &str, id: &str) -> String {
    format!("drs://{host}/{id}")
}

/// The host of a base URL, without scheme, user info, port or path (`[::1]` stays bracketed):
/// the `<host>` of [`hostname_uri`].
///
/// # Examples
///
/// ```
/// assert_eq!(gemj_drs::host_of("https://user:pw@drs.example.org:8443/x"), "drs.example.org");
/// assert_eq!(gemj_drs::host_of("http://[::1]:8080"), "[::1]");
/// ```
#[must_use]
pub fn host_of(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.starts_with('[') {
        return host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end])
            .to_owned();
    }
    host_port
        .split_once(':')
        .map_or(host_port, |(host, _)| host)
        .to_owned()
}

/// The local id of a requested id: without the compact-identifier prefix (`<prefix>:`,
/// case-insensitive), if it has one (DRS 1.5 "Compact Identifier-based DRS URIs").
///
/// # Examples
///
/// ```
/// use gemj_drs::compact_local_id;
///
/// assert_eq!(compact_local_id("gemj", "GEMJ:OBJ-1"), "OBJ-1");
/// assert_eq!(compact_local_id("gemj", "gemjx:OBJ-1"), "gemjx:OBJ-1");
/// assert_eq!(compact_local_id("gemj", "OBJ-1"), "OBJ-1");
/// ```
#[must_use]
pub fn compact_local_id<'a>(prefix: &str, requested: &'a str) -> &'a str {
    let n = prefix.len();
    match (requested.get(..n), requested.get(n..)) {
        (Some(head), Some(rest)) if !prefix.is_empty() && head.eq_ignore_ascii_case(prefix) => {
            rest.strip_prefix(':').unwrap_or(requested)
        }
        _ => requested,
    }
}

/// The query string of `GET /objects/{id}` (and bulk): only `expand`, `true` or `false`.
///
/// # Errors
/// A message for people when the query holds anything else.
///
/// # Examples
///
/// ```
/// use gemj_drs::parse_expand;
///
/// assert_eq!(parse_expand(""), Ok(None));
/// assert_eq!(parse_expand("expand=true"), Ok(Some(true)));
/// assert!(parse_expand("expand=yes").is_err());
/// assert!(parse_expand("colour=red").is_err());
/// ```
pub fn parse_expand(query: &str) -> Result<Option<bool>, &'static str> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        expand: Option<bool>,
    }
    serde_urlencoded::from_str::<Query>(query)
        .map(|q| q.expand)
        .map_err(|_| "The only query parameter is `expand` (true or false).")
}

#[cfg(test)]
mod tests {
    use super::{compact_local_id, host_of, hostname_uri};

    #[test]
    fn hosts_lose_scheme_port_and_path() {
        for (url, host) in [
            ("http://127.0.0.1:8080", "127.0.0.1"),
            ("https://gemj.example.jp/gateway/", "gemj.example.jp"),
            ("https://user:pw@drs.example.org:8443", "drs.example.org"),
            ("http://[::1]:8080/x", "[::1]"),
            ("gemj.example.jp", "gemj.example.jp"),
        ] {
            assert_eq!(host_of(url), host, "{url}");
        }
        assert_eq!(hostname_uri("127.0.0.1", "OBJ-1"), "drs://127.0.0.1/OBJ-1");
    }

    #[test]
    fn compact_identifiers() {
        assert_eq!(compact_local_id("gemj", "gemj:OBJ-1"), "OBJ-1");
        assert_eq!(compact_local_id("gemj", "GEMJ:OBJ-1"), "OBJ-1");
        assert_eq!(compact_local_id("gemj", "OBJ-1"), "OBJ-1");
        assert_eq!(compact_local_id("gemj", "gemjx:OBJ-1"), "gemjx:OBJ-1");
        assert_eq!(compact_local_id("gemj", "gemj"), "gemj");
        assert_eq!(compact_local_id("gemj", "gemj:"), "");
        assert_eq!(compact_local_id("gemj", "日本"), "日本");
        assert_eq!(compact_local_id("", "x:OBJ"), "x:OBJ");
    }
}
