//! The compact form of an audit row (`audit_log.packed`, migration 0014).
//!
//! An event is stored without its repeated text: every string that recurs across rows (the API,
//! endpoint, action, resource, decision, reasons, approval, participants, the hashes of the
//! credentials (one passport serves many requests) and, in its own column, the principal) is
//! a number in `audit_terms`; a request id that is a UUID is its 16 bytes; the time is its own
//! column in nanoseconds. [`postcard`] writes the rest as varints. Unpacking gives back the very
//! event, so its JSON (what the chain hashes) is rebuilt byte for byte: a rewritten term
//! breaks the chain like a rewritten row.
//!
//! A legacy row whose JSON the current model would not write back identically (an older
//! field order, say) is kept verbatim ([`Packed::Verbatim`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use gemj_model::{AccessDecision, AuditEvent};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::convert::parse_variant;

/// Terms a store handle remembers before it starts again (a term is about 100 bytes).
const MAX_CACHED_TERMS: usize = 1 << 18;

/// The ids of an append's terms, by text.
pub(crate) type TermIds = HashMap<Arc<str>, i64, Keyed>;

/// The hasher of the term maps every audited request reads: foldhash, seeded at random per map
/// (a fraction of SipHash's cost on these short keys; a caller who names terms still cannot
/// aim at the seed).
pub(crate) type Keyed = foldhash::fast::RandomState;

/// Terms already in `audit_terms`, by text and by id. Only committed terms enter it.
#[derive(Debug, Default)]
pub(crate) struct AuditCache {
    terms: RwLock<Terms>,
    /// PostgreSQL: the months (`year * 12 + month - 1`) whose partition exists.
    pub(crate) months: RwLock<std::collections::HashSet<i64>>,
    /// The chain head as this handle's last append left it (see [`HeadGuess`]).
    head: std::sync::Mutex<HeadGuess>,
}

/// Appends that read the chain head first after a guess of it missed: another writer is busy
/// on the same chain (a replica), so guessing would mostly cost one more round trip.
const READS_AFTER_A_MISS: u32 = 64;

/// The chain head (`seq`, `hash`) as this handle's last append left it: the next append chains
/// after it without reading it first, and lands only if the stored head is still this one
/// (another writer moved it: the append reads it and chains again).
#[derive(Debug, Default)]
struct HeadGuess {
    head: Option<(i64, String)>,
    /// Appends left that read the head first ([`READS_AFTER_A_MISS`]).
    reads: u32,
}

#[derive(Debug, Default)]
struct Terms {
    ids: TermIds,
    texts: HashMap<i64, Arc<str>, Keyed>,
}

impl AuditCache {
    /// The id of a known term.
    pub(crate) fn id(&self, term: &str) -> Option<i64> {
        self.terms.read().ok()?.ids.get(term).copied()
    }

    /// The ids of `terms` (sorted, distinct) into `ids`, under one read of the cache; the
    /// terms it does not know, in order. The keys are the cache's own (shared, not copied).
    pub(crate) fn ids_of(&self, terms: &[&str], ids: &mut TermIds) -> Vec<String> {
        let Ok(known) = self.terms.read() else {
            return terms.iter().map(|t| (*t).to_owned()).collect();
        };
        let mut missing = Vec::new();
        for t in terms {
            match known.ids.get_key_value(*t) {
                Some((term, id)) => {
                    ids.insert(Arc::clone(term), *id);
                }
                None => missing.push((*t).to_owned()),
            }
        }
        missing
    }

    /// The text of a known term id.
    pub(crate) fn text(&self, id: i64) -> Option<Arc<str>> {
        self.terms.read().ok()?.texts.get(&id).cloned()
    }

    /// The chain head to append after without reading it: the one this handle's last append
    /// left, unless a guess missed in the last [`READS_AFTER_A_MISS`] appends.
    pub(crate) fn head(&self) -> Option<(i64, String)> {
        let mut g = self.head.lock().ok()?;
        if g.reads > 0 {
            g.reads -= 1;
            return None;
        }
        g.head.clone()
    }

    /// Remembers the chain head a committed append left.
    pub(crate) fn set_head(&self, head: (i64, String)) {
        if let Ok(mut g) = self.head.lock() {
            g.head = Some(head);
        }
    }

    /// A guess of the head missed: the next [`READS_AFTER_A_MISS`] appends read it first.
    pub(crate) fn missed(&self) {
        if let Ok(mut g) = self.head.lock() {
            g.reads = READS_AFTER_A_MISS;
        }
    }

    /// Remembers committed terms.
    pub(crate) fn remember(&self, pairs: impl IntoIterator<Item = (i64, String)>) {
        let Ok(mut terms) = self.terms.write() else {
            return;
        };
        for (id, text) in pairs {
            if terms.ids.len() >= MAX_CACHED_TERMS {
                terms.ids.clear();
                terms.texts.clear();
            }
            let text: Arc<str> = text.into();
            terms.ids.insert(text.clone(), id);
            terms.texts.insert(id, text);
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Packed {
    /// The event with its strings as term ids.
    Event(PackedEvent),
    /// A legacy row's JSON exactly as it was hashed.
    Verbatim(String),
}

/// [`AuditEvent`] without `at` and `principal` (columns of their own), strings as term ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PackedEvent {
    request_id: Token,
    api: i64,
    endpoint: i64,
    action: i64,
    resource: i64,
    decision: i64,
    reasons: Vec<i64>,
    credential_hashes: Vec<i64>,
    approval: Option<i64>,
    consent_epoch: Option<i64>,
    participants: Vec<i64>,
    records_returned: Option<u64>,
    records_filtered: Option<u64>,
}

/// A request id: its 16 bytes when it is a UUID written the usual way, else its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Token {
    Uuid([u8; 16]),
    Text(String),
}

impl Token {
    fn pack(s: &str) -> Self {
        match uuid::Uuid::try_parse(s) {
            Ok(u) if u.hyphenated().to_string() == s => Self::Uuid(u.into_bytes()),
            _ => Self::Text(s.to_owned()),
        }
    }

    fn unpack(&self) -> String {
        match self {
            Self::Uuid(b) => uuid::Uuid::from_bytes(*b).hyphenated().to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

/// Makes the event as hashed and stored: its time in UTC (the packed form keeps nanoseconds
/// since 1970, which read back in UTC).
pub(crate) fn canonicalize(event: &mut AuditEvent) {
    event.at = event.at.to_offset(time::UtcOffset::UTC);
}

/// The serde name of a decision (`permit`, `deny`), as the audit stores and hashes it.
pub(crate) const fn decision_name(decision: AccessDecision) -> &'static str {
    match decision {
        AccessDecision::Permit => "permit",
        AccessDecision::Deny => "deny",
    }
}

/// Nanoseconds since 1970 of the event's time.
pub(crate) fn at_ns(event: &AuditEvent) -> Result<i64, StoreError> {
    i64::try_from(event.at.unix_timestamp_nanos()).map_err(|e| {
        StoreError::invalid_input("audit event", &event.request_id, format!("time: {e}"))
    })
}

/// Every term of an event (the principal first).
pub(crate) fn terms_of(e: &AuditEvent) -> Vec<&str> {
    let mut out = vec![
        e.principal.as_str(),
        e.api.as_str(),
        e.endpoint.as_str(),
        e.action.as_str(),
        e.resource.as_str(),
        decision_name(e.decision),
    ];
    out.extend(e.reasons.iter().map(String::as_str));
    out.extend(e.credential_hashes.iter().map(String::as_str));
    out.extend(e.approval.as_deref());
    out.extend(e.participants.iter().map(String::as_str));
    out
}

/// Packs an event, with `ids` giving every term of [`terms_of`].
pub(crate) fn pack(e: &AuditEvent, ids: &TermIds) -> Result<(i64, Vec<u8>), StoreError> {
    let id = |t: &str| {
        ids.get(t).copied().ok_or_else(|| {
            StoreError::invalid_input("audit event", &e.request_id, "a term has no id")
        })
    };
    let packed = Packed::Event(PackedEvent {
        request_id: Token::pack(&e.request_id),
        api: id(&e.api)?,
        endpoint: id(&e.endpoint)?,
        action: id(&e.action)?,
        resource: id(&e.resource)?,
        decision: id(decision_name(e.decision))?,
        reasons: e.reasons.iter().map(|r| id(r)).collect::<Result<_, _>>()?,
        credential_hashes: e
            .credential_hashes
            .iter()
            .map(|h| id(h))
            .collect::<Result<_, _>>()?,
        approval: e.approval.as_deref().map(id).transpose()?,
        consent_epoch: e.consent_epoch,
        participants: e
            .participants
            .iter()
            .map(|p| id(p))
            .collect::<Result<_, _>>()?,
        records_returned: e.records_returned,
        records_filtered: e.records_filtered,
    });
    Ok((id(&e.principal)?, encode(&packed, &e.request_id)?))
}

/// A legacy row's body, stored as it was.
pub(crate) fn pack_verbatim(body: &str) -> Result<Vec<u8>, StoreError> {
    encode(&Packed::Verbatim(body.to_owned()), "legacy")
}

fn encode(packed: &Packed, id: &str) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(packed).map_err(|e| StoreError::invalid_input("audit event", id, e))
}

/// Reads a stored `packed` column.
pub(crate) fn decode(seq: i64, bytes: &[u8]) -> Result<Packed, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::invalid_data("audit record", &seq.to_string(), e))
}

impl Packed {
    /// The term ids it names (besides the principal).
    pub(crate) fn term_ids(&self) -> Vec<i64> {
        match self {
            Self::Verbatim(_) => Vec::new(),
            Self::Event(p) => {
                let mut out = vec![p.api, p.endpoint, p.action, p.resource, p.decision];
                out.extend(&p.reasons);
                out.extend(&p.credential_hashes);
                out.extend(p.approval);
                out.extend(&p.participants);
                out
            }
        }
    }

    /// The event and its JSON exactly as hashed, with `text` giving every term.
    pub(crate) fn unpack(
        self,
        seq: i64,
        at_ns: i64,
        principal: &str,
        text: &dyn Fn(i64) -> Option<Arc<str>>,
    ) -> Result<(AuditEvent, String), StoreError> {
        let bad = |what: String| StoreError::invalid_data("audit record", &seq.to_string(), what);
        let p = match self {
            Self::Verbatim(body) => {
                let event = serde_json::from_str(&body).map_err(|e| bad(e.to_string()))?;
                return Ok((event, body));
            }
            Self::Event(p) => p,
        };
        let term = |id: i64| -> Result<String, StoreError> {
            text(id)
                .map(|t| t.to_string())
                .ok_or_else(|| bad(format!("term {id} is missing")))
        };
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ns))
            .map_err(|e| bad(e.to_string()))?;
        let event = AuditEvent {
            at,
            request_id: p.request_id.unpack(),
            api: term(p.api)?,
            endpoint: term(p.endpoint)?,
            principal: principal.to_owned(),
            action: term(p.action)?,
            resource: term(p.resource)?,
            decision: parse_variant("audit record", &seq.to_string(), &term(p.decision)?)?,
            reasons: p
                .reasons
                .iter()
                .map(|id| term(*id))
                .collect::<Result<_, _>>()?,
            credential_hashes: p
                .credential_hashes
                .iter()
                .map(|id| term(*id))
                .collect::<Result<_, _>>()?,
            approval: p.approval.map(term).transpose()?,
            consent_epoch: p.consent_epoch,
            participants: p
                .participants
                .iter()
                .map(|id| term(*id))
                .collect::<Result<_, _>>()?,
            records_returned: p.records_returned,
            records_filtered: p.records_filtered,
        };
        let body = serde_json::to_string(&event).map_err(|e| bad(e.to_string()))?;
        Ok((event, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            at: time::OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_789)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            request_id: "6f1c2a3e-0b1d-4c5e-8f9a-0123456789ab".into(),
            api: "htsget".into(),
            endpoint: "/htsget/reads/{id}".into(),
            principal: "https://issuer.example#alice".into(),
            action: "read_data".into(),
            resource: "object:GEMJ-O-1".into(),
            decision: AccessDecision::Permit,
            reasons: vec!["approved".into(), "consent_ok".into()],
            credential_hashes: vec!["ab".repeat(32), "not-hex".into(), "AB".repeat(32)],
            approval: Some("APR-1".into()),
            consent_epoch: Some(7),
            participants: vec!["GEMJ-P-000001".into()],
            records_returned: Some(1),
            records_filtered: None,
        }
    }

    fn round_trip(e: &AuditEvent) -> (AuditEvent, String, usize) {
        let terms = terms_of(e);
        let ids: TermIds = terms.iter().map(|t| Arc::from(*t)).zip(1..).collect();
        let texts: HashMap<i64, Arc<str>> =
            ids.iter().map(|(t, id)| (*id, Arc::clone(t))).collect();
        let (principal, bytes) = pack(e, &ids).unwrap_or_default();
        assert_eq!(principal, 1);
        let at = at_ns(e).unwrap_or_default();
        let (back, body) = decode(1, &bytes)
            .and_then(|p| p.unpack(1, at, &e.principal, &|id| texts.get(&id).cloned()))
            .unwrap_or_else(|err| panic!("{err}"));
        (back, body, bytes.len())
    }

    #[test]
    fn decision_names_are_the_serde_names() {
        for d in [AccessDecision::Permit, AccessDecision::Deny] {
            assert_eq!(decision_name(d), crate::convert::variant_name(&d));
        }
    }

    #[test]
    fn packed_events_come_back_byte_for_byte() {
        let e = event();
        let (back, body, size) = round_trip(&e);
        assert_eq!(back, e);
        assert_eq!(body, serde_json::to_string(&e).unwrap_or_default());
        let json = body.len();
        assert!(size * 3 < json, "packed {size} bytes, JSON {json}");
        // Request ids that are not canonical UUIDs, and an event with nothing optional.
        for id in ["6F1C2A3E-0B1D-4C5E-8F9A-0123456789AB", "req-1", ""] {
            let mut e = event();
            e.request_id = id.into();
            e.approval = None;
            e.consent_epoch = None;
            e.credential_hashes.clear();
            e.participants.clear();
            e.reasons.clear();
            let (back, body, _) = round_trip(&e);
            assert_eq!(back, e);
            assert_eq!(body, serde_json::to_string(&e).unwrap_or_default());
        }
    }

    #[test]
    fn a_missing_or_rewritten_term_is_not_silently_read() {
        let e = event();
        let ids: TermIds = terms_of(&e).into_iter().map(Arc::from).zip(1..).collect();
        let (_, bytes) = pack(&e, &ids).unwrap_or_default();
        let at = at_ns(&e).unwrap_or_default();
        let missing = decode(1, &bytes).and_then(|p| p.unpack(1, at, "x", &|_| None));
        assert!(missing.is_err());
        let mut partial = ids.clone();
        partial.remove("consent_ok");
        assert!(pack(&e, &partial).is_err());
        assert!(decode(1, b"\xff\xff\xff").is_err());
    }

    #[test]
    fn times_are_stored_in_utc() {
        let mut e = event();
        e.at =
            e.at.to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC));
        let mut c = e.clone();
        canonicalize(&mut c);
        assert_eq!(c.at, e.at);
        assert_eq!(c.at.offset(), time::UtcOffset::UTC);
        let (back, body, _) = round_trip(&c);
        assert_eq!(body, serde_json::to_string(&c).unwrap_or_default());
        assert_eq!(back, c);
    }
}
