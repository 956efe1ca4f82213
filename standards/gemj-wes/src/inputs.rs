//! The `drs://` references of a run: in its `workflow_params` (any string, so CWL `File`
//! objects' `location` and `path` alike) and in the text of its attachments (a job document
//! attached beside the workflow), and the rewrite of the parameters to the staged files.

use std::collections::BTreeMap;

use serde_json::Value;

/// The `drs://` URIs in `params`, each once, in document order.
#[must_use]
pub fn drs_uris(params: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(params, &mut |s| {
        if is_drs(s) && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    });
    out
}

/// The `drs://` URIs written in a text (an attachment): each run of URI characters after
/// `drs://`, each once, in order. Bytes that are not UTF-8 are skipped.
#[must_use]
pub fn drs_uris_in_text(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out: Vec<String> = Vec::new();
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("drs://") {
        let tail = &rest[at..];
        let end = tail[6..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~:/%".contains(c)))
            .map_or(tail.len(), |e| e + 6);
        let uri = tail[..end].trim_end_matches(['.', ':', '/']);
        if uri.len() > 6 && !out.iter().any(|o| o == uri) {
            out.push(uri.to_owned());
        }
        rest = &tail[end.max(6)..];
    }
    out
}

fn is_drs(s: &str) -> bool {
    s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("drs://"))
}

fn walk(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        Value::Object(o) => o.values().for_each(|x| walk(x, f)),
        _ => {}
    }
}

/// The object id a `drs://` URI names on this gateway: `drs://<host>/<id>` with this
/// gateway's host, or the compact `drs://<prefix>:<id>`. `None` for another server's URI.
///
/// # Examples
///
/// ```
/// use gemj_wes::inputs::local_object_id;
/// assert_eq!(local_object_id("drs://gw.example.org/OBJ-1", "gw.example.org", "gemj"), Some("OBJ-1"));
/// assert_eq!(local_object_id("drs://gemj:OBJ-1", "gw.example.org", "gemj"), Some("OBJ-1"));
/// assert_eq!(local_object_id("drs://elsewhere.org/OBJ-1", "gw.example.org", "gemj"), None);
/// ```
#[must_use]
pub fn local_object_id<'a>(uri: &'a str, host: &str, prefix: &str) -> Option<&'a str> {
    let rest = uri.get(6..).filter(|_| is_drs(uri))?;
    if let Some((h, id)) = rest.split_once('/') {
        return (h.eq_ignore_ascii_case(host) && !id.is_empty() && !id.contains('/')).then_some(id);
    }
    let (p, id) = rest.split_once(':')?;
    (!prefix.is_empty() && p.eq_ignore_ascii_case(prefix) && !id.is_empty()).then_some(id)
}

/// `params` with every string equal to a key of `staged` replaced by its value (a staged
/// file's location): what the engine reads instead of the `drs://` URIs.
#[must_use]
pub fn rewrite(params: &Value, staged: &BTreeMap<String, String>) -> Value {
    match params {
        Value::String(s) => staged
            .get(s)
            .map_or_else(|| params.clone(), |l| Value::String(l.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| rewrite(x, staged)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), rewrite(v, staged)))
                .collect(),
        ),
        _ => params.clone(),
    }
}
