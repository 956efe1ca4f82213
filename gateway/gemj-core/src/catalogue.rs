//! The gateway's own dataset catalogue: which datasets exist, as far as the caller may know.
//! Every dataset shown passed the access decision point; a dataset the caller may not see and
//! a dataset that does not exist look the same (not found).

use gemj_model::{AccessLevel, DataUseCondition, Dataset, DatasetId};

use crate::access::{Action, Outcome, Principal, RequestContext, Resource};
use crate::{Core, CoreError};

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

/// Lists the datasets whose metadata the caller may read. Each is decided (and audited).
///
/// # Errors
/// Store or audit failures.
pub async fn list_datasets(
    core: &Core,
    ctx: &RequestContext,
    principal: &Principal,
) -> Result<Vec<DatasetSummary>, CoreError> {
    // Every dataset is decided, and the request's decisions are audited in one append.
    let datasets = core.store.list_datasets().await?;
    let mut decisions = Vec::with_capacity(datasets.len());
    for d in &datasets {
        let resource = Resource::dataset(d.clone());
        let decision = core
            .access
            .evaluate(ctx, principal, Action::ReadMetadata, &resource)
            .await?;
        decisions.push((decision, Outcome::default()));
    }
    let answers = core.access.record_all(decisions).await?;
    Ok(datasets
        .into_iter()
        .zip(answers)
        .filter(|(_, answer)| answer.is_ok())
        .map(|(d, _)| d.into())
        .collect())
}

/// One dataset's metadata, or not found.
///
/// # Errors
/// [`CoreError::NotFound`] when it does not exist or the caller may not read it.
pub async fn get_dataset(
    core: &Core,
    ctx: &RequestContext,
    principal: &Principal,
    id: &str,
) -> Result<DatasetSummary, CoreError> {
    let Ok(id) = DatasetId::parse(id) else {
        return Err(CoreError::NotFound);
    };
    let Some(d) = core.store.get_dataset(&id).await? else {
        return Err(CoreError::NotFound);
    };
    let resource = Resource::dataset(d.clone());
    match core
        .access
        .decide(ctx, principal, Action::ReadMetadata, &resource)
        .await?
    {
        Ok(_permit) => Ok(d.into()),
        Err(_denial) => Err(CoreError::NotFound),
    }
}
