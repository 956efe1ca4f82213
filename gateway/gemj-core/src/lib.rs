//! Framework-free services of the gateway. Every API's business rules live here, never in
//! HTTP handlers: the access decision point ([`access`]) that every API calls, the audit
//! writer with group commit ([`audit`]), the gateway's own catalogue ([`catalogue`]), GA4GH
//! service-info and the registry of mounted services ([`services`]), GA4GH DRS ([`drs`]),
//! htsget ([`htsget`]) and its data URLs ([`data`]), Beacon v2 ([`beacon`]), consent
//! ([`consent_api`], [`consent_view`]), recontact, approvals, revocations and the audit APIs.
//!
//! Invariant: this crate depends on no adapter and knows nothing of the demo. Ingest
//! orchestration lives in `gemj-ingest`, the synthetic demo cohort in `gemj-demo`; both build
//! on this crate, never the other way round.
//!
//! Each API is one service struct (`CatalogueService`, `DataService`, `DrsService`,
//! `HtsgetService`, [`beacon::Beacon`], `ConsentService`, `RecontactService`,
//! `ApprovalsService`, `AuditService`, `RevocationsService`, `PhenopacketService`), built once
//! at start over the [`Shared`] parts and owning its own settings; a server hands each handler
//! the one service it needs.

pub mod access;
pub mod approvals_api;
pub mod audit;
pub mod audit_api;
pub mod audit_archive;
pub mod beacon;
pub mod catalogue;
pub mod catalogue_cache;
pub mod consent_api;
pub mod consent_view;
pub mod controlled;
pub mod data;
pub mod data_connect;
pub mod data_url;
pub mod drs;
mod error;
pub mod fhir;
pub mod htsget;
pub mod phenopacket;
pub mod recontact;
pub mod revocations;
pub mod services;
pub mod smart;
pub mod wes;

use std::sync::Arc;

pub use access::{
    AccessPoint, Action, Ask, ConsentScope, Denial, Enforcement, InstitutionCaller, OnDenial,
    Outcome, Permit, PolicySettings, Principal, Reason, Released, RequestContext, Resource,
    Verdict, Verdicts,
};
pub use error::CoreError;
use gemj_objects::ObjectStorage;
use gemj_store::Store;

/// What every service shares, built once at start and cheap to clone: the store, the object
/// storage, the one access decision point, this instance's consent view, the data-URL signer,
/// the genome file cache, the catalogue cache and the revocation list. The fields are the
/// services' business (crate-private); other crates build it from [`SharedParts`] and reach
/// the access layer through its methods.
#[derive(Clone)]
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) objects: Arc<dyn ObjectStorage>,
    pub(crate) access: AccessPoint,
    pub(crate) consent: consent_view::ConsentView,
    pub(crate) urls: Arc<data_url::UrlSigner>,
    pub(crate) genomes: Arc<gemj_genomics::slice::FileCache>,
    pub(crate) catalogue: catalogue_cache::CatalogueCache,
    pub(crate) revocations: revocations::RevocationList,
    pub(crate) audit_archive: audit_archive::AuditArchive,
}

/// The parts [`Shared`] is built from.
#[derive(Debug)]
pub struct SharedParts {
    /// The GeMJ store.
    pub store: Store,
    /// Where genomic files live.
    pub objects: Arc<dyn ObjectStorage>,
    /// The one access decision point.
    pub access: AccessPoint,
    /// This instance's view of consent, kept current across instances.
    pub consent: consent_view::ConsentView,
    /// Signs and verifies the gateway's data URLs.
    pub urls: data_url::UrlSigner,
    /// Genome files opened for slicing (header and index parsed once).
    pub genomes: gemj_genomics::slice::FileCache,
    /// Objects with their datasets and participants, kept current by the catalogue epoch.
    pub catalogue: catalogue_cache::CatalogueCache,
    /// The revoked credentials, applied to every verified Passport.
    pub revocations: revocations::RevocationList,
    /// Where sealed audit segments are read from.
    pub audit_archive: audit_archive::AuditArchive,
}

impl Shared {
    /// Shares `parts` between the services.
    #[must_use]
    pub fn new(parts: SharedParts) -> Self {
        Self {
            store: parts.store,
            objects: parts.objects,
            access: parts.access,
            consent: parts.consent,
            urls: Arc::new(parts.urls),
            genomes: Arc::new(parts.genomes),
            catalogue: parts.catalogue,
            revocations: parts.revocations,
            audit_archive: parts.audit_archive,
        }
    }

    /// The one access decision point (for the access layer of a server: refused credentials
    /// are audited through it).
    #[must_use]
    pub fn access(&self) -> &AccessPoint {
        &self.access
    }

    /// The revocation list, applied to every verified Passport.
    #[must_use]
    pub fn revocations(&self) -> &revocations::RevocationList {
        &self.revocations
    }

    /// The store (for services built outside this crate: ingest, health checks).
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This instance's consent view (for services built outside this crate: ingest refreshes
    /// it after appending consent events).
    #[must_use]
    pub fn consent(&self) -> &consent_view::ConsentView {
        &self.consent
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}
