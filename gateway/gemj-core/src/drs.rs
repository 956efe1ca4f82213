//! GA4GH DRS 1.5 over the stored objects: every stored file and every index is a DRS blob, and
//! three kinds of bundles group them: a specimen (the files holding its data), a participant
//! (their specimens, each a specimen bundle) and a dataset (its objects).
//!
//! One id space, resolved in this order: a data object, a specimen (so a biobank's sample id,
//! listed in a blob's `aliases`, resolves to that sample's bundle), a participant, a dataset.
//! Wherever an id is accepted, the compact form `<prefix>:<id>` is accepted too (prefix
//! [`DrsSettings::compact_prefix`], `gemj` by default, compared case-insensitively): an id that
//! starts with the prefix and a colon is always read as a compact identifier.
//!
//! Every object shown passed the access decision point ([`Action::ReadMetadata`] on the object,
//! and on the dataset for a dataset bundle) and then the consent view, under the consent scope
//! of that decision: an object holding data of a participant outside that scope (withdrawn, for
//! one) does not exist for the caller, and a bundle exists only while it holds something the
//! caller may see. All decisions of one request are audited in one append before anything is
//! answered. Access URLs are the signed data URLs of [`data::issue_url`]
//! ([`Action::ReadData`], consent checked again at every fetch).
//!
//! Invariant: an object the caller may not see and one that does not exist give the same answer
//! ([`CoreError::NotFound`], or [`CoreError::CredentialRequired`] for an anonymous caller).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gemj_model::{
    AccessLevel, DataFormat, DataObject, Dataset, DatasetId, ObjectId, Participant, ParticipantId,
    Specimen, SpecimenId,
};
use gemj_store::ObjectTimes;

use crate::access::{
    Action, Ask, Enforcement, Outcome, Principal, RequestContext, Resource, Verdict, Verdicts,
};
use crate::consent_view::{ConsentSnapshot, Stale};
use crate::data;
use crate::{CoreError, Shared};

/// The one access method of every blob: HTTPS through a signed data URL.
pub const ACCESS_ID: &str = "https";

/// The default prefix of compact identifiers (`gemj:<id>`).
pub const DEFAULT_COMPACT_PREFIX: &str = "gemj";

/// The default most ids one bulk request may name.
pub const DEFAULT_MAX_BULK: usize = 1000;

/// How this deployment names and authorizes its DRS objects (from the configuration).
#[derive(Debug, Clone)]
pub struct DrsSettings {
    /// The gateway's base URL (no trailing slash), for access URLs.
    pub base_url: String,
    /// The host of `drs://` URIs: the base URL's host, without port.
    pub host: String,
    /// The prefix of compact identifiers, lower-case.
    pub compact_prefix: String,
    /// The most ids one bulk request may name.
    pub max_bulk: usize,
    /// Issuers whose visas may authorize access (`passport_auth_issuers`).
    pub passport_issuers: Vec<String>,
    /// Issuers whose bearer tokens are accepted (`bearer_auth_issuers`).
    pub bearer_issuers: Vec<String>,
    /// Access URLs presigned by the object storage, where it can (S3), instead of the
    /// gateway's own data URLs.
    pub presigned_urls: bool,
}

impl DrsSettings {
    /// Settings for a gateway at `base_url`.
    #[must_use]
    pub fn new(
        base_url: &str,
        compact_prefix: &str,
        max_bulk: usize,
        passport_issuers: Vec<String>,
        bearer_issuers: Vec<String>,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            host: host_of(base_url),
            compact_prefix: compact_prefix.to_ascii_lowercase(),
            max_bulk: max_bulk.max(1),
            passport_issuers,
            bearer_issuers,
            presigned_urls: false,
        }
    }

    /// The same settings, with access URLs presigned by the storage where it can.
    #[must_use]
    pub fn with_presigned_urls(mut self, presigned: bool) -> Self {
        self.presigned_urls = presigned;
        self
    }

    /// The hostname-based DRS URI of an object: `drs://<host>/<id>`.
    #[must_use]
    pub fn self_uri(&self, id: &str) -> String {
        gemj_drs::hostname_uri(&self.host, id)
    }

    /// The local id of a requested id: without the compact-identifier prefix, if it has one.
    #[must_use]
    pub fn local_id<'a>(&self, requested: &'a str) -> &'a str {
        gemj_drs::compact_local_id(&self.compact_prefix, requested)
    }

    /// How to authorize for an object: `None` first when anonymous callers may read it, then
    /// passports and bearer tokens when any issuer is trusted.
    #[must_use]
    pub fn authorizations(&self, drs_object_id: Option<String>, anonymous: bool) -> Authorizations {
        let mut supported_types = Vec::new();
        if anonymous {
            supported_types.push("None");
        }
        if !self.passport_issuers.is_empty() {
            supported_types.push("PassportAuth");
        }
        if !self.bearer_issuers.is_empty() {
            supported_types.push("BearerAuth");
        }
        Authorizations {
            drs_object_id,
            supported_types,
            passport_auth_issuers: self.passport_issuers.clone(),
            bearer_auth_issuers: self.bearer_issuers.clone(),
        }
    }
}

pub use gemj_drs::{
    AccessMethod, AccessUrl, Authorizations, Checksum, ContentsObject, DRS_VERSION, DrsObject,
    host_of,
};

/// Why an access URL was not issued.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// As for objects: not found, credential required, stale consent, bad id, ...
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The caller may see the object's metadata but not read its bytes (CONTROLLED data
    /// without a grant, an approval and a DUO match, or consent outside the caller's scope).
    #[error("the caller may not read this object's bytes")]
    DataNotPermitted {
        /// The denial's reason code (`analysis_only`, `release_pending`, `no_approval`, ...).
        reason: &'static str,
    },
}

/// The media type of a format (BGZF-compressed VCF is `application/vnd.ga4gh.vcf`, as htsget
/// names the format).
#[must_use]
pub fn mime_type(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Bam => "application/vnd.ga4gh.bam",
        DataFormat::Cram => "application/vnd.ga4gh.cram",
        DataFormat::Vcf => "application/vnd.ga4gh.vcf",
        DataFormat::Bcf => "application/vnd.ga4gh.bcf",
        DataFormat::Fasta => "text/x-fasta",
        DataFormat::Fai | DataFormat::Tsv => "text/tab-separated-values",
        DataFormat::Bai
        | DataFormat::Crai
        | DataFormat::Tbi
        | DataFormat::Csi
        | DataFormat::Gzi
        | DataFormat::Other => "application/octet-stream",
    }
}

fn format_label(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Bam => "BAM alignments",
        DataFormat::Cram => "CRAM alignments",
        DataFormat::Vcf => "Variant calls (VCF, BGZF-compressed)",
        DataFormat::Bcf => "Variant calls (BCF)",
        DataFormat::Fasta => "Reference sequence (FASTA)",
        DataFormat::Fai => "FASTA index (FAI)",
        DataFormat::Bai => "BAM index (BAI)",
        DataFormat::Crai => "CRAM index (CRAI)",
        DataFormat::Tbi => "Tabix index (TBI)",
        DataFormat::Csi => "Coordinate-sorted index (CSI)",
        DataFormat::Gzi => "BGZF block index (GZI)",
        DataFormat::Tsv => "Tab-separated table",
        DataFormat::Other => "Workflow output",
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The MD5 of bytes, lower-case hex.
fn md5_hex(bytes: &[u8]) -> String {
    let mut d = gemj_objects::Digests::default();
    d.update(bytes);
    d.finish().2
}

/// A bundle's checksum of one algorithm (DRS): that algorithm's digest of the sorted,
/// concatenated hex checksums (of the same algorithm) of its top-level entries.
fn bundle_checksum(mut sums: Vec<&str>, digest: fn(&[u8]) -> String) -> String {
    sums.sort_unstable();
    digest(sums.concat().as_bytes())
}

/// A stored object considered for this request, with its decision.
struct Blob {
    object: DataObject,
    times: ObjectTimes,
    /// Held by a PUBLIC dataset: anonymous callers may read it.
    public: bool,
    /// The files this object is the index of.
    index_of: Vec<ObjectId>,
    /// Its decision in the request's list.
    decision: usize,
    /// Every participant in it is inside the decision's consent scope.
    consented: bool,
    /// A multi-sample VCF/BCF the caller is served only some columns of: offered through
    /// htsget (which removes the others), never whole.
    partial: bool,
    /// The participants of a partial file who are not served: its specimen and participant
    /// bundles do not exist for this caller.
    excluded: Vec<ParticipantId>,
}

/// What an id stands for, before the decisions are audited.
enum Plan {
    Blob(ObjectId),
    Bundle {
        id: String,
        description: String,
        /// A decision that must permit for the bundle to exist (a dataset's).
        gate: Option<usize>,
        children: Vec<Plan>,
    },
}

/// What the caller may see of a plan, after the decisions are audited.
enum Visible<'a> {
    Blob(&'a Blob),
    Bundle {
        id: &'a str,
        description: &'a str,
        children: Vec<Visible<'a>>,
        size: u64,
        sha256: String,
        md5: String,
        created: time::OffsetDateTime,
        updated: time::OffsetDateTime,
    },
}

impl Visible<'_> {
    fn id(&self) -> &str {
        match self {
            Self::Blob(b) => b.object.id.as_str(),
            Self::Bundle { id, .. } => id,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Blob(b) => &b.object.name,
            Self::Bundle { id, .. } => id,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Self::Blob(b) => b.object.size,
            Self::Bundle { size, .. } => *size,
        }
    }

    fn sha256(&self) -> &str {
        match self {
            Self::Blob(b) => &b.object.checksums.sha256,
            Self::Bundle { sha256, .. } => sha256,
        }
    }

    fn md5(&self) -> &str {
        match self {
            Self::Blob(b) => &b.object.checksums.md5,
            Self::Bundle { md5, .. } => md5,
        }
    }

    fn created(&self) -> time::OffsetDateTime {
        match self {
            Self::Blob(b) => b.times.registered_at,
            Self::Bundle { created, .. } => *created,
        }
    }

    fn updated(&self) -> time::OffsetDateTime {
        match self {
            Self::Blob(b) => b.times.updated_at,
            Self::Bundle { updated, .. } => *updated,
        }
    }
}

/// One request's resolution: plans every id, asks the access point about every object and
/// dataset on the way, then (in [`get_objects`]) releases what was permitted, every decision
/// audited in one append.
struct Resolver<'a> {
    core: &'a Shared,
    principal: &'a Principal,
    settings: &'a DrsSettings,
    enforcement: Option<Enforcement<'a>>,
    outcomes: Vec<Outcome>,
    blobs: HashMap<ObjectId, Option<Blob>>,
    datasets: HashMap<DatasetId, Option<Arc<Dataset>>>,
    snapshot: Option<Result<ConsentSnapshot, Stale>>,
    stale: Option<Stale>,
}

impl<'a> Resolver<'a> {
    fn new(
        core: &'a Shared,
        ctx: &'a RequestContext,
        principal: &'a Principal,
        settings: &'a DrsSettings,
    ) -> Self {
        Self {
            core,
            principal,
            settings,
            enforcement: Some(core.access.begin(ctx, principal)),
            outcomes: Vec::new(),
            blobs: HashMap::new(),
            datasets: HashMap::new(),
            snapshot: None,
            stale: None,
        }
    }

    /// The error for an id that is absent or hidden: the same for both.
    fn hidden(&self) -> CoreError {
        if matches!(self.principal, Principal::Anonymous) {
            CoreError::CredentialRequired
        } else {
            CoreError::NotFound
        }
    }

    /// Asks the access point; its outcome is pushed by the caller, in the same order.
    async fn ask(&mut self, action: Action, resource: Resource) -> Result<Verdict, CoreError> {
        let enforcement = self
            .enforcement
            .as_mut()
            .ok_or(CoreError::AuditUnavailable)?;
        enforcement.ask(Ask::new(action, resource)).await
    }

    fn consent(&mut self) -> Result<ConsentSnapshot, Stale> {
        self.snapshot
            .get_or_insert_with(|| self.core.consent.snapshot())
            .clone()
    }

    async fn dataset(&mut self, id: &DatasetId) -> Result<Option<Arc<Dataset>>, CoreError> {
        if let Some(d) = self.datasets.get(id) {
            return Ok(d.clone());
        }
        let d = self.core.store.get_dataset(id).await?.map(Arc::new);
        self.datasets.insert(id.clone(), d.clone());
        Ok(d)
    }

    /// Plans a requested id (compact form accepted). `Ok(None)`: nothing has this id.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] for an id that cannot exist; store failures.
    async fn plan(&mut self, requested: &str) -> Result<Option<Plan>, CoreError> {
        let local = self.settings.local_id(requested);
        let id = ObjectId::parse(local).map_err(|_| invalid_id())?;
        if let Some(cached) = self.core.catalogue.object(&id).await? {
            return Ok(self.blob(cached.object.clone()).await?.map(Plan::Blob));
        }
        if let Some(specimen) = self
            .core
            .store
            .get_specimen(&SpecimenId::parse(local).map_err(model_error)?)
            .await?
        {
            return Ok(Some(self.specimen(&specimen).await?));
        }
        if let Some(participant) = self
            .core
            .store
            .get_participant(&ParticipantId::parse(local).map_err(model_error)?)
            .await?
        {
            return Ok(Some(self.participant(&participant).await?));
        }
        if let Some(dataset) = self
            .dataset(&DatasetId::parse(local).map_err(model_error)?)
            .await?
        {
            return Ok(Some(self.dataset_bundle(dataset).await?));
        }
        Ok(None)
    }

    /// Decides an object once per request (ReadMetadata, then consent under the decision's
    /// scope). `None` when it vanished between queries.
    async fn blob(&mut self, object: DataObject) -> Result<Option<ObjectId>, CoreError> {
        let id = object.id.clone();
        if let Some(known) = self.blobs.get(&id) {
            return Ok(known.as_ref().map(|_| id));
        }
        let Some(cached) = self.core.catalogue.object(&id).await? else {
            self.blobs.insert(id, None);
            return Ok(None);
        };
        let Some(times) = cached.times else {
            self.blobs.insert(id, None);
            return Ok(None);
        };
        // The stored record, as of the catalogue epoch (the caller's copy may be older).
        let object = cached.object.clone();
        let datasets = cached.datasets.clone();
        let public = datasets
            .iter()
            .any(|d| d.access_level == AccessLevel::Public);
        let index_of = cached.indexed_by.clone();
        let resource = Resource::Object {
            id: id.clone(),
            datasets,
            owner: cached.owner.clone(),
            project: cached.project.clone(),
            held: cached.held,
        };
        let verdict = self.ask(Action::ReadMetadata, resource).await?;
        let mut consented = false;
        let mut partial = false;
        let mut excluded_participants = Vec::new();
        let multi_sample = matches!(object.format, DataFormat::Vcf | DataFormat::Bcf)
            && object.specimens.len() > 1;
        let outcome = if verdict.is_permit() {
            let participants = cached.participants.clone();
            if participants.is_empty() {
                // Nobody's data (a reference, an annotation): consent has nothing to say.
                consented = true;
                Outcome {
                    returned: Some(1),
                    ..Outcome::default()
                }
            } else {
                match self.consent() {
                    Ok(snapshot) => {
                        let scope = verdict.evaluation().scope;
                        let not_served: Vec<ParticipantId> = participants
                            .iter()
                            .filter(|p| !snapshot.serves(p, scope))
                            .cloned()
                            .collect();
                        let excluded = not_served.len();
                        // A multi-sample file loses the columns of those not served (through
                        // htsget), as long as someone is served.
                        partial = multi_sample && excluded > 0 && excluded < participants.len();
                        consented = excluded == 0 || partial;
                        if partial {
                            excluded_participants = not_served;
                        }
                        Outcome {
                            consent_epoch: Some(snapshot.epoch),
                            participants,
                            returned: Some(u64::from(consented)),
                            filtered: Some(u64::try_from(excluded).unwrap_or(u64::MAX)),
                            answer: None,
                        }
                    }
                    Err(stale) => {
                        self.stale = Some(stale);
                        Outcome {
                            participants,
                            returned: Some(0),
                            ..Outcome::default()
                        }
                    }
                }
            }
        } else {
            Outcome::default()
        };
        self.outcomes.push(outcome);
        self.blobs.insert(
            id.clone(),
            Some(Blob {
                object,
                times,
                public,
                index_of,
                decision: verdict.index(),
                consented,
                partial,
                excluded: excluded_participants,
            }),
        );
        Ok(Some(id))
    }

    async fn blobs_of(&mut self, objects: Vec<DataObject>) -> Result<Vec<Plan>, CoreError> {
        let mut out = Vec::with_capacity(objects.len());
        for o in objects {
            if let Some(id) = self.blob(o).await? {
                out.push(Plan::Blob(id));
            }
        }
        Ok(out)
    }

    /// `children` without the multi-sample files in which `participant` is a column removed for
    /// this caller: a withdrawn participant's bundles hold nothing, not even the joint call set.
    fn served_to(&self, children: Vec<Plan>, participant: &ParticipantId) -> Vec<Plan> {
        children
            .into_iter()
            .filter(|c| match c {
                Plan::Blob(id) => !self
                    .blobs
                    .get(id)
                    .and_then(Option::as_ref)
                    .is_some_and(|b| b.partial && b.excluded.contains(participant)),
                Plan::Bundle { .. } => true,
            })
            .collect()
    }

    async fn specimen(&mut self, specimen: &Specimen) -> Result<Plan, CoreError> {
        let objects = self.core.store.objects_of_specimen(&specimen.id).await?;
        let children = self.blobs_of(objects).await?;
        let children = self.served_to(children, &specimen.participant);
        let kind = match serde_json::to_value(&specimen.specimen_type) {
            Ok(serde_json::Value::String(s)) => s,
            _ => "other".to_owned(),
        };
        Ok(Plan::Bundle {
            id: specimen.id.to_string(),
            description: format!(
                "Specimen {} ({kind}) of participant {}: the files holding its data that this \
                 caller may see.",
                specimen.id, specimen.participant
            ),
            gate: None,
            children,
        })
    }

    async fn participant(&mut self, participant: &Participant) -> Result<Plan, CoreError> {
        let mut children = Vec::new();
        let mut in_specimens = HashSet::new();
        for s in self.core.store.specimens_of(&participant.id).await? {
            let plan = self.specimen(&s).await?;
            if let Plan::Bundle { children: c, .. } = &plan {
                in_specimens.extend(c.iter().filter_map(|p| match p {
                    Plan::Blob(id) => Some(id.clone()),
                    Plan::Bundle { .. } => None,
                }));
            }
            children.push(plan);
        }
        // Files of the participant that name no specimen are entries of their own.
        let loose: Vec<DataObject> = self
            .core
            .store
            .objects_of_participant(&participant.id)
            .await?
            .into_iter()
            .filter(|o| !in_specimens.contains(&o.id))
            .collect();
        let loose = self.blobs_of(loose).await?;
        children.extend(self.served_to(loose, &participant.id));
        Ok(Plan::Bundle {
            id: participant.id.to_string(),
            description: format!(
                "Participant {}: one bundle per specimen, each holding the files of that \
                 specimen that this caller may see.",
                participant.id
            ),
            gate: None,
            children,
        })
    }

    async fn dataset_bundle(&mut self, dataset: Arc<Dataset>) -> Result<Plan, CoreError> {
        let resource = Resource::Dataset(dataset.clone());
        let verdict = self.ask(Action::ReadMetadata, resource).await?;
        let permitted = verdict.is_permit();
        self.outcomes.push(Outcome::default());
        let gate = verdict.index();
        let mut children = Vec::new();
        if permitted {
            for id in self.core.store.dataset_objects(&dataset.id).await? {
                if let Some(cached) = self.core.catalogue.object(&id).await? {
                    children.extend(self.blob(cached.object.clone()).await?.map(Plan::Blob));
                }
            }
        }
        Ok(Plan::Bundle {
            id: dataset.id.to_string(),
            description: format!(
                "Dataset {} ({}, {}): its files that this caller may see.",
                dataset.id,
                dataset.name,
                dataset.access_level.as_str()
            ),
            gate: Some(gate),
            children,
        })
    }

    /// What the caller may see of a plan: a blob permitted and consented, or a bundle whose
    /// gate permitted and that holds something visible.
    fn visible<'p>(&'p self, plan: &'p Plan, verdicts: &Verdicts) -> Option<Visible<'p>> {
        match plan {
            Plan::Blob(id) => {
                let blob = self.blobs.get(id)?.as_ref()?;
                (verdicts.permit(blob.decision).is_some() && blob.consented)
                    .then_some(Visible::Blob(blob))
            }
            Plan::Bundle {
                id,
                description,
                gate,
                children,
            } => {
                if gate.is_some_and(|g| verdicts.permit(g).is_none()) {
                    return None;
                }
                let children: Vec<Visible<'p>> = children
                    .iter()
                    .filter_map(|c| self.visible(c, verdicts))
                    .collect();
                let created = children.iter().map(Visible::created).min()?;
                let updated = children.iter().map(Visible::updated).max()?;
                let size = children.iter().map(Visible::size).sum();
                let sha256 =
                    bundle_checksum(children.iter().map(Visible::sha256).collect(), sha256_hex);
                let md5 = bundle_checksum(children.iter().map(Visible::md5).collect(), md5_hex);
                Some(Visible::Bundle {
                    id,
                    description,
                    children,
                    size,
                    sha256,
                    md5,
                    created,
                    updated,
                })
            }
        }
    }

    fn contents(&self, children: &[Visible<'_>], expand: bool) -> Vec<ContentsObject> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        for c in children {
            *names.entry(c.name()).or_default() += 1;
        }
        children
            .iter()
            .map(|c| {
                // Names must be unique in a bundle: a shared file name falls back to the id.
                let name = if names.get(c.name()).copied().unwrap_or(0) > 1 {
                    c.id()
                } else {
                    c.name()
                };
                ContentsObject {
                    name: name.to_owned(),
                    id: c.id().to_owned(),
                    drs_uri: vec![self.settings.self_uri(c.id())],
                    contents: match c {
                        Visible::Bundle { children, .. } if expand => {
                            Some(self.contents(children, true))
                        }
                        _ => None,
                    },
                }
            })
            .collect()
    }

    fn drs_object(&self, v: &Visible<'_>, expand: bool) -> DrsObject {
        match v {
            Visible::Blob(b) => self.blob_object(b),
            Visible::Bundle {
                id,
                description,
                children,
                size,
                sha256,
                md5,
                created,
                updated,
            } => DrsObject {
                id: (*id).to_owned(),
                name: (*id).to_owned(),
                self_uri: self.settings.self_uri(id),
                size: *size,
                created_time: rfc3339(*created),
                updated_time: rfc3339(*updated),
                version: sha256.clone(),
                mime_type: None,
                checksums: vec![
                    Checksum {
                        checksum: sha256.clone(),
                        kind: "sha-256",
                    },
                    Checksum {
                        checksum: md5.clone(),
                        kind: "md5",
                    },
                ],
                access_methods: None,
                contents: Some(self.contents(children, expand)),
                description: (*description).to_owned(),
                aliases: Vec::new(),
            },
        }
    }

    fn blob_object(&self, b: &Blob) -> DrsObject {
        let o = &b.object;
        let mut sentences: Vec<String> = Vec::new();
        match &o.description {
            Some(d) => sentences.push(d.clone()),
            // An index is described by the file it indexes (below).
            None if !b.index_of.is_empty() => {}
            None if o.specimens.is_empty() => {
                sentences.push(format!("{}.", format_label(o.format)));
            }
            None => sentences.push(format!(
                "{} of specimen {}.",
                format_label(o.format),
                o.specimens
                    .iter()
                    .map(SpecimenId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        if let Some(index) = &o.index {
            sentences.push(format!(
                "Its index is DRS object {index} ({}).",
                self.settings.self_uri(index.as_str())
            ));
        }
        for file in &b.index_of {
            sentences.push(format!(
                "{} of DRS object {file} ({}).",
                format_label(o.format),
                self.settings.self_uri(file.as_str())
            ));
        }
        if b.partial {
            sentences.push(
                "For this caller it is served through htsget only, without the sample columns \
                 its consent scope does not cover; its size and checksums are those of the \
                 stored file."
                    .to_owned(),
            );
        }
        let description = sentences.join(" ");
        let access_method = if b.partial {
            AccessMethod {
                kind: "htsget",
                access_id: None,
                access_url: Some(gemj_drs::AccessUrl {
                    url: format!("{}/htsget/variants/{}", self.settings.base_url, o.id),
                }),
                available: true,
                authorizations: self.settings.authorizations(None, b.public),
            }
        } else {
            AccessMethod {
                kind: "https",
                access_id: Some(ACCESS_ID),
                access_url: None,
                available: true,
                authorizations: self.settings.authorizations(None, b.public),
            }
        };
        DrsObject {
            id: o.id.to_string(),
            name: o.name.clone(),
            self_uri: self.settings.self_uri(o.id.as_str()),
            size: o.size,
            created_time: rfc3339(b.times.registered_at),
            updated_time: rfc3339(b.times.updated_at),
            version: o.checksums.sha256.clone(),
            mime_type: Some(mime_type(o.format).to_owned()),
            checksums: vec![
                Checksum {
                    checksum: o.checksums.sha256.clone(),
                    kind: "sha-256",
                },
                Checksum {
                    checksum: o.checksums.md5.clone(),
                    kind: "md5",
                },
            ],
            access_methods: Some(vec![access_method]),
            contents: None,
            description,
            aliases: o.specimens.iter().map(ToString::to_string).collect(),
        }
    }
}

fn model_error(e: gemj_model::ModelError) -> CoreError {
    CoreError::InvalidInput(e.to_string())
}

fn invalid_id() -> CoreError {
    CoreError::InvalidInput(
        "a DRS object id is 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a \
         letter or digit (or the compact form <prefix>:<id>)"
            .to_owned(),
    )
}

/// The service of GA4GH DRS: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct DrsService {
    core: Shared,
    settings: DrsSettings,
}

impl DrsService {
    /// The service over the gateway's shared parts, with its own settings.
    #[must_use]
    pub fn new(core: Shared, settings: DrsSettings) -> Self {
        Self { core, settings }
    }

    /// How this deployment names and authorizes its objects.
    #[must_use]
    pub fn settings(&self) -> &DrsSettings {
        &self.settings
    }
}

impl DrsService {
    /// Resolves DRS ids for the caller, all decisions audited in one append. Each id answers a DRS
    /// object or the error for it: [`CoreError::InvalidInput`] for an id that cannot exist;
    /// [`CoreError::NotFound`] for one that does not exist or that the caller may not see
    /// ([`CoreError::CredentialRequired`] for anonymous callers); `expand` nests bundles' contents.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`] (after the audit), store and audit failures.
    pub async fn get_objects(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        ids: &[String],
        expand: bool,
    ) -> Result<Vec<Result<DrsObject, CoreError>>, CoreError> {
        let (core, settings) = (&self.core, &self.settings);
        let mut resolver = Resolver::new(core, ctx, principal, settings);
        // Each distinct id is planned once, however often (and in whichever form) it is named.
        let mut planned: HashMap<&str, usize> = HashMap::new();
        let mut plans = Vec::new();
        let mut order = Vec::with_capacity(ids.len());
        for id in ids {
            let local = settings.local_id(id);
            if let Some(&i) = planned.get(local) {
                order.push(i);
                continue;
            }
            plans.push(match resolver.plan(id).await {
                Ok(plan) => Ok(plan),
                Err(CoreError::InvalidInput(m)) => Err(m),
                Err(e) => return Err(e),
            });
            planned.insert(local, plans.len() - 1);
            order.push(plans.len() - 1);
        }
        let enforcement = resolver
            .enforcement
            .take()
            .ok_or(CoreError::AuditUnavailable)?;
        let outcomes = std::mem::take(&mut resolver.outcomes);
        let resolver = &resolver;
        enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
                // Consent that could not be confirmed current fails the request, after the audit.
                if let Some(stale) = resolver.stale {
                    return Ok((Err(stale.into()), outcomes));
                }
                let answers = order
                    .iter()
                    .filter_map(|&i| plans.get(i))
                    .map(|plan| match plan {
                        Err(m) => Err(CoreError::InvalidInput(m.clone())),
                        Ok(None) => Err(resolver.hidden()),
                        Ok(Some(plan)) => resolver
                            .visible(plan, verdicts)
                            .map(|v| resolver.drs_object(&v, expand))
                            .ok_or_else(|| resolver.hidden()),
                    })
                    .collect();
                Ok((Ok(answers), outcomes))
            })
            .await?
            .value
    }

    /// One DRS object (see [`get_objects`]).
    ///
    /// # Errors
    /// As [`get_objects`], and the id's own error.
    pub async fn get_object(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
        expand: bool,
    ) -> Result<DrsObject, CoreError> {
        self.get_objects(ctx, principal, &[id.to_owned()], expand)
            .await?
            .pop()
            .unwrap_or(Err(CoreError::NotFound))
    }

    /// How to authorize for each id. Answered alike for absent and hidden ids (existence is not
    /// revealed): an id an anonymous caller may read lists `None` first. The anonymous resolution
    /// that tells this is audited like any other.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`], store and audit failures; per id, [`CoreError::InvalidInput`].
    pub async fn authorizations(
        &self,
        ctx: &RequestContext,
        ids: &[String],
    ) -> Result<Vec<Result<Authorizations, CoreError>>, CoreError> {
        let settings = &self.settings;
        let resolved = self
            .get_objects(ctx, &Principal::Anonymous, ids, false)
            .await?;
        Ok(ids
            .iter()
            .zip(resolved)
            .map(|(id, r)| {
                let local = settings.local_id(id).to_owned();
                match r {
                    Ok(_) => Ok(settings.authorizations(Some(local), true)),
                    Err(CoreError::InvalidInput(m)) => Err(CoreError::InvalidInput(m)),
                    Err(_) => Ok(settings.authorizations(Some(local), false)),
                }
            })
            .collect())
    }

    /// A signed URL for a blob's bytes (`access_id` [`ACCESS_ID`]), through [`data::issue_url_explained`]:
    /// decided ([`Action::ReadData`]) and audited there, consent checked now and at every fetch.
    ///
    /// # Errors
    /// [`AccessError::DataNotPermitted`] (with the denial's reason) when the caller sees the object but may not read its
    /// bytes; otherwise as objects: [`CoreError::NotFound`] (also for an unknown `access_id` or a
    /// bundle, which has no access methods), [`CoreError::CredentialRequired`],
    /// [`CoreError::InvalidInput`], [`CoreError::ConsentStale`].
    pub async fn access_url(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
        access_id: &str,
    ) -> Result<AccessUrl, AccessError> {
        let (core, settings) = (&self.core, &self.settings);
        let local = settings.local_id(id);
        if ObjectId::parse(local).is_err() {
            return Err(invalid_id().into());
        }
        if access_id != ACCESS_ID {
            return Err(CoreError::NotFound.into());
        }
        // One decision: refused data is explained (403) only to a caller who may see the object.
        let signer = if settings.presigned_urls {
            data::Signer::Storage
        } else {
            data::Signer::Gateway
        };
        match data::issue_url_explained(core, ctx, principal, local, &settings.base_url, signer)
            .await
        {
            Ok(issued) => Ok(AccessUrl { url: issued.url }),
            Err(CoreError::Denied(d)) => Err(AccessError::DataNotPermitted { reason: d.code() }),
            Err(e) => Err(e.into()),
        }
    }

    /// How many blobs the service holds and their total size (DRS 1.5 service-info `drs` stats).
    ///
    /// # Errors
    /// Store failures.
    pub async fn stats(&self) -> Result<(u64, u64), CoreError> {
        Ok(self.core.store.object_totals().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_identifiers() {
        let s = DrsSettings::new("http://127.0.0.1:1", "GeMJ", 10, vec![], vec![]);
        assert_eq!(s.compact_prefix, "gemj");
        assert_eq!(s.local_id("gemj:OBJ-1"), "OBJ-1");
        assert_eq!(s.local_id("GEMJ:OBJ-1"), "OBJ-1");
        assert_eq!(s.local_id("OBJ-1"), "OBJ-1");
        assert_eq!(s.local_id("gemjx:OBJ-1"), "gemjx:OBJ-1");
        assert_eq!(s.local_id("gemj"), "gemj");
        assert_eq!(s.local_id("gemj:"), "");
        assert_eq!(s.local_id("日本"), "日本");
        assert_eq!(s.self_uri("OBJ-1"), "drs://127.0.0.1/OBJ-1");
    }

    #[test]
    fn authorizations_follow_the_trusted_issuers() {
        let s = DrsSettings::new(
            "http://h",
            "gemj",
            1,
            vec!["https://visas".into()],
            vec!["https://visas".into(), "https://broker".into()],
        );
        let a = s.authorizations(Some("X".into()), true);
        assert_eq!(a.supported_types, ["None", "PassportAuth", "BearerAuth"]);
        let a = s.authorizations(None, false);
        assert_eq!(a.supported_types, ["PassportAuth", "BearerAuth"]);
        let none = DrsSettings::new("http://h", "gemj", 1, vec![], vec![]);
        assert!(none.authorizations(None, false).supported_types.is_empty());
    }

    #[test]
    fn bundle_checksums_follow_the_spec_example() {
        // The spec's example (sort, concatenate, digest), with each algorithm.
        assert_eq!(
            bundle_checksum(vec!["72794b6d", "5e089d29"], sha256_hex),
            sha256_hex(b"5e089d2972794b6d")
        );
        assert_eq!(
            bundle_checksum(vec!["72794b6d", "5e089d29"], md5_hex),
            md5_hex(b"5e089d2972794b6d")
        );
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
