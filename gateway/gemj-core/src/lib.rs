//! Framework-free services of the gateway. Every API's business rules live here, never in
//! HTTP handlers: the access decision point ([`access`]) that every API calls, the audit
//! writer with group commit ([`audit`]), the gateway's own catalogue ([`catalogue`]), GA4GH
//! service-info and the registry of mounted services ([`services`]), GA4GH DRS ([`drs`]), and
//! the synthetic demo cohort ([`demo`]).
//!
//! [`Core`] bundles the store, the object storage and the decision point; the server holds one
//! and hands it to each handler.

pub mod access;
pub mod approvals_api;
pub mod audit;
pub mod audit_api;
pub mod beacon;
pub mod catalogue;
pub mod catalogue_cache;
pub mod consent_api;
pub mod consent_view;
pub mod controlled;
pub mod data;
pub mod data_url;
pub mod demo;
pub mod drs;
mod error;
pub mod htsget;
pub mod ingest;
pub mod phenopacket;
pub mod recontact;
pub mod revocations;
pub mod services;

use std::sync::Arc;

pub use access::{
    AccessPoint, Action, Ask, ConsentScope, Denial, Enforcement, InstitutionCaller, OnDenial,
    Outcome, Permit, PolicySettings, Principal, Reason, Released, RequestContext, Resource,
    Verdict, Verdicts,
};
pub use error::CoreError;
use gemj_objects::ObjectStorage;
use gemj_store::Store;

/// Everything a request handler needs: cheap to clone.
#[derive(Clone)]
pub struct Core {
    /// The GeMJ store.
    pub store: Store,
    /// Where genomic files live.
    pub objects: Arc<dyn ObjectStorage>,
    /// The one access decision point.
    pub access: AccessPoint,
    /// The services this gateway serves, for service-info and the registry.
    pub services: Arc<services::ServiceRegistry>,
    /// This instance's view of consent, kept current across instances.
    pub consent: consent_view::ConsentView,
    /// Signs and verifies the gateway's data URLs.
    pub urls: Arc<data_url::UrlSigner>,
    /// Genome files opened for slicing (header and index parsed once).
    pub genomes: Arc<gemj_genomics::slice::FileCache>,
    /// Objects with their datasets and participants, kept current by the catalogue epoch.
    pub catalogue: catalogue_cache::CatalogueCache,
    /// The Beacon service (settings, index of the current catalogue epoch, budgets).
    pub beacon: Arc<beacon::Beacon>,
    /// The revoked credentials, applied to every verified Passport.
    pub revocations: revocations::RevocationList,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}
