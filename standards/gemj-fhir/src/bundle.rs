//! Bundles the server answers: `searchset` (with `total`, `self` and `next` links) and
//! `transaction-response` / `batch-response`.

use serde_json::{Value, json};

/// A `searchset` page: the matches on this page (`resources`), the total of all matches, and
/// the links (`self` always, `next` when more follow, `previous` when not the first page).
#[must_use]
pub fn searchset(
    resources: Vec<Value>,
    total: u64,
    self_link: &str,
    next_link: Option<&str>,
    previous_link: Option<&str>,
    base: &str,
) -> Value {
    let mut links = vec![json!({"relation": "self", "url": self_link})];
    if let Some(next) = next_link {
        links.push(json!({"relation": "next", "url": next}));
    }
    if let Some(previous) = previous_link {
        links.push(json!({"relation": "previous", "url": previous}));
    }
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let full_url = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            let mode = if r["resourceType"] == "OperationOutcome" {
                "outcome"
            } else {
                "match"
            };
            json!({"fullUrl": full_url, "resource": r, "search": {"mode": mode}})
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !entry.is_empty() {
        bundle["entry"] = json!(entry);
    }
    bundle
}

/// One entry of a transaction or batch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryResponse {
    /// `201 Created`, `200 OK`, `400 Bad Request`, ...
    pub status: String,
    /// `Type/id` of what the entry created or matched, when there is one.
    pub location: Option<String>,
    /// An `OperationOutcome` for an entry that failed or was accepted with warnings.
    pub outcome: Option<Value>,
}

/// A `transaction-response` or `batch-response` (one entry per request entry, in order).
#[must_use]
pub fn response_bundle(kind: &str, entries: &[EntryResponse]) -> Value {
    let entry: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut response = json!({"status": e.status});
            if let Some(location) = &e.location {
                response["location"] = json!(location);
            }
            if let Some(outcome) = &e.outcome {
                response["outcome"] = outcome.clone();
            }
            json!({"response": response})
        })
        .collect();
    let mut bundle = json!({"resourceType": "Bundle", "type": format!("{kind}-response")});
    if !entry.is_empty() {
        bundle["entry"] = json!(entry);
    }
    bundle
}
