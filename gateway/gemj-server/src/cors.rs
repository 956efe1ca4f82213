//! CORS for the GA4GH APIs, so a web page (a genome browser reading htsget, a portal resolving
//! DRS ids, a Beacon query form) on a configured origin can call them: `server.cors_origins`.
//!
//! Only the htsget, DRS and Beacon paths (and the data URLs they issue) answer CORS; the gateway's own APIs (consent, admin,
//! audit, ...) never do. A preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) is answered by the middleware before any route runs, so it
//! never resolves an id nor reaches the access layer; an `OPTIONS` that is not a preflight
//! (DRS's authorizations endpoint) goes to its route as before. Credentials are bearer tokens,
//! never cookies, so `Access-Control-Allow-Credentials` is not sent.

use actix_cors::Cors;
use actix_web::http::{Method, header};

/// The path prefixes that answer CORS: the three APIs, and the signed data URLs their tickets
/// and access methods hand out (a browser follows them too).
const CORS_PATHS: [&str; 4] = ["/htsget/", "/ga4gh/drs/", "/beacon/", "/data/v1/objects/"];

/// Whether `s` is `*` or a bare origin (`scheme://host[:port]`, no path, query or user).
#[must_use]
pub fn is_origin(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
}

/// Whether requests to `path` answer CORS.
#[must_use]
pub fn is_cors_path(path: &str) -> bool {
    CORS_PATHS.iter().any(|p| path.starts_with(p))
}

/// The middleware for `origins` (see the module documentation). With no origins it allows
/// none, so no response carries CORS headers.
pub fn middleware(origins: &[String]) -> Cors {
    let any = origins.iter().any(|o| o == "*");
    let allowed: Vec<String> = origins.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, head| {
            is_cors_path(head.uri.path())
                && (any
                    || origin
                        .to_str()
                        .is_ok_and(|o| allowed.iter().any(|a| a == o)))
        })
        .allowed_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ACCEPT_RANGES,
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
        ])
        .max_age(600)
        .block_on_origin_mismatch(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_paths() {
        for ok in ["*", "https://portal.example.jp", "http://127.0.0.1:8080"] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "",
            "portal.example.jp",
            "https://",
            "https://a/b",
            "ftp://a",
            "https://u@a",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
        assert!(is_cors_path("/htsget/reads/x") && is_cors_path("/beacon/v2/info"));
        assert!(is_cors_path("/ga4gh/drs/v1/objects/x") && is_cors_path("/data/v1/objects/x"));
        assert!(!is_cors_path("/admin/v1/approvals") && !is_cors_path("/consent/v1/events"));
    }
}
