//! Shared helpers of the integration tests: GET query strings, the test limits, and the check
//! of a refused query.

#![allow(dead_code)] // Reason: each test binary uses a different subset of these helpers.

use std::fmt::Display;

use gemj_beacon::{BeaconError, BeaconQuery, ErrorKind, QueryLimits};

/// A GET query string (`a=1&b=2`) as the `(name, value)` pairs the server hands over; a
/// parameter without `=` has an empty value.
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The tests' limits: at most 100 records and `max_filters` filters, defaults otherwise.
pub(crate) fn limits(max_filters: usize) -> QueryLimits {
    QueryLimits {
        max_limit: 100,
        max_filters,
        ..QueryLimits::default()
    }
}

/// The query parsed from `input` (named in the failure), which must be accepted.
#[track_caller]
pub(crate) fn accepted(
    input: &dyn Display,
    result: Result<BeaconQuery, BeaconError>,
) -> BeaconQuery {
    match result {
        Ok(q) => q,
        Err(e) => panic!("{input}: {e}"),
    }
}

/// Asserts that the query parsed from `input` (named in the failure) was refused with status
/// 400, `kind`, and a message that contains `message`.
#[track_caller]
pub(crate) fn assert_refused(
    input: &dyn Display,
    result: Result<BeaconQuery, BeaconError>,
    kind: ErrorKind,
    message: &str,
) {
    match result {
        Ok(q) => panic!("{input}: accepted as {q:?}"),
        Err(e) => {
            assert_eq!(e.status, 400, "{input}");
            assert_eq!(e.kind, kind, "{input}: {}", e.message);
            assert!(
                e.message.contains(message),
                "{input}: message `{}` lacks `{message}`",
                e.message
            );
        }
    }
}
