//! htsget 1.3 tickets: the access decision, consent, and the slice of a stored genome file.
//!
//! A ticket is issued after the caller passes the access decision point for the object
//! (ReadData) and its participants pass the consent view at the current epoch. Its URLs never
//! carry the caller's credentials: byte ranges of the stored file are the gateway's own signed,
//! range-scoped data URLs ([`crate::data_url`], 5 minutes by default), and the re-encoded edge
//! blocks, the end-of-file marker and small headers travel inline as `data:` URIs. Every data
//! URL is checked again when it is fetched (signature, expiry, approval, consent then).
//!
//! Multi-sample VCF/BCF and consent: when every participant in the file may be served, the
//! ticket is plain byte ranges. When some may not (withdrawn, or outside the requester's
//! consent scope), the ticket is one signed URL whose grant names the slice; at fetch time the
//! gateway decides again which sample columns are excluded (at that moment's consent epoch) and
//! streams the slice re-encoded without them, with AC/AN/AF recomputed
//! ([`gemj_genomics::slice::samples`]). An alignment file of a participant who may not be
//! served does not exist for the caller.

use std::sync::Arc;

use base64::Engine as _;
use gemj_genomics::slice::{
    self, Class, Format, IndexedFile, Piece, ReferenceName, Region, SliceQuery,
};
use gemj_model::{DataFormat, DataObject, ObjectId};
use gemj_objects::ObjectKey;

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::data::{count, object_resource, participants_of};
use crate::data_url::{GrantRegion, SliceGrant, UrlGrant};
use crate::{CoreError, Shared};

pub use gemj_htsget::{Endpoint, MAX_REGIONS, Ticket, TicketBody, TicketRequest, TicketUrl};

/// The largest byte range one ticket URL covers (the spec suggests ~1 GB per data block).
const MAX_URL_BYTES: u64 = 1 << 30;

/// Why a ticket is not issued: a failure of the protocol (the request, the object's format,
/// a region), with its htsget name and status, or the gateway's own (credentials, consent,
/// store), which the server maps.
#[derive(Debug, thiserror::Error)]
pub enum HtsgetError {
    /// An htsget error.
    #[error(transparent)]
    Protocol(#[from] gemj_htsget::Error),
    /// The gateway's own errors (credentials, stale consent, store).
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl HtsgetError {
    /// 404: no such object (or not readable by this caller; the two look the same).
    fn not_found() -> Self {
        Self::Protocol(gemj_htsget::Error::not_found())
    }
}

fn format_of(f: DataFormat) -> Option<Format> {
    match f {
        DataFormat::Bam => Some(Format::Bam),
        DataFormat::Cram => Some(Format::Cram),
        DataFormat::Vcf => Some(Format::Vcf),
        DataFormat::Bcf => Some(Format::Bcf),
        _ => None,
    }
}

fn suffix(f: Format) -> &'static str {
    match f {
        Format::Bam => ".bam",
        Format::Cram => ".cram",
        Format::Vcf => ".vcf.gz",
        Format::Bcf => ".bcf",
    }
}

fn media_type(f: Format) -> &'static str {
    match f {
        Format::Bam => "application/vnd.ga4gh.bam",
        Format::Cram => "application/vnd.ga4gh.cram",
        Format::Vcf => "application/vnd.ga4gh.vcf",
        Format::Bcf => "application/vnd.ga4gh.bcf",
    }
}

/// What an htsget id names.
enum Resolved {
    /// The object, in the requested (or default) format.
    Found(Box<DataObject>, Resource, Format),
    /// An object under this id exists, but only in another format.
    OtherFormat(Resource, Format),
    /// Nothing.
    Nothing,
}

/// Finds the object an htsget id names: the object id itself, or the id plus the format's file
/// suffix (`GEMJ-P0001` + `format=CRAM` is `GEMJ-P0001.cram`).
async fn resolve(
    core: &Shared,
    endpoint: Endpoint,
    id: &str,
    format: Option<Format>,
) -> Result<Resolved, HtsgetError> {
    // The requested format's suffix first, then the others (to tell "another format" apart);
    // the bare id first only when it already ends with a suffix (one lookup fewer otherwise).
    let mut suffixes: Vec<Format> = format.into_iter().collect();
    suffixes.extend(endpoint.formats().iter().filter(|f| Some(**f) != format));
    let bare_first = endpoint.formats().iter().any(|f| id.ends_with(suffix(*f)));
    let mut candidates: Vec<String> = suffixes
        .iter()
        .map(|f| format!("{id}{}", suffix(*f)))
        .collect();
    if bare_first {
        candidates.insert(0, id.to_owned());
    } else {
        candidates.push(id.to_owned());
    }
    let mut other = None;
    for c in candidates {
        if ObjectId::parse(&c).is_err() {
            continue;
        }
        let Some((object, resource)) = object_resource(core, &c).await? else {
            continue;
        };
        let Some(actual) = format_of(object.format).filter(|f| endpoint.formats().contains(f))
        else {
            continue;
        };
        if format.is_some_and(|f| f != actual) {
            other.get_or_insert((resource, actual));
            continue;
        }
        return Ok(Resolved::Found(Box::new(object), resource, actual));
    }
    Ok(match other {
        Some((resource, actual)) => Resolved::OtherFormat(resource, actual),
        None => Resolved::Nothing,
    })
}

/// The storage keys of an object and its index.
async fn object_keys(
    core: &Shared,
    object: &DataObject,
) -> Result<(ObjectKey, ObjectKey), CoreError> {
    let key_of = |o: &DataObject| core.objects.key_from_uri(&o.storage_uri);
    let file = key_of(object).ok_or(CoreError::NotFound)?;
    let index_id = object.index.as_ref().ok_or(CoreError::NotFound)?;
    let index = core
        .catalogue
        .object(index_id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let index = key_of(&index.object).ok_or(CoreError::NotFound)?;
    Ok((file, index))
}

/// Opens (from the cache) the indexed file behind an object, through object storage.
pub(crate) async fn open(
    core: &Shared,
    object: &DataObject,
    format: Format,
) -> Result<Arc<IndexedFile>, HtsgetError> {
    let (file, index) = object_keys(core, object).await?;
    // Confirmed a moment ago: no storage round trip, no hop to the blocking pool.
    if let Some(hit) = core.genomes.recent_object(format, &*core.objects, &file) {
        return Ok(hit);
    }
    let cache = Arc::clone(&core.genomes);
    let objects = Arc::clone(&core.objects);
    tokio::task::spawn_blocking(move || cache.open_object(format, &*objects, &file, &index))
        .await
        .map_err(CoreError::from)?
        .map_err(slice_error)
}

fn slice_error(e: slice::SliceError) -> HtsgetError {
    match e {
        slice::SliceError::UnknownReference(_) => HtsgetError::not_found(),
        slice::SliceError::InvalidInput(m) => gemj_htsget::Error::invalid(m).into(),
        slice::SliceError::InvalidRange(m) => {
            gemj_htsget::Error::new(gemj_htsget::ErrorKind::InvalidRange, m).into()
        }
        // Storage failing to answer (a disk error, S3 unreachable) is the gateway's, and
        // temporary; a damaged file is reported and hidden.
        slice::SliceError::Io { file, source } => {
            tracing::error!(file = %file, error = %source, "cannot read a stored genome file");
            HtsgetError::Core(CoreError::Objects(source.into()))
        }
        other => {
            tracing::error!(error = %other, "a stored genome file cannot be sliced");
            HtsgetError::Core(CoreError::NotFound)
        }
    }
}

/// Computes a slice on the blocking pool, for a permitted request.
pub(crate) async fn compute(
    _permit: &Permit,
    file: Arc<IndexedFile>,
    query: SliceQuery,
) -> Result<slice::Slice, HtsgetError> {
    // Small slices of a local file are microseconds of work: run them in place; when the query
    // could touch many blocks, or the file is remote (each read waits on the network), move to
    // the blocking pool.
    if query.regions.len() <= 4 && !file.source().is_remote() {
        return file.slice(&query).map_err(slice_error);
    }
    tokio::task::spawn_blocking(move || file.slice(&query))
        .await
        .map_err(CoreError::from)?
        .map_err(slice_error)
}

/// The service of htsget tickets: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct HtsgetService {
    core: Shared,
}

impl HtsgetService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl HtsgetService {
    /// Issues a ticket.
    ///
    /// # Errors
    /// `NotFound` ([`HtsgetError::Protocol`]) when the object does not exist, is not readable by the caller, or
    /// is an alignment file of a participant outside the caller's consent scope (anonymous callers
    /// get [`CoreError::CredentialRequired`] instead); `UnsupportedFormat`, `InvalidInput`,
    /// `InvalidRange` for the request;
    /// [`CoreError::ConsentStale`].
    pub async fn ticket(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        endpoint: Endpoint,
        id: &str,
        request: &TicketRequest,
        base_url: &str,
    ) -> Result<Ticket, HtsgetError> {
        let core = &self.core;
        let hide = OnDenial::HideFromCredentialed;
        let hidden = || {
            if matches!(principal, Principal::Anonymous) {
                HtsgetError::Core(CoreError::CredentialRequired)
            } else {
                HtsgetError::not_found()
            }
        };
        let (object, resource, format) = match resolve(core, endpoint, id, request.format).await? {
            Resolved::Found(object, resource, format) => (*object, resource, format),
            Resolved::Nothing => return Err(hidden()),
            Resolved::OtherFormat(resource, actual) => {
                // Say which format exists only to a caller who may read it.
                let ask = Ask::new(Action::ReadData, resource).without_consent();
                return core
                    .access
                    .enforce(ctx, principal, ask, hide, async |_: &Permit| {
                        Err(HtsgetError::Protocol(gemj_htsget::Error::new(
                            gemj_htsget::ErrorKind::UnsupportedFormat,
                            format!(
                                "{id} is available as {}, not {}",
                                actual.as_str(),
                                request.format.map_or("", Format::as_str)
                            ),
                        )))
                    })
                    .await;
            }
        };
        let ask = Ask::new(Action::ReadData, resource);
        core.access
        .enforce(
            ctx,
            principal,
            ask,
            hide,
            async |permit: &Permit| -> Result<(Result<Ticket, HtsgetError>, Outcome), HtsgetError> {
                let participants = participants_of(core, &object).await?;
                let excluded = participants.iter().filter(|p| !permit.serves(p)).count();
                let multi_sample =
                    matches!(format, Format::Vcf | Format::Bcf) && object.specimens.len() > 1;
                let served = participants.len() - excluded;
                // An alignment file (or single-sample VCF) with a participant outside the caller's
                // scope does not exist for them; a multi-sample one loses their columns.
                let refuse = excluded > 0 && (!multi_sample || served == 0);
                let returned = if refuse { 0 } else { count(served) };
                let outcome = crate::data::object_outcome(permit, &participants, returned)?;
                if refuse {
                    return Ok((Err(HtsgetError::not_found()), outcome));
                }
                let ticket = issue(
                    core,
                    permit,
                    principal,
                    &object,
                    format,
                    request,
                    base_url,
                    excluded > 0,
                )
                .await;
                Ok((ticket, outcome))
            },
        )
        .await?
    }
}

/// Computes a ticket under `permit`: the URLs of the slice (or of its deferred cut).
#[allow(clippy::too_many_arguments)]
async fn issue(
    core: &Shared,
    permit: &Permit,
    principal: &Principal,
    object: &DataObject,
    format: Format,
    request: &TicketRequest,
    base_url: &str,
    drops_samples: bool,
) -> Result<Ticket, HtsgetError> {
    let file = open(core, object, format).await?;
    let query = SliceQuery {
        class: request.class,
        regions: request.regions.clone(),
    };
    // Region queries are checked against the header now and cut when the data is fetched
    // (the ticket costs index time, whatever the region); so are slices that must lose sample
    // columns. Header and whole-file tickets are computed here (no record is read).
    let deferred = drops_samples || (query.class == Class::Body && !query.regions.is_empty());
    let sliced = if deferred {
        file.check(&query).map_err(slice_error)?;
        None
    } else {
        Some(compute(permit, Arc::clone(&file), query.clone()).await?)
    };
    let approval = permit.approval().cloned();
    let scope = permit.scope();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let exp = principal.url_expiry(now, i64::try_from(core.urls.ttl().as_secs()).unwrap_or(300));
    let grant = |start: u64, end: Option<u64>, slice: Option<SliceGrant>| UrlGrant {
        object: object.id.clone(),
        start,
        end,
        principal: principal.audit_name(),
        approval: approval.clone(),
        industry: scope.industry,
        international: scope.international,
        exp,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        slice,
        analysis: None,
    };
    let data_url = |g: &UrlGrant| {
        format!(
            "{}/data/v1/objects/{}?token={}",
            base_url.trim_end_matches('/'),
            object.id,
            core.urls.sign(g)
        )
    };
    let class = (request.class == Class::Header).then_some("header");
    let mut urls = Vec::new();
    let Some(sliced) = sliced else {
        // Deferred: cut at fetch time (and re-encoded without the excluded sample columns, if
        // any).
        let slice = SliceGrant {
            header: request.class == Class::Header,
            regions: request
                .regions
                .iter()
                .map(|r| GrantRegion {
                    r: match &r.reference {
                        ReferenceName::Named(n) => n.clone(),
                        ReferenceName::Unplaced => "*".to_owned(),
                    },
                    s: r.start,
                    e: r.end,
                })
                .collect(),
        };
        urls.push(TicketUrl {
            url: data_url(&grant(0, None, Some(slice))),
            headers: None,
            class,
        });
        return Ok(Ticket {
            htsget: TicketBody {
                format: format.as_str(),
                urls,
                md5: None,
            },
        });
    };
    for piece in &sliced.pieces {
        match piece {
            Piece::Range { start, end } => {
                let mut s = *start;
                while s < *end {
                    let e = (*end).min(s + MAX_URL_BYTES);
                    urls.push(TicketUrl {
                        url: data_url(&grant(s, Some(e), None)),
                        headers: None,
                        class,
                    });
                    s = e;
                }
            }
            Piece::Inline(bytes) => urls.push(TicketUrl {
                url: format!(
                    "data:{};base64,{}",
                    media_type(format),
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                ),
                headers: None,
                class,
            }),
        }
    }
    Ok(Ticket {
        htsget: TicketBody {
            format: format.as_str(),
            urls,
            md5: sliced.whole_file.then(|| object.checksums.md5.clone()),
        },
    })
}

/// The slice query a re-encoding grant names.
pub(crate) fn grant_query(g: &SliceGrant) -> SliceQuery {
    SliceQuery {
        class: if g.header { Class::Header } else { Class::Body },
        regions: g
            .regions
            .iter()
            .map(|r| Region {
                reference: if r.r == "*" {
                    ReferenceName::Unplaced
                } else {
                    ReferenceName::Named(r.r.clone())
                },
                start: r.s,
                end: r.e,
            })
            .collect(),
    }
}

/// Whether a stored object's format is one htsget serves (for the data endpoint).
pub(crate) fn slice_format(f: DataFormat) -> Option<Format> {
    format_of(f)
}
