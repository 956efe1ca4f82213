//! The explainable match of a dataset's data-use condition (one DUO permission, modifiers, an
//! optional disease) against an approved research purpose: one line per dataset term saying
//! whether it permits, denies or needs the data-use committee, and why, in English and Japanese.
//!
//! Invariant: nothing here permits what it cannot decide. A term that is unknown to the release,
//! obsolete, in the wrong slot, or without a rule gives [`Outcome::Committee`]; so does a
//! question the disease hierarchy cannot answer. The outcome is a pure function of the inputs:
//! no clock, no I/O, no hash-map order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use gemj_model::DataUseCondition;

use crate::ids;
use crate::ontology::{Ontology, Term, TermKind};
use crate::purpose::ResearchPurpose;

#[cfg(test)]
mod tests;

/// A decision on one term, or on the whole condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The term allows the purpose.
    Permit,
    /// The term forbids the purpose.
    Deny,
    /// The term cannot be decided automatically: the data-use committee decides.
    Committee,
}

impl Outcome {
    /// `PERMIT`, `DENY` or `COMMITTEE`, as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "PERMIT",
            Self::Deny => "DENY",
            Self::Committee => "COMMITTEE",
        }
    }

    /// The outcome of several: `Deny` if any denies, else `Committee` if any needs the
    /// committee, else `Permit` (also for none at all).
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_duo::Outcome::{Committee, Deny, Permit};
    ///
    /// assert_eq!(gemj_duo::Outcome::combine([Permit, Committee]), Committee);
    /// assert_eq!(gemj_duo::Outcome::combine([Committee, Deny, Permit]), Deny);
    /// assert_eq!(gemj_duo::Outcome::combine([Permit, Permit]), Permit);
    /// ```
    pub fn combine(outcomes: impl IntoIterator<Item = Self>) -> Self {
        outcomes
            .into_iter()
            .max_by_key(|o| o.rank())
            .unwrap_or(Self::Permit)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Permit => 0,
            Self::Committee => 1,
            Self::Deny => 2,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The slot a term has in the dataset's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TermRole {
    /// The condition's permission term.
    Permission,
    /// One of the condition's modifier terms.
    Modifier,
}

/// The decision on one term of the dataset's condition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TermResult {
    /// The term id, canonical (`DUO:0000042`).
    pub term: String,
    /// Its slot in the condition.
    pub role: TermRole,
    /// Its DUO shorthand (`GRU`), when the release gives one.
    pub shorthand: Option<String>,
    /// Its English label, or `unknown term` when the release lacks it.
    pub label: String,
    /// Its Japanese label, when the translation gives one.
    pub label_ja: Option<String>,
    /// The decision.
    pub outcome: Outcome,
    /// Why, in English: the facts compared and, for a denial, the term's DUO definition.
    pub reason: String,
    /// Why, in Japanese.
    pub reason_ja: String,
}

/// The decision on a whole condition, with one [`TermResult`] per term: the permission first,
/// then the modifiers in the condition's order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MatchResult {
    /// `Deny` if any term denies, else `Committee` if any term needs the committee, else
    /// `Permit`.
    pub outcome: Outcome,
    /// One line per term.
    pub terms: Vec<TermResult>,
    /// The DUO release that decided (its `owl:versionIRI`), for the audit record.
    pub duo_version: Option<String>,
}

impl fmt::Display for MatchResult {
    /// The outcome, then one line per term: `DENY NCU (DUO:0000046): reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.outcome)?;
        for line in &self.terms {
            let name = line.shorthand.as_deref().unwrap_or(&line.label);
            write!(
                f,
                "\n{} {name} ({}): {}",
                line.outcome, line.term, line.reason
            )?;
        }
        Ok(())
    }
}

/// Answers whether a requested disease lies within a dataset's disease (DS, DUO:0000007).
///
/// DUO's matching rule: "A query for datasets consented for lung cancer research WILL retrieve
/// datasets consented for cancer, as lung cancer is a subtype of cancer in a disease hierarchy"
/// (EBISPOT/DUO README, "How does querying work when using DUO?"). Identical ids are decided by
/// the matcher before asking.
///
/// Closures `Fn(&str, &str) -> Option<bool>` implement it.
pub trait DiseaseHierarchy {
    /// `Some(true)` when `requested` is `allowed` or a subtype of it, `Some(false)` when it is
    /// known not to be, `None` when the hierarchy cannot tell (the committee then decides).
    fn disease_within(&self, requested: &str, allowed: &str) -> Option<bool>;
}

impl<F> DiseaseHierarchy for F
where
    F: Fn(&str, &str) -> Option<bool>,
{
    fn disease_within(&self, requested: &str, allowed: &str) -> Option<bool> {
        self(requested, allowed)
    }
}

/// A hierarchy that knows nothing: every question goes to the committee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoDiseaseHierarchy;

impl DiseaseHierarchy for NoDiseaseHierarchy {
    fn disease_within(&self, _requested: &str, _allowed: &str) -> Option<bool> {
        None
    }
}

/// A disease hierarchy from `is_a` edges (for example a MONDO subset).
///
/// Invariant: the edges must be closed upward, i.e. hold every ancestor of every disease they
/// mention, as a subset extracted by is_a closure does. Then a disease the graph holds that is
/// not reachable is truly outside, and the answer is `Some(false)`; a disease the graph does not
/// hold gives `None`.
///
/// # Examples
///
/// ```
/// use gemj_duo::{DiseaseGraph, DiseaseHierarchy};
///
/// let graph = DiseaseGraph::from_edges([
///     ("MONDO:0008903", "MONDO:0004992"), // lung cancer is_a cancer
///     ("MONDO:0005148", "MONDO:0005015"), // type 2 diabetes mellitus is_a diabetes mellitus
/// ]);
/// assert_eq!(graph.disease_within("MONDO:0008903", "MONDO:0004992"), Some(true));
/// assert_eq!(graph.disease_within("MONDO:0004992", "MONDO:0008903"), Some(false));
/// assert_eq!(graph.disease_within("MONDO:0005148", "MONDO:0004992"), Some(false));
/// assert_eq!(graph.disease_within("C34", "MONDO:0004992"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiseaseGraph {
    parents: BTreeMap<String, BTreeSet<String>>,
}

impl DiseaseGraph {
    /// A graph of `(child, parent)` edges.
    ///
    /// # Examples
    ///
    /// See [`DiseaseGraph`].
    pub fn from_edges<C, P>(edges: impl IntoIterator<Item = (C, P)>) -> Self
    where
        C: AsRef<str>,
        P: AsRef<str>,
    {
        let mut graph = Self::default();
        for (child, parent) in edges {
            graph.add_is_a(child.as_ref(), parent.as_ref());
        }
        graph
    }

    /// Adds `child is_a parent`. Ids are trimmed; empty ids are ignored.
    pub fn add_is_a(&mut self, child: &str, parent: &str) {
        let (child, parent) = (child.trim(), parent.trim());
        if child.is_empty() || parent.is_empty() {
            return;
        }
        self.parents.entry(parent.to_owned()).or_default();
        self.parents
            .entry(child.to_owned())
            .or_default()
            .insert(parent.to_owned());
    }

    /// Whether the graph holds this disease (as a child or a parent).
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.parents.contains_key(id.trim())
    }
}

impl DiseaseHierarchy for DiseaseGraph {
    fn disease_within(&self, requested: &str, allowed: &str) -> Option<bool> {
        let (requested, allowed) = (requested.trim(), allowed.trim());
        if requested == allowed {
            return Some(true);
        }
        if !self.contains(requested) || !self.contains(allowed) {
            return None;
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([requested]);
        while let Some(id) = queue.pop_front() {
            if id == allowed {
                return Some(true);
            }
            if seen.insert(id)
                && let Some(parents) = self.parents.get(id)
            {
                queue.extend(parents.iter().map(String::as_str));
            }
        }
        Some(false)
    }
}

/// The dataset-side parameters of a match: the values its GS, IS, PS and US terms allow, and the
/// disease hierarchy for DS.
///
/// # Examples
///
/// ```
/// use gemj_duo::{DiseaseGraph, MatchContext};
///
/// let graph = DiseaseGraph::from_edges([("MONDO:0008903", "MONDO:0004992")]);
/// let context = MatchContext {
///     allowed_countries: vec!["JP".into()],
///     diseases: &graph,
///     ..MatchContext::default()
/// };
/// assert!(context.allowed_institutions.is_empty());
/// ```
pub struct MatchContext<'a> {
    /// ISO 3166-1 alpha-2 codes where processing is allowed, for GS (DUO:0000022). A region
    /// (a GAZ term) must be expanded to its countries by the caller.
    pub allowed_countries: Vec<String>,
    /// Institution ids allowed by IS (DUO:0000028).
    pub allowed_institutions: Vec<String>,
    /// Project ids allowed by PS (DUO:0000027).
    pub allowed_projects: Vec<String>,
    /// User ids allowed by US (DUO:0000026).
    pub allowed_users: Vec<String>,
    /// The disease hierarchy for DS (DUO:0000007).
    pub diseases: &'a dyn DiseaseHierarchy,
}

impl Default for MatchContext<'_> {
    /// No allowed values (GS, IS, PS and US go to the committee) and [`NoDiseaseHierarchy`].
    fn default() -> Self {
        Self {
            allowed_countries: Vec::new(),
            allowed_institutions: Vec::new(),
            allowed_projects: Vec::new(),
            allowed_users: Vec::new(),
            diseases: &NoDiseaseHierarchy,
        }
    }
}

impl fmt::Debug for MatchContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchContext")
            .field("allowed_countries", &self.allowed_countries)
            .field("allowed_institutions", &self.allowed_institutions)
            .field("allowed_projects", &self.allowed_projects)
            .field("allowed_users", &self.allowed_users)
            .finish_non_exhaustive()
    }
}

/// Matches a dataset's data-use condition against an approved research purpose.
///
/// The result has one line per term, the permission first and then the modifiers in the
/// condition's order, and an overall outcome: `Deny` if any line denies, else `Committee` if
/// any line needs the committee, else `Permit`. See the crate documentation for the rule of each
/// term and where it comes from.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gemj_duo::{match_purpose, MatchContext, Ontology, Outcome, ResearchPurpose};
/// use gemj_model::{DataUseCondition, DuoCode};
///
/// # let owl = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
/// #   xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#"
/// #   xmlns:obo="http://purl.obolibrary.org/obo/"
/// #   xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
/// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000001"/>
/// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000017"/>
/// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000042">
/// #     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000001"/>
/// #     <oboInOwl:shorthand>GRU</oboInOwl:shorthand></owl:Class>
/// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000006">
/// #     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000042"/>
/// #     <oboInOwl:shorthand>HMB</oboInOwl:shorthand></owl:Class>
/// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000046">
/// #     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000017"/>
/// #     <oboInOwl:shorthand>NCU</oboInOwl:shorthand>
/// #     <obo:IAO_0000115 xml:lang="en">This data use modifier indicates that use of the data is limited to not-for-profit use.</obo:IAO_0000115></owl:Class>
/// # </rdf:RDF>"#;
/// // `owl` holds duo.owl; the caller reads the file, this crate does no I/O.
/// let duo = Ontology::parse(owl, None)?;
/// let condition = DataUseCondition {
///     permission: DuoCode::parse("DUO:0000042")?,      // GRU
///     modifiers: vec![DuoCode::parse("DUO:0000046")?], // NCU
///     disease: None, countries: vec![], institutions: vec![], projects: vec![], users: vec![],
/// };
/// let purpose = ResearchPurpose {
///     for_profit: true,
///     ..ResearchPurpose::new(DuoCode::parse("DUO:0000006")?) // HMB
/// };
/// let result = match_purpose(&duo, &condition, &purpose, &MatchContext::default());
/// assert_eq!(result.outcome, Outcome::Deny);
/// assert_eq!(result.terms[0].outcome, Outcome::Permit); // HMB is a kind of GRU
/// assert_eq!(result.terms[1].outcome, Outcome::Deny); // NCU: the use is for profit
/// assert!(result.terms[1].reason.contains("limited to not-for-profit use"));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub fn match_purpose(
    ontology: &Ontology,
    condition: &DataUseCondition,
    purpose: &ResearchPurpose,
    context: &MatchContext<'_>,
) -> MatchResult {
    let m = Matcher {
        o: ontology,
        condition,
        purpose,
        context,
    };
    let mut terms = Vec::with_capacity(1 + condition.modifiers.len());
    let permission = condition.permission.as_str();
    terms.push(m.line(permission, TermRole::Permission, m.permission(permission)));
    for modifier in &condition.modifiers {
        let code = modifier.as_str();
        terms.push(m.line(code, TermRole::Modifier, m.modifier(code)));
    }
    MatchResult {
        outcome: Outcome::combine(terms.iter().map(|t| t.outcome)),
        terms,
        duo_version: ontology.version_iri().map(str::to_owned),
    }
}

/// One reason for a line's outcome, in both languages.
struct Finding {
    outcome: Outcome,
    en: String,
    ja: String,
}

fn permit(en: String, ja: String) -> Finding {
    Finding {
        outcome: Outcome::Permit,
        en,
        ja,
    }
}

fn deny(en: String, ja: String) -> Finding {
    Finding {
        outcome: Outcome::Deny,
        en,
        ja,
    }
}

fn committee(en: String, ja: String) -> Finding {
    Finding {
        outcome: Outcome::Committee,
        en,
        ja,
    }
}

/// ` X: “definition”` to end an English reason (empty when DUO gives no definition).
fn defined_as(term: &Term) -> String {
    match &term.definition {
        Some(def) => format!(" {}: “{def}”", term.display_name()),
        None => String::new(),
    }
}

/// `X の定義：「...」` to end a Japanese reason, in Japanese when the translation has it.
fn defined_as_ja(term: &Term) -> String {
    match term.definition_ja.as_ref().or(term.definition.as_ref()) {
        Some(def) => format!("{} の定義：「{def}」", term.display_name()),
        None => String::new(),
    }
}

/// The checks of one match.
struct Matcher<'a> {
    o: &'a Ontology,
    condition: &'a DataUseCondition,
    purpose: &'a ResearchPurpose,
    context: &'a MatchContext<'a>,
}

impl Matcher<'_> {
    /// Turns the findings about one term into its line.
    fn line(&self, code: &str, role: TermRole, mut findings: Vec<Finding>) -> TermResult {
        if findings.is_empty() {
            findings.push(committee(
                "No rule applied to this term.".to_owned(),
                "この用語に適用できる規則がありません。".to_owned(),
            ));
        }
        let outcome = Outcome::combine(findings.iter().map(|f| f.outcome));
        let chosen: Vec<&Finding> = findings.iter().filter(|f| f.outcome == outcome).collect();
        let reason = chosen
            .iter()
            .map(|f| f.en.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let reason_ja = chosen.iter().map(|f| f.ja.as_str()).collect::<String>();
        let term = self.o.term(code);
        TermResult {
            term: term.map_or_else(|| code.to_owned(), |t| t.id.clone()),
            role,
            shorthand: term.and_then(|t| t.shorthand.clone()),
            label: term.map_or_else(|| "unknown term".to_owned(), |t| t.label.clone()),
            label_ja: term.and_then(|t| t.label_ja.clone()),
            outcome,
            reason,
            reason_ja,
        }
    }

    /// The term, or the finding that sends an unusable term to the committee.
    fn usable(&self, code: &str, kind: TermKind) -> Result<&Term, Finding> {
        let Some(term) = self.o.term(code) else {
            return Err(committee(
                format!(
                    "{code} is not a term of this DUO release, so it cannot be decided automatically."
                ),
                format!("{code} はこの版のDUOにない用語のため、自動判定できません。"),
            ));
        };
        let name = term.display_name();
        if term.obsolete {
            let (hint, hint_ja) = if term.id == ids::GRU_CC {
                (
                    " DUO split it into GRU (DUO:0000042) and CC (DUO:0000043).",
                    "DUOではGRU（DUO:0000042）とCC（DUO:0000043）に分割されました。",
                )
            } else {
                ("", "")
            };
            return Err(committee(
                format!(
                    "{name} is obsolete in DUO; the dataset's annotation must be reviewed.{hint}"
                ),
                format!(
                    "{name} はDUOで廃止された用語のため、データセットの注釈の見直しが必要です。{hint_ja}"
                ),
            ));
        }
        if term.kind != kind {
            return Err(match kind {
                TermKind::Permission => committee(
                    format!(
                        "{name} is not a data use permission (a subclass of DUO:0000001), so it cannot stand as the dataset's permission."
                    ),
                    format!(
                        "{name} はデータ利用許可（DUO:0000001の下位クラス）ではないため、データセットの許可として判定できません。"
                    ),
                ),
                TermKind::Modifier | TermKind::Other => committee(
                    format!(
                        "{name} is not a data use modifier (a subclass of DUO:0000017), so it cannot stand as a modifier."
                    ),
                    format!(
                        "{name} はデータ利用修飾子（DUO:0000017の下位クラス）ではないため、修飾子として判定できません。"
                    ),
                ),
            });
        }
        Ok(term)
    }

    /// Whether the purpose includes population origins or ancestry research.
    fn purpose_is_poa(&self) -> bool {
        self.purpose.population_origins_ancestry
            || self.o.is_a(self.purpose.primary.as_str(), ids::POA)
    }

    /// The findings about the dataset's permission term.
    fn permission(&self, code: &str) -> Vec<Finding> {
        let dataset = match self.usable(code, TermKind::Permission) {
            Ok(term) => term,
            Err(finding) => return vec![finding],
        };
        let dn = dataset.display_name();
        if dataset.id == ids::NRES {
            return vec![permit(
                format!("{dn} places no restriction on use."),
                format!("{dn} は利用に制限を設けていません。"),
            )];
        }
        let primary = self.purpose.primary.as_str();
        let approved = match self.o.term(primary) {
            Some(term) if !term.obsolete && term.kind == TermKind::Permission => term,
            other => {
                let name = other.map_or_else(|| primary.to_owned(), Term::display_name);
                return vec![committee(
                    format!(
                        "The approved purpose's primary term {name} is not a current data use permission of this DUO release, so it cannot be compared with {dn}; the committee must restate the purpose."
                    ),
                    format!(
                        "承認された研究目的の主用語 {name} はこの版のDUOの有効なデータ利用許可ではないため、{dn} と比較できません。委員会による研究目的の再記述が必要です。"
                    ),
                )];
            }
        };
        let pn = approved.display_name();
        let mut findings = Vec::new();
        let hierarchy_ok = if self.o.is_a(&approved.id, &dataset.id) {
            findings.push(permit(
                format!("The approved purpose {pn} is {dn} or a kind of it in DUO's hierarchy."),
                format!(
                    "承認された研究目的 {pn} は、DUOの階層で {dn} と同じかその下位に当たります。"
                ),
            ));
            true
        } else if dataset.id == ids::GRU && self.o.is_a(&approved.id, ids::POA) {
            // POA is asserted under DUO:0000001, not under GRU, but GRU's comment includes it.
            match dataset
                .comments
                .iter()
                .find(|c| c.contains("population origins or ancestry"))
            {
                Some(comment) => {
                    findings.push(permit(
                        format!("{pn} is not under {dn} in DUO's hierarchy, but DUO's comment on {dn} includes it: “{comment}”."),
                        format!("{pn} はDUOの階層では {dn} の下位ではありませんが、{dn} に付されたDUOの注記は集団の起源や祖先の研究を含むと明記しています。"),
                    ));
                    true
                }
                None => {
                    findings.push(committee(
                        format!("{pn} is not under {dn} in DUO's hierarchy, and this release's comment on {dn} does not say that it includes population origins or ancestry research."),
                        format!("{pn} はDUOの階層で {dn} の下位ではなく、この版の {dn} の注記も集団の起源や祖先の研究を含むとは述べていません。"),
                    ));
                    false
                }
            }
        } else {
            findings.push(deny(
                format!("The approved purpose {pn} is neither {dn} nor a kind of it in DUO's hierarchy.{}", defined_as(dataset)),
                format!("承認された研究目的 {pn} は、DUOの階層で {dn} の範囲に含まれません。{}", defined_as_ja(dataset)),
            ));
            false
        };
        if hierarchy_ok && self.purpose_is_poa() && self.o.is_a(&dataset.id, ids::HMB) {
            let hmb = self.o.term(ids::HMB).unwrap_or(dataset);
            findings.push(deny(
                format!("The purpose includes population origins or ancestry research, which {dn} does not include.{}", defined_as(hmb)),
                format!("研究目的に集団の起源や祖先の研究が含まれますが、{dn} はそれを含みません。{}", defined_as_ja(hmb)),
            ));
        }
        if hierarchy_ok && self.o.is_a(&dataset.id, ids::DS) {
            findings.push(self.disease());
        }
        let has_cc = self
            .condition
            .modifiers
            .iter()
            .any(|m| self.o.term(m.as_str()).is_some_and(|t| t.id == ids::CC));
        if self.purpose.clinical_care && !has_cc {
            findings.push(deny(
                format!("The use includes clinical care, which needs CC (DUO:0000043), and the dataset does not have it; {dn} allows research use."),
                format!("利用に診療が含まれますが、それにはCC（DUO:0000043）が必要で、このデータセットにはありません。{dn} は研究利用を許可するものです。"),
            ));
        }
        findings
    }

    /// The DS check: every disease of the purpose must be the dataset's disease or a subtype.
    fn disease(&self) -> Finding {
        let Some(allowed) = self
            .condition
            .disease
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        else {
            return committee(
                "The dataset's disease-specific permission names no disease.".to_owned(),
                "データセットの疾患特異的研究の許可に疾患が指定されていません。".to_owned(),
            );
        };
        let requested: Vec<&str> = self
            .purpose
            .diseases
            .iter()
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
            .collect();
        if requested.is_empty() {
            return committee(
                format!(
                    "The approved purpose names no disease to compare with the dataset's disease {allowed}."
                ),
                format!(
                    "承認された研究目的に、データセットの疾患 {allowed} と比較する疾患が指定されていません。"
                ),
            );
        }
        let mut outside = Vec::new();
        let mut undecided = Vec::new();
        for disease in &requested {
            let within = if *disease == allowed {
                Some(true)
            } else {
                self.context.diseases.disease_within(disease, allowed)
            };
            match within {
                Some(true) => {}
                Some(false) => outside.push(*disease),
                None => undecided.push(*disease),
            }
        }
        if !outside.is_empty() {
            let list = outside.join(", ");
            deny(
                format!("{list} is neither the dataset's disease {allowed} nor a subtype of it."),
                format!("{list} はデータセットの疾患 {allowed} でもその下位疾患でもありません。"),
            )
        } else if !undecided.is_empty() {
            let list = undecided.join(", ");
            committee(
                format!(
                    "The disease hierarchy cannot tell whether {list} is the dataset's disease {allowed} or a subtype of it."
                ),
                format!(
                    "{list} がデータセットの疾患 {allowed} またはその下位疾患かどうかを、疾患階層から判定できません。"
                ),
            )
        } else {
            let list = requested.join(", ");
            permit(
                format!(
                    "Every disease of the purpose ({list}) is the dataset's disease {allowed} or a subtype of it."
                ),
                format!(
                    "研究目的の疾患（{list}）はいずれもデータセットの疾患 {allowed} またはその下位疾患です。"
                ),
            )
        }
    }

    /// The findings about one modifier term.
    fn modifier(&self, code: &str) -> Vec<Finding> {
        let term = match self.usable(code, TermKind::Modifier) {
            Ok(term) => term,
            Err(finding) => return vec![finding],
        };
        let n = term.display_name();
        let p = self.purpose;
        let ctx = self.context;
        let def = defined_as(term);
        let def_ja = defined_as_ja(term);
        // An obligation the requester accepted or not: (accepted, fact if yes, fact if no).
        let flag = |ok: bool, yes: (&str, &str), no: (&str, &str)| {
            if ok {
                permit(yes.0.to_owned(), yes.1.to_owned())
            } else {
                deny(format!("{}{def}", no.0), format!("{}{def_ja}", no.1))
            }
        };
        let for_profit_use = || {
            flag(
                !p.for_profit,
                (
                    "The use is not for profit.",
                    "利用は営利目的ではありません。",
                ),
                ("The use is for profit.", "利用は営利目的です。"),
            )
        };
        let organisation = || match p.for_profit_organisation {
            Some(false) => permit(
                "The requester's organisation is not-for-profit.".to_owned(),
                "申請者の所属組織は非営利組織です。".to_owned(),
            ),
            Some(true) => deny(
                format!("The requester's organisation is for-profit.{def}"),
                format!("申請者の所属組織は営利組織です。{def_ja}"),
            ),
            None => committee(
                format!(
                    "The approval does not record whether the requester's organisation is for-profit, which {n} concerns."
                ),
                format!(
                    "申請者の所属組織が営利組織かどうかが承認記録になく、{n} を判定できません。"
                ),
            ),
        };
        match term.id.as_str() {
            ids::NCU => vec![for_profit_use()],
            ids::NPU => vec![organisation()],
            ids::NPUNCU => vec![for_profit_use(), organisation()],
            ids::GS => vec![self.country(term)],
            ids::IS => vec![listed(
                term,
                &p.institution,
                &ctx.allowed_institutions,
                ("institution", "所属機関"),
            )],
            ids::PS => vec![listed(
                term,
                &p.project,
                &ctx.allowed_projects,
                ("project", "プロジェクト"),
            )],
            ids::US => vec![listed(
                term,
                &p.user,
                &ctx.allowed_users,
                ("user", "利用者"),
            )],
            ids::IRB => vec![flag(
                p.has_ethics_approval,
                (
                    "Documentation of local IRB/ERB approval was provided.",
                    "倫理審査委員会の承認書類が提出されています。",
                ),
                (
                    "No documentation of local IRB/ERB approval was provided.",
                    "倫理審査委員会の承認書類が提出されていません。",
                ),
            )],
            ids::PUB => vec![flag(
                p.agrees_to_publish,
                (
                    "The requester agrees to make the results available to the scientific community.",
                    "申請者は研究成果を科学コミュニティに公開することに同意しています。",
                ),
                (
                    "The requester has not agreed to make the results available to the scientific community.",
                    "申請者は研究成果の公開に同意していません。",
                ),
            )],
            ids::RTN => vec![flag(
                p.agrees_to_return_results,
                (
                    "The requester agrees to return derived or enriched data to the resource.",
                    "申請者は派生・付加データをデータベース／リソースへ還元することに同意しています。",
                ),
                (
                    "The requester has not agreed to return derived or enriched data to the resource.",
                    "申請者は派生・付加データの還元に同意していません。",
                ),
            )],
            ids::COL => vec![flag(
                p.approved_collaboration,
                (
                    "The requester agreed to collaborate with the primary study investigators.",
                    "申請者は主研究者との共同研究に同意しています。",
                ),
                (
                    "The requester has not agreed to collaborate with the primary study investigators.",
                    "申請者は主研究者との共同研究に同意していません。",
                ),
            )],
            ids::TS => vec![flag(
                p.time_limit_ok,
                (
                    "The approved period of use is within the dataset's time limit.",
                    "承認された利用期間はデータセットの期間制限内です。",
                ),
                (
                    "The approved period of use is not within the dataset's time limit.",
                    "承認された利用期間がデータセットの期間制限を満たしていません。",
                ),
            )],
            ids::MOR => vec![flag(
                p.moratorium_ok,
                (
                    "The requester agrees not to publish before the moratorium date.",
                    "申請者は猶予期日まで結果を公表しないことに同意しています。",
                ),
                (
                    "The requester has not agreed to the publication moratorium.",
                    "申請者は出版猶予に同意していません。",
                ),
            )],
            ids::GSO => vec![flag(
                p.genetic_study,
                (
                    "The research is a genetic study (it includes genotype research).",
                    "研究は遺伝学研究（遺伝型の研究を含む）です。",
                ),
                (
                    "The research is not a genetic study (it is phenotype research only).",
                    "研究は遺伝学研究ではありません（表現型のみの研究）。",
                ),
            )],
            ids::NMDS => vec![flag(
                !p.methods_development,
                (
                    "The purpose does not include methods development.",
                    "研究目的に方法論の開発は含まれません。",
                ),
                (
                    "The purpose includes methods development.",
                    "研究目的に方法論の開発（ソフトウェアやアルゴリズムの開発など）が含まれます。",
                ),
            )],
            ids::NPOA => vec![flag(
                !self.purpose_is_poa(),
                (
                    "The purpose does not include population origins or ancestry research.",
                    "研究目的に集団の起源や祖先の研究は含まれません。",
                ),
                (
                    "The purpose includes population origins or ancestry research.",
                    "研究目的に集団の起源や祖先の研究が含まれます。",
                ),
            )],
            ids::CC => vec![permit(
                format!(
                    "{n} extends the permission to clinical use and care; it restricts nothing."
                ),
                format!("{n} は診療での利用を追加で許可する修飾子で、利用を制限しません。"),
            )],
            ids::RS => vec![committee(
                format!(
                    "{n} limits use to a research type (a topic) that the approval does not state, so the committee must compare them."
                ),
                format!(
                    "{n} は利用を特定の研究種別（トピック）に限定しますが、承認記録に研究種別がないため、委員会による比較が必要です。"
                ),
            )],
            _ => vec![committee(
                format!("The matcher has no rule for {n}, so it cannot be decided automatically."),
                format!("{n} を判定する規則がないため、自動判定できません。"),
            )],
        }
    }

    /// The GS check: the country of processing must be among the allowed countries.
    fn country(&self, term: &Term) -> Finding {
        let n = term.display_name();
        let code = |c: &str| {
            let c = c.trim().to_ascii_uppercase();
            (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())).then_some(c)
        };
        let allowed: Vec<String> = self
            .context
            .allowed_countries
            .iter()
            .filter_map(|c| code(c))
            .collect();
        if allowed.is_empty() {
            return committee(
                format!("The dataset gives no allowed countries for {n}."),
                format!("データセットに {n} の許可国が指定されていません。"),
            );
        }
        let list = allowed.join(", ");
        let Some(country) = code(&self.purpose.country) else {
            return committee(
                format!(
                    "The country of processing {:?} is not an ISO 3166-1 alpha-2 code.",
                    self.purpose.country
                ),
                format!(
                    "処理国「{}」はISO 3166-1 alpha-2コードではありません。",
                    self.purpose.country
                ),
            );
        };
        if allowed.contains(&country) {
            permit(
                format!("Processing in {country} is within the allowed countries ({list})."),
                format!("処理国 {country} は許可国（{list}）に含まれます。"),
            )
        } else {
            deny(
                format!(
                    "Processing in {country} is outside the allowed countries ({list}).{}",
                    defined_as(term)
                ),
                format!(
                    "処理国 {country} は許可国（{list}）に含まれません。{}",
                    defined_as_ja(term)
                ),
            )
        }
    }
}

/// The IS, PS and US check: the requester's id must be on the dataset's list.
fn listed(term: &Term, value: &str, allowed: &[String], what: (&str, &str)) -> Finding {
    let n = term.display_name();
    let (en, ja) = what;
    let allowed: Vec<&str> = allowed
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    if allowed.is_empty() {
        return committee(
            format!("The dataset names no approved {en} for {n}."),
            format!("データセットに {n} の承認済み{ja}が指定されていません。"),
        );
    }
    let value = value.trim();
    if value.is_empty() {
        return committee(
            format!("The approval names no {en}."),
            format!("承認記録に{ja}が指定されていません。"),
        );
    }
    let list = allowed.join(", ");
    if allowed.contains(&value) {
        permit(
            format!("The {en} {value} is approved ({list})."),
            format!("{ja} {value} は承認済みです（{list}）。"),
        )
    } else {
        deny(
            format!(
                "The {en} {value} is not approved ({list}).{}",
                defined_as(term)
            ),
            format!(
                "{ja} {value} は承認されていません（{list}）。{}",
                defined_as_ja(term)
            ),
        )
    }
}
