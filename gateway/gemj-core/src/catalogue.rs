//! The gateway's own dataset catalogue: which datasets exist, as far as the caller may know.
//! Every dataset shown passed the access decision point; a dataset the caller may not see and
//! a dataset that does not exist look the same (not found).

use gemj_model::{AccessLevel, DataUseCondition, Dataset, DatasetId};

use crate::access::{
    Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource, Verdicts,
};
use crate::{CoreError, Shared};

/// A dataset as the catalogue shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetSummary {
    /// Dataset id.
    pub id: DatasetId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Access level.
    pub access_level: AccessLevel,
    /// Data-use conditions (DUO).
    pub data_use: DataUseCondition,
}

impl From<Dataset> for DatasetSummary {
    fn from(d: Dataset) -> Self {
        Self {
            id: d.id,
            name: d.name,
            description: d.description,
            access_level: d.access_level,
            data_use: d.data_use,
        }
    }
}

/// The service of the dataset catalogue: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct CatalogueService {
    core: Shared,
}

impl CatalogueService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl CatalogueService {
    /// Lists the datasets whose metadata the caller may read. Each is decided, and the request's
    /// decisions are audited in one append.
    ///
    /// # Errors
    /// Store or audit failures.
    pub async fn list_datasets(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<Vec<DatasetSummary>, CoreError> {
        let core = &self.core;
        let datasets = core.store.list_datasets().await?;
        let mut enforcement = core.access.begin(ctx, principal);
        for d in &datasets {
            enforcement
                .ask(Ask::new(Action::ReadMetadata, Resource::dataset(d.clone())))
                .await?;
        }
        enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
                Ok((summaries(verdicts, datasets), Vec::new()))
            })
            .await
            .map(|r| r.value)
    }

    /// One dataset's metadata, or not found.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when it does not exist or the caller may not read it.
    pub async fn get_dataset(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
    ) -> Result<DatasetSummary, CoreError> {
        let core = &self.core;
        let Ok(id) = DatasetId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        let Some(d) = core.store.get_dataset(&id).await? else {
            return Err(CoreError::NotFound);
        };
        let ask = Ask::new(Action::ReadMetadata, Resource::dataset(d.clone()));
        core.access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Hide,
                async |permit: &Permit| Ok((summary(permit, d), Outcome::default())),
            )
            .await
    }
}

/// The datasets whose decision permitted, in order.
fn summaries(verdicts: &Verdicts, datasets: Vec<Dataset>) -> Vec<DatasetSummary> {
    datasets
        .into_iter()
        .enumerate()
        .filter(|(i, _)| verdicts.permit(*i).is_some())
        .map(|(_, d)| d.into())
        .collect()
}

/// A dataset's metadata, as a permit releases it.
fn summary(_permit: &Permit, d: Dataset) -> DatasetSummary {
    d.into()
}
