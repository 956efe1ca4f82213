//! Framework-free services of the gateway. Every API's business rules live here, never in
//! HTTP handlers: the access decision point ([`access`]) that every API calls, the audit
//! writer with group commit ([`audit`]), the gateway's own catalogue ([`catalogue`]), GA4GH
//! service-info and the registry of mounted services ([`services`]), and the synthetic demo
//! cohort ([`demo`]).
//!
//! [`Core`] bundles the store, the object storage and the decision point; the server holds one
//! and hands it to each handler.

pub mod access;
pub mod audit;
pub mod audit_api;
pub mod catalogue;
pub mod consent_view;
pub mod demo;
mod error;
pub mod services;

use std::sync::Arc;

pub use access::{
    AccessPoint, Action, Denial, Permit, PolicySettings, Principal, Reason, RequestContext,
    Resource,
};
pub use error::CoreError;
use gemj_store::Store;
use gemj_store::objects::ObjectStorage;

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
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}
