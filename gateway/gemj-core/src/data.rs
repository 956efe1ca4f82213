//! Participant-level data, consent-filtered: which participants of a dataset a caller may be
//! served, signed data URLs for stored objects, and the bytes behind them. Every answer passes
//! the access decision point and then the consent view at its current epoch; the audit record
//! says how many records were returned and how many consent withheld.
//!
//! A stored object holds the data of its participant (a BAM, CRAM or single-sample VCF) or of
//! several (a joint VCF or BCF: one per sample column). An object is served whole only when
//! every participant in it may be served to the caller; otherwise it does not exist for that
//! caller (re-encoding a multi-sample slice without the excluded columns is htsget's job).

use std::collections::BTreeSet;

use gemj_model::{DataObject, DatasetId, ObjectId, ParticipantId};
use gemj_objects::ObjectReader;

use crate::access::{
    Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource, Verdicts,
};
use crate::data_url::UrlGrant;
use crate::{CoreError, Shared};

/// Which participants of a dataset the caller may be served.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ServedParticipants {
    /// The dataset.
    pub dataset: DatasetId,
    /// The consent epoch of this answer.
    pub consent_epoch: i64,
    /// The participants (pseudonymous ids), in id order.
    pub participants: Vec<ParticipantId>,
}

fn not_found_for(principal: &Principal) -> CoreError {
    if matches!(principal, Principal::Anonymous) {
        CoreError::CredentialRequired
    } else {
        CoreError::NotFound
    }
}

/// The service of dataset participants and the signed data URLs (issue and fetch): built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct DataService {
    core: Shared,
}

impl DataService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl DataService {
    /// The participants of a dataset that the caller may be served: permitted to read the
    /// dataset's data, and inside the caller's consent scope at the current consent epoch.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when the dataset does not exist (anonymous callers:
    /// [`CoreError::CredentialRequired`]); [`CoreError::Denied`] when the caller may not read its
    /// data; [`CoreError::ConsentStale`].
    pub async fn dataset_participants(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        dataset: &str,
    ) -> Result<ServedParticipants, CoreError> {
        let core = &self.core;
        let Ok(id) = DatasetId::parse(dataset) else {
            return Err(not_found_for(principal));
        };
        let Some(d) = core.store.get_dataset(&id).await? else {
            return Err(not_found_for(principal));
        };
        // Dataset descriptions are not secret (registered researchers read them to apply): a
        // denial says why.
        let ask = Ask::new(Action::ReadData, Resource::dataset(d));
        core.access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Explain,
                async |permit: &Permit| served_members(core, permit, id).await,
            )
            .await
    }

    /// Issues a signed URL for (a byte range of) an object the caller may read, checking access
    /// and consent now; the URL is checked again when used.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when the object does not exist, the caller may not read it, or it
    /// holds data of a participant outside the caller's consent scope (the three look the same;
    /// anonymous callers get [`CoreError::CredentialRequired`]); [`CoreError::ConsentStale`].
    pub async fn issue_url(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        object_id: &str,
        range: Option<ByteRange>,
        base_url: &str,
    ) -> Result<IssuedUrl, CoreError> {
        let core = &self.core;
        issue(
            core,
            ctx,
            principal,
            object_id,
            range,
            base_url,
            false,
            Signer::Gateway,
        )
        .await
    }

    /// Serves a signed URL: verifies it, decides again (approval still in force), re-checks
    /// consent at the current epoch, and opens the granted bytes (or the requested part of them).
    ///
    /// # Errors
    /// [`CoreError::UrlRejected`] for an altered, foreign or expired token; [`CoreError::Denied`]
    /// when its approval is no longer in force; [`CoreError::NotFound`] when a participant in the
    /// object is no longer inside the grant's consent scope (withdrawn, for example);
    /// [`CoreError::InvalidInput`] for a range outside the grant; [`CoreError::ConsentStale`].
    pub async fn fetch(
        &self,
        ctx: &RequestContext,
        object_id: &str,
        token: &str,
        requested: Option<ByteRange>,
    ) -> Result<DataStream, CoreError> {
        let core = &self.core;
        let grant = core
            .urls
            .verify(token, time::OffsetDateTime::now_utc().unix_timestamp())
            .map_err(|e| CoreError::UrlRejected(e.code()))?;
        if grant.object.as_str() != object_id {
            return Err(CoreError::UrlRejected("signed_url_invalid"));
        }
        let Some((object, resource)) = object_resource(core, object_id).await? else {
            return Err(CoreError::NotFound);
        };
        let principal = Principal::SignedUrl(std::sync::Arc::new(grant.clone()));
        let mut enforcement = core.access.begin(ctx, &principal);
        if !enforcement
            .ask(Ask::new(Action::ReadData, resource))
            .await?
            .is_permit()
        {
            let denial = enforcement.refuse().await?;
            return Err(CoreError::Denied(Box::new(denial)));
        }
        let released = enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
                let permit = verdicts.permit(0).ok_or(CoreError::AuditUnavailable)?;
                let (answer, outcome) = match &grant.slice {
                    Some(slice) => open_slice(core, permit, slice, object, requested).await?,
                    None => open_bytes(core, permit, &grant, object, requested).await?,
                };
                Ok((answer, vec![outcome]))
            })
            .await?;
        let audit_seq = released.audit_seq();
        released.value.map(|stream| DataStream {
            audit_seq,
            ..stream
        })
    }
}

/// The participants whose data an object holds (from the catalogue cache when the object is
/// the stored one).
///
/// # Errors
/// Store failures.
pub(crate) async fn participants_of(
    core: &Shared,
    object: &DataObject,
) -> Result<Vec<ParticipantId>, CoreError> {
    if let Some(cached) = core.catalogue.object(&object.id).await?
        && cached.object.specimens == object.specimens
        && cached.object.participant == object.participant
    {
        return Ok(cached.participants.clone());
    }
    let mut out: BTreeSet<ParticipantId> = core
        .store
        .participants_of_specimens(&object.specimens)
        .await?
        .into_iter()
        .collect();
    if let Some(p) = &object.participant {
        out.insert(p.clone());
    }
    Ok(out.into_iter().collect())
}

/// As [`issue_url`] for the whole object, but a caller who may read the object's metadata
/// (and whom its consent would show it to) learns why data is refused: [`CoreError::Denied`],
/// from the one recorded decision (DRS `/access`: 403 for an object the caller can see).
///
/// # Errors
/// As [`issue_url`], and [`CoreError::Denied`].
pub(crate) async fn issue_url_explained(
    core: &Shared,
    ctx: &RequestContext,
    principal: &Principal,
    object_id: &str,
    base_url: &str,
    signer: Signer,
) -> Result<IssuedUrl, CoreError> {
    issue(
        core, ctx, principal, object_id, None, base_url, true, signer,
    )
    .await
}

/// Who signs an issued URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    /// The gateway: a data URL whose every fetch is decided again (consent, approval).
    Gateway,
    /// The object storage, where it can (an S3 presigned GET, valid as long as a data URL);
    /// the gateway's own URL where it cannot.
    Storage,
}

/// The members of a dataset that `permit` serves, with what the audit records of them.
async fn served_members(
    core: &Shared,
    permit: &Permit,
    id: DatasetId,
) -> Result<(ServedParticipants, Outcome), CoreError> {
    let epoch = permit.consent()?.epoch;
    let members = core.store.dataset_participants(&id).await?;
    let total = members.len();
    let served: Vec<ParticipantId> = members
        .into_iter()
        .filter(|p| permit.serves(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let outcome = Outcome {
        consent_epoch: Some(epoch),
        participants: served.clone(),
        returned: Some(count(served.len())),
        filtered: Some(count(total - served.len())),
        answer: None,
    };
    let answer = ServedParticipants {
        dataset: id,
        consent_epoch: epoch,
        participants: served,
    };
    Ok((answer, outcome))
}

/// What serving an object that holds `participants` records: the consent epoch, every
/// participant in it, whether it was `served`, and how many of them consent withheld.
pub(crate) fn object_outcome(
    permit: &Permit,
    participants: &[ParticipantId],
    returned: u64,
) -> Result<Outcome, CoreError> {
    let excluded = participants.iter().filter(|p| !permit.serves(p)).count();
    Ok(Outcome {
        consent_epoch: Some(permit.consent()?.epoch),
        participants: participants.to_vec(),
        returned: Some(returned),
        filtered: Some(count(excluded)),
        answer: None,
    })
}

pub(crate) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A byte range: `start` to `end` (exclusive; `None`: to the end of the object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: Option<u64>,
}

/// A signed URL as issued.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct IssuedUrl {
    /// The URL (carries its token in the query string).
    pub url: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// Loads an object and the datasets that hold it.
pub(crate) async fn object_resource(
    core: &Shared,
    id: &str,
) -> Result<Option<(DataObject, Resource)>, CoreError> {
    let Ok(id) = ObjectId::parse(id) else {
        return Ok(None);
    };
    let Some(cached) = core.catalogue.object(&id).await? else {
        return Ok(None);
    };
    let datasets = cached.datasets.clone();
    Ok(Some((
        cached.object.clone(),
        Resource::Object {
            id,
            datasets,
            owner: cached.owner.clone(),
            project: cached.project.clone(),
            held: cached.held,
        },
    )))
}

#[allow(clippy::too_many_arguments)]
async fn issue(
    core: &Shared,
    ctx: &RequestContext,
    principal: &Principal,
    object_id: &str,
    range: Option<ByteRange>,
    base_url: &str,
    explain_to_viewers: bool,
    signer: Signer,
) -> Result<IssuedUrl, CoreError> {
    let Some((object, resource)) = object_resource(core, object_id).await? else {
        return Err(not_found_for(principal));
    };
    let ask = Ask::new(Action::ReadData, resource.clone());
    let on_denial = if explain_to_viewers {
        OnDenial::Explain
    } else {
        OnDenial::HideFromCredentialed
    };
    let issued = core
        .access
        .enforce(ctx, principal, ask, on_denial, async |permit: &Permit| {
            let participants = participants_of(core, &object).await?;
            let whole = participants.iter().all(|p| permit.serves(p));
            let outcome = object_outcome(permit, &participants, u64::from(whole))?;
            // An object with a participant outside the caller's scope does not exist for them.
            let answer = match (whole, signer) {
                (false, _) => Err(CoreError::NotFound),
                (true, Signer::Storage) => match presign(core, principal, &object).await? {
                    Some(issued) => Ok(issued),
                    None => sign_url(core, permit, principal, &object, range, base_url),
                },
                (true, Signer::Gateway) => {
                    sign_url(core, permit, principal, &object, range, base_url)
                }
            };
            Ok::<_, CoreError>((answer, outcome))
        })
        .await
        .and_then(|answer| answer);
    match issued {
        Err(CoreError::Denied(denial)) if !denial.unauthenticated => {
            let participants = participants_of(core, &object).await?;
            if core
                .access
                .metadata_visible(ctx, principal, &resource, &participants)
                .await?
            {
                Err(CoreError::Denied(denial))
            } else {
                Err(CoreError::NotFound)
            }
        }
        Err(CoreError::Denied(_)) => Err(CoreError::CredentialRequired),
        other => other,
    }
}

/// A URL presigned by the object storage for the whole `object`, valid as long as a data URL
/// (and never longer than the caller's credentials); `None` when the storage cannot presign (a
/// local folder).
async fn presign(
    core: &Shared,
    principal: &Principal,
    object: &DataObject,
) -> Result<Option<IssuedUrl>, CoreError> {
    let Some(key) = core.objects.key_from_uri(&object.storage_uri) else {
        return Ok(None);
    };
    let now = time::OffsetDateTime::now_utc();
    let ttl = i64::try_from(core.urls.ttl().as_secs()).unwrap_or(300);
    let secs = principal.url_expiry(now.unix_timestamp(), ttl) - now.unix_timestamp();
    let ttl = std::time::Duration::from_secs(u64::try_from(secs.max(1)).unwrap_or(1));
    let Some(url) = core.objects.presigned_get(&key, ttl).await? else {
        return Ok(None);
    };
    let exp = now + ttl;
    Ok(Some(IssuedUrl {
        url,
        expires_at: exp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    }))
}

/// Signs a URL for (a byte range of) `object`, carrying what `permit` granted.
fn sign_url(
    core: &Shared,
    permit: &Permit,
    principal: &Principal,
    object: &DataObject,
    range: Option<ByteRange>,
    base_url: &str,
) -> Result<IssuedUrl, CoreError> {
    let range = range.unwrap_or(ByteRange {
        start: 0,
        end: None,
    });
    if range.start >= object.size.max(1) || range.end.is_some_and(|e| e <= range.start) {
        return Err(CoreError::InvalidInput(format!(
            "the range must lie within the object's {} bytes",
            object.size
        )));
    }
    let now = time::OffsetDateTime::now_utc();
    let ttl = i64::try_from(core.urls.ttl().as_secs()).unwrap_or(300);
    let exp = principal.url_expiry(now.unix_timestamp(), ttl);
    let scope = permit.scope();
    let grant = UrlGrant {
        object: object.id.clone(),
        start: range.start,
        end: range.end,
        principal: principal.audit_name(),
        approval: permit.approval().cloned(),
        industry: scope.industry,
        international: scope.international,
        exp,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        slice: None,
        analysis: None,
    };
    let token = core.urls.sign(&grant);
    Ok(IssuedUrl {
        url: format!(
            "{}/data/v1/objects/{}?token={token}",
            base_url.trim_end_matches('/'),
            object.id
        ),
        expires_at: time::OffsetDateTime::from_unix_timestamp(exp)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default(),
    })
}

/// The bytes behind a signed URL.
pub struct DataStream {
    /// The audit record of the decision that released it.
    pub audit_seq: i64,
    /// The object.
    pub object: DataObject,
    /// First byte served.
    pub start: u64,
    /// One past the last byte served.
    pub end: u64,
    /// Whether `end - start` is the length (false: a re-encoded stream of unknown length).
    pub sized: bool,
    /// The bytes.
    pub reader: ObjectReader,
}

impl std::fmt::Debug for DataStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataStream")
            .field("object", &self.object.id)
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// Opens the granted bytes (or the requested part of them) of a stored object: only when every
/// participant in it is still inside the grant's consent scope.
async fn open_bytes(
    core: &Shared,
    permit: &Permit,
    grant: &UrlGrant,
    object: DataObject,
    requested: Option<ByteRange>,
) -> Result<(Result<DataStream, CoreError>, Outcome), CoreError> {
    let participants = participants_of(core, &object).await?;
    let whole = participants.iter().all(|p| permit.serves(p));
    let granted_end = grant.end.unwrap_or(object.size).min(object.size);
    let (start, end) = match requested {
        None => (grant.start, granted_end),
        Some(r) => (r.start, r.end.unwrap_or(granted_end)),
    };
    let in_grant = start >= grant.start && end <= granted_end && start < end;
    let outcome = object_outcome(permit, &participants, u64::from(whole && in_grant))?;
    if !whole {
        return Ok((Err(CoreError::NotFound), outcome));
    }
    if !in_grant {
        let e = CoreError::InvalidInput(format!(
            "the range must lie within the granted bytes {}..{granted_end}",
            grant.start
        ));
        return Ok((Err(e), outcome));
    }
    let key = core
        .objects
        .key_from_uri(&object.storage_uri)
        .ok_or(CoreError::NotFound)?;
    let reader = core.objects.open_range(&key, start, end).await?;
    let stream = DataStream {
        audit_seq: 0,
        object,
        start,
        end,
        sized: true,
        reader,
    };
    Ok((Ok(stream), outcome))
}

/// Serves a slice grant: the records of the granted regions, cut now from the stored file (the
/// ticket only checked the regions against the header); for a multi-sample VCF/BCF, without the
/// sample columns of participants that may not be served now (decided at this fetch's consent
/// epoch). Of known length when no column is dropped.
async fn open_slice(
    core: &Shared,
    permit: &Permit,
    slice: &crate::data_url::SliceGrant,
    object: DataObject,
    requested: Option<ByteRange>,
) -> Result<(Result<DataStream, CoreError>, Outcome), CoreError> {
    let served_by = |p: &ParticipantId| permit.serves(p);
    // Whose data the object holds (cached), and which sample column is whose.
    let participants = participants_of(core, &object).await?;
    let mapping = core.store.specimen_participants(&object.specimens).await?;
    let mut exclude: BTreeSet<String> = mapping
        .iter()
        .filter(|(_, p)| !served_by(p))
        .map(|(s, _)| s.as_str().to_owned())
        .collect();
    // Sample columns with no known specimen are never served.
    let known: BTreeSet<&str> = mapping.iter().map(|(s, _)| s.as_str()).collect();
    for s in &object.specimens {
        if !known.contains(s.as_str()) {
            exclude.insert(s.as_str().to_owned());
        }
    }
    let served = participants.iter().filter(|p| served_by(p)).count();
    let format = crate::htsget::slice_format(object.format);
    // An alignment file is one participant's: it is served whole or not at all. A variant
    // file loses the columns of those not served, and is not served when nobody is left.
    // A file of nobody's data (a reference, a public test file) has nothing to filter.
    let refused = match format {
        None => true,
        Some(f) if f.is_reads() => served < participants.len() || !exclude.is_empty(),
        Some(_) => !participants.is_empty() && served == 0,
    };
    let outcome = object_outcome(
        permit,
        &participants,
        if refused { 0 } else { count(served) },
    )?;
    let Some(format) = format.filter(|_| !refused) else {
        return Ok((Err(CoreError::NotFound), outcome));
    };
    if requested.is_some() {
        let e = CoreError::InvalidInput(
            "a re-encoded slice is served whole; Range is not supported on it".to_owned(),
        );
        return Ok((Err(e), outcome));
    }
    let stream = stream_slice(core, permit, slice, object, format, exclude).await;
    Ok((stream, outcome))
}

/// Cuts the granted regions from the stored file and streams them, without the sample columns
/// in `exclude`.
async fn stream_slice(
    core: &Shared,
    permit: &Permit,
    slice: &crate::data_url::SliceGrant,
    object: DataObject,
    format: gemj_genomics::slice::Format,
    exclude: BTreeSet<String>,
) -> Result<DataStream, CoreError> {
    use crate::htsget::HtsgetError;
    let unavailable = |e: HtsgetError| match e {
        HtsgetError::Core(c) => c,
        _ => CoreError::NotFound,
    };
    let file = crate::htsget::open(core, &object, format)
        .await
        .map_err(unavailable)?;
    let sliced = crate::htsget::compute(
        permit,
        std::sync::Arc::clone(&file),
        crate::htsget::grant_query(slice),
    )
    .await
    .map_err(unavailable)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let source = std::sync::Arc::clone(file.source());
    // Without sample columns to drop, the slice's own bytes are the answer, of known length.
    let raw = exclude.is_empty();
    let len = sliced.len();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let input = sliced.reader(&source);
        let mut input = input;
        let result = if raw {
            std::io::copy(&mut input, &mut writer)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            gemj_genomics::slice::samples::drop_samples(format, input, &exclude, &mut writer)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        match result.and_then(|_| writer.flush_chunk().map_err(|e| e.to_string())) {
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, "re-encoding a slice failed");
                let _ = tx.blocking_send(Err(std::io::Error::other("re-encoding failed")));
            }
        }
    });
    let stream = tokio_stream_reader(rx);
    Ok(DataStream {
        audit_seq: 0,
        object,
        start: 0,
        end: if raw { len } else { 0 },
        sized: raw,
        reader: stream,
    })
}

const CHUNK: usize = 1 << 16;

/// A blocking writer that hands 64 KiB chunks to an async reader.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tokio_stream_reader(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
) -> ObjectReader {
    let stream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    Box::new(tokio_util::io::StreamReader::new(stream))
}
