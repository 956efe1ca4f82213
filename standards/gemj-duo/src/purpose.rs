//! The research purpose a data-use committee approved for a project: the primary DUO permission
//! it falls under, its diseases, and the facts the DUO modifiers ask about (who, where, for what,
//! and which obligations the requester accepted).

use gemj_model::DuoCode;

/// What the data-use committee approved for a project, as the matcher needs it.
///
/// Every flag states a fact or an accepted obligation; a flag left `false` means "not approved
/// / not agreed", so a dataset term that needs it denies. The one fact the approval record may
/// not know, whether the requester's organisation is for-profit, is an `Option`: `None` sends
/// the organisation terms (NPU, NPUNCU) to the committee.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gemj_duo::ResearchPurpose;
/// use gemj_model::DuoCode;
///
/// let purpose = ResearchPurpose {
///     diseases: vec!["MONDO:0004992".into()], // cancer
///     country: "JP".into(),
///     has_ethics_approval: true,
///     ..ResearchPurpose::new(DuoCode::parse("DUO:0000007")?) // DS
/// };
/// assert!(!purpose.for_profit);
/// assert_eq!(purpose.for_profit_organisation, None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchPurpose {
    /// The primary purpose as a DUO permission term, as specific as it is: DUO:0000007 DS for
    /// disease-specific research, DUO:0000006 HMB for other health/medical/biomedical research,
    /// DUO:0000011 POA for population origins or ancestry research, DUO:0000042 GRU for other
    /// research.
    pub primary: DuoCode,
    /// The diseases studied (MONDO ids, which DUO recommends, or ICD-10 codes), for DS.
    #[serde(default)]
    pub diseases: Vec<String>,
    /// Whether the use is for profit (commercial use), as `gemj_model::Approval::for_profit`.
    /// Checked by NCU (DUO:0000046) and NPUNCU (DUO:0000018).
    #[serde(default)]
    pub for_profit: bool,
    /// Whether the requester's organisation is for-profit; `None` when the approval does not
    /// record it. Checked by NPU (DUO:0000045) and NPUNCU (DUO:0000018).
    #[serde(default)]
    pub for_profit_organisation: Option<bool>,
    /// ISO 3166-1 alpha-2 code of the country where the data are processed, for GS.
    #[serde(default)]
    pub country: String,
    /// The requester's institution id, for IS (DUO:0000028).
    #[serde(default)]
    pub institution: String,
    /// The approved project id, for PS (DUO:0000027).
    #[serde(default)]
    pub project: String,
    /// The requester's user id, for US (DUO:0000026).
    #[serde(default)]
    pub user: String,
    /// Documentation of local IRB/ERB approval was provided, for IRB (DUO:0000021).
    #[serde(default)]
    pub has_ethics_approval: bool,
    /// The requester agrees to make results available to the scientific community, for PUB
    /// (DUO:0000019).
    #[serde(default)]
    pub agrees_to_publish: bool,
    /// The requester agrees to return derived or enriched data to the resource, for RTN
    /// (DUO:0000029).
    #[serde(default)]
    pub agrees_to_return_results: bool,
    /// The use includes clinical use and care (not only research); allowed only by NRES or with
    /// CC (DUO:0000043).
    #[serde(default)]
    pub clinical_care: bool,
    /// The requester agreed to collaborate with the primary study investigators, for COL
    /// (DUO:0000020).
    #[serde(default)]
    pub approved_collaboration: bool,
    /// The approved period of use is within the dataset's time limit, for TS (DUO:0000025).
    #[serde(default)]
    pub time_limit_ok: bool,
    /// The requester agrees not to publish before the dataset's moratorium date, for MOR
    /// (DUO:0000024).
    #[serde(default)]
    pub moratorium_ok: bool,
    /// The research is a genetic study: genotype research alone or genotype with phenotype
    /// research, not phenotype research only. For GSO (DUO:0000016).
    #[serde(default)]
    pub genetic_study: bool,
    /// The purpose includes methods development (software, algorithms), which NMDS
    /// (DUO:0000015) prohibits.
    #[serde(default)]
    pub methods_development: bool,
    /// The purpose includes population origins or ancestry research, which NPOA (DUO:0000044)
    /// prohibits and HMB (DUO:0000006) does not include. Implied when `primary` is POA.
    #[serde(default)]
    pub population_origins_ancestry: bool,
}

impl ResearchPurpose {
    /// A purpose with this primary term and nothing else: no diseases, no flags, empty ids,
    /// organisation type unknown. Fill the rest with struct update syntax.
    ///
    /// # Examples
    ///
    /// See [`ResearchPurpose`].
    #[must_use]
    pub fn new(primary: DuoCode) -> Self {
        Self {
            primary,
            diseases: Vec::new(),
            for_profit: false,
            for_profit_organisation: None,
            country: String::new(),
            institution: String::new(),
            project: String::new(),
            user: String::new(),
            has_ethics_approval: false,
            agrees_to_publish: false,
            agrees_to_return_results: false,
            clinical_care: false,
            approved_collaboration: false,
            time_limit_ok: false,
            moratorium_ok: false,
            genetic_study: false,
            methods_development: false,
            population_origins_ancestry: false,
        }
    }
}
