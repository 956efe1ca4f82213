//! Bulk requests (`POST /objects`, `OPTIONS /objects`, `POST /objects/access`) and their
//! responses: a summary, what resolved, and the unresolved ids grouped by status code.

use std::collections::BTreeMap;

/// The body of `POST /objects` and `OPTIONS /objects` (passports removed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkObjectIds {
    /// The ids asked for.
    pub bulk_object_ids: Vec<String>,
}

/// The body of `POST /objects/access` (passports removed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkAccessIds {
    /// For each object, the access ids asked for.
    pub bulk_object_access_ids: Vec<BulkAccessEntry>,
}

impl BulkAccessIds {
    /// How many (object, access id) pairs are asked for.
    #[must_use]
    pub fn pairs(&self) -> usize {
        self.bulk_object_access_ids
            .iter()
            .map(|e| e.bulk_access_ids.len())
            .fold(0, usize::saturating_add)
    }
}

/// One object of a bulk access request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkAccessEntry {
    /// The object.
    pub bulk_object_id: String,
    /// Its access ids.
    pub bulk_access_ids: Vec<String>,
}

/// Why a bulk request is refused for its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkLimit {
    /// It names no id (400).
    Empty,
    /// It names more than the server's `maxBulkRequestLength` (413).
    TooMany {
        /// The limit.
        max: usize,
        /// How many it names.
        named: usize,
    },
}

impl BulkLimit {
    /// The HTTP status code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::Empty => 400,
            Self::TooMany { .. } => 413,
        }
    }

    /// The message, for people.
    #[must_use]
    pub fn message(self) -> String {
        match self {
            Self::Empty => "A bulk request must name at least one id.".to_owned(),
            Self::TooMany { max, named } => format!(
                "A bulk request may name at most {max} ids (maxBulkRequestLength); this one \
                 names {named}."
            ),
        }
    }
}

/// Checks that a bulk request names between 1 and `max` ids.
///
/// # Errors
/// [`BulkLimit`].
pub fn check_bulk(named: usize, max: usize) -> Result<(), BulkLimit> {
    if named == 0 {
        return Err(BulkLimit::Empty);
    }
    if named > max {
        return Err(BulkLimit::TooMany { max, named });
    }
    Ok(())
}

/// The `summary` of a bulk response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BulkSummary {
    /// How many were asked for.
    pub requested: usize,
    /// How many resolved.
    pub resolved: usize,
    /// How many did not.
    pub unresolved: usize,
}

/// Ids that did not resolve, with the status they would have answered alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unresolved {
    /// The status code.
    pub error_code: u16,
    /// The ids.
    pub object_ids: Vec<String>,
}

/// Groups unresolved `(status, id)` pairs by status, in status order, ids in request order.
#[must_use]
pub fn group_unresolved(unresolved: Vec<(u16, String)>) -> Vec<Unresolved> {
    let mut groups: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for (code, id) in unresolved {
        groups.entry(code).or_default().push(id);
    }
    groups
        .into_iter()
        .map(|(error_code, object_ids)| Unresolved {
            error_code,
            object_ids,
        })
        .collect()
}

/// The answer of `POST /objects` (`T` = [`DrsObject`](crate::DrsObject)) and
/// `OPTIONS /objects` (`T` = [`Authorizations`](crate::Authorizations)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkObjects<T> {
    /// Counts.
    pub summary: BulkSummary,
    /// What resolved, in request order.
    pub resolved_drs_object: Vec<T>,
    /// What did not, grouped by status.
    pub unresolved_drs_objects: Vec<Unresolved>,
}

impl<T> BulkObjects<T> {
    /// The response for `requested` ids, of which `resolved` resolved.
    #[must_use]
    pub fn new(requested: usize, resolved: Vec<T>, unresolved: Vec<(u16, String)>) -> Self {
        Self {
            summary: BulkSummary {
                requested,
                resolved: resolved.len(),
                unresolved: unresolved.len(),
            },
            resolved_drs_object: resolved,
            unresolved_drs_objects: group_unresolved(unresolved),
        }
    }
}

/// One resolved access URL of a bulk access request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkAccessUrl {
    /// The object.
    pub drs_object_id: String,
    /// The access id.
    pub drs_access_id: String,
    /// The URL.
    pub url: String,
}

/// The answer of `POST /objects/access`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkAccessUrls {
    /// Counts (of (object, access id) pairs).
    pub summary: BulkSummary,
    /// What resolved, in request order.
    pub resolved_drs_object_access_urls: Vec<BulkAccessUrl>,
    /// What did not, grouped by status.
    pub unresolved_drs_objects: Vec<Unresolved>,
}

impl BulkAccessUrls {
    /// The response for `requested` pairs.
    #[must_use]
    pub fn new(
        requested: usize,
        resolved: Vec<BulkAccessUrl>,
        unresolved: Vec<(u16, String)>,
    ) -> Self {
        Self {
            summary: BulkSummary {
                requested,
                resolved: resolved.len(),
                unresolved: unresolved.len(),
            },
            resolved_drs_object_access_urls: resolved,
            unresolved_drs_objects: group_unresolved(unresolved),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BulkAccessIds, BulkLimit, BulkObjects, check_bulk};

    #[test]
    fn limits_and_grouping() -> Result<(), serde_json::Error> {
        assert_eq!(check_bulk(0, 10), Err(BulkLimit::Empty));
        assert_eq!(check_bulk(10, 10), Ok(()));
        let over = check_bulk(11, 10).err();
        assert_eq!(over.map(BulkLimit::status), Some(413));
        let r = BulkObjects::new(
            4,
            vec![1],
            vec![(404, "b".into()), (403, "c".into()), (404, "d".into())],
        );
        let v = serde_json::to_value(&r)?;
        assert_eq!(
            v,
            serde_json::json!({
                "summary": {"requested": 4, "resolved": 1, "unresolved": 3},
                "resolved_drs_object": [1],
                "unresolved_drs_objects": [
                    {"error_code": 403, "object_ids": ["c"]},
                    {"error_code": 404, "object_ids": ["b", "d"]},
                ],
            })
        );
        let body: BulkAccessIds = serde_json::from_str(
            r#"{"bulk_object_access_ids": [{"bulk_object_id": "a", "bulk_access_ids": ["x", "y"]}]}"#,
        )?;
        assert_eq!(body.pairs(), 2);
        assert!(serde_json::from_str::<BulkAccessIds>(r#"{"other": 1}"#).is_err());
        Ok(())
    }
}
