//! The Beacon index: the clinical catalogue of one catalogue epoch held in memory as roaring
//! bitmaps of participant ordinals (the same ordinals as the variant index's carrier
//! bitmaps), so that a filter is a bitmap, a query is an intersection, and a variant's carriers
//! intersect with both without another store read.
//!
//! What it answers:
//! - which participants each dataset holds ([`BeaconIndex::dataset_members`]);
//! - which participants a Beacon filter selects ([`BeaconIndex::filter`]): ICD-10 codes with
//!   their hierarchy (`ICD10:C34` selects `C34.1`), HPO terms with their descendants (from
//!   the HPO ontology), sex (NCIT terms, or the alphanumeric field `sex`), the enrolling
//!   program (custom terms `gemj:program:<name>`, or the alphanumeric field `program`) and
//!   year of birth (the alphanumeric field `yearOfBirth` with `=`, `<`, `>`, `<=`, `>=`, `!`);
//! - which filtering terms occur among given participants ([`BeaconIndex::terms_present`]).
//!
//! Only observed phenotypes are indexed: an excluded phenotype is a finding of absence, never
//! a match for the term.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gemj_beacon::{BeaconError, EntryType, ErrorKind, Filter, FilterKind, Operator, Similarity};
use gemj_model::{
    Analysis, Dataset, Participant, ParticipantId, PhenotypeStatus, Program, SequencingRun, Sex,
    Specimen,
};
use gemj_ontology::hpo::Ontology as Hpo;
use gemj_store::CatalogueSnapshot;
use roaring::RoaringBitmap;

/// NCIT terms for sex, as Beacon v2 implementations use them.
pub const SEX_TERMS: [(&str, &str, Sex); 4] = [
    ("NCIT:C16576", "female", Sex::Female),
    ("NCIT:C20197", "male", Sex::Male),
    ("NCIT:C17998", "unknown", Sex::Unknown),
    ("NCIT:C17649", "other sex", Sex::Other),
];

/// The programs as custom filtering terms.
pub const PROGRAM_TERMS: [(&str, &str, Program); 3] = [
    (
        "gemj:program:cancer",
        "GeMJ cancer program",
        Program::Cancer,
    ),
    (
        "gemj:program:rare_disease",
        "GeMJ rare and intractable disease program",
        Program::RareDisease,
    ),
    ("gemj:program:biobank", "Linked biobank", Program::Biobank),
];

/// The alphanumeric fields a filter may compare.
pub const ALPHANUMERIC_FIELDS: [&str; 3] = ["sex", "program", "yearOfBirth"];

/// One indexed participant.
#[derive(Debug, Clone)]
pub struct Person {
    /// The participant.
    pub participant: Participant,
    /// Its bitmap ordinal.
    pub ordinal: u32,
    /// Its diagnoses' ICD-10 codes (dotted), sorted.
    pub icd10: Vec<String>,
    /// Its observed HPO terms, sorted.
    pub hpo: Vec<String>,
}

/// One dataset with its members.
#[derive(Debug, Clone)]
pub struct IndexedDataset {
    /// The dataset.
    pub dataset: Arc<Dataset>,
    /// Its participants' ordinals.
    pub members: RoaringBitmap,
}

/// The index of one catalogue epoch. Immutable: a new epoch builds a new one.
#[derive(Debug)]
pub struct BeaconIndex {
    /// The catalogue epoch it was built at.
    pub epoch: i64,
    people: Vec<Person>,
    by_ordinal: HashMap<u32, usize>,
    by_id: HashMap<ParticipantId, usize>,
    datasets: Vec<IndexedDataset>,
    /// Parsed once here, not at each query's walk over them.
    icd10: BTreeMap<gemj_ontology::icd10::Icd10, RoaringBitmap>,
    hpo: BTreeMap<String, RoaringBitmap>,
    sex: HashMap<Sex, RoaringBitmap>,
    program: HashMap<Program, RoaringBitmap>,
    all: RoaringBitmap,
    ontology: Option<Arc<Hpo>>,
    specimens: Vec<Specimen>,
    specimens_of: HashMap<u32, Vec<usize>>,
    /// Specimen id to bitmap ordinal (its place in variant rows' call bitmaps).
    specimen_ordinals: HashMap<String, u32>,
    /// Specimen id to the specimens derived from it (by `parent`).
    derived: HashMap<String, Vec<usize>>,
    runs: Vec<SequencingRun>,
    runs_of: HashMap<String, Vec<usize>>,
    analyses: Vec<Analysis>,
    analyses_of_run: HashMap<String, Vec<usize>>,
}

fn invalid(message: String) -> BeaconError {
    BeaconError::bad_request(ErrorKind::InvalidValue, message)
}

fn unknown_filter(id: &str) -> BeaconError {
    BeaconError::bad_request(
        ErrorKind::InvalidValue,
        format!("unknown filter `{id}`: see /filtering_terms for the terms this beacon knows"),
    )
}

impl BeaconIndex {
    /// Builds the index from a snapshot, with the HPO ontology for descendant expansion
    /// (without it, HPO filters match their exact term only and say so in `/info`).
    #[must_use]
    pub fn build(snapshot: CatalogueSnapshot, ontology: Option<Arc<Hpo>>) -> Self {
        let mut people: Vec<Person> = snapshot
            .participants
            .into_iter()
            .map(|(participant, ordinal)| Person {
                participant,
                ordinal,
                icd10: Vec::new(),
                hpo: Vec::new(),
            })
            .collect();
        people.sort_by(|a, b| a.participant.id.cmp(&b.participant.id));
        let by_id: HashMap<ParticipantId, usize> = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.participant.id.clone(), i))
            .collect();
        let by_ordinal = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.ordinal, i))
            .collect();
        let mut icd10: BTreeMap<gemj_ontology::icd10::Icd10, RoaringBitmap> = BTreeMap::new();
        for d in &snapshot.diagnoses {
            if let Some(&i) = by_id.get(&d.participant) {
                // The model's codes are the ontology's (a letter, two characters and at most
                // four more), so each parses.
                if let Some(code) = gemj_ontology::icd10::Icd10::parse(d.icd10.as_str()) {
                    icd10.entry(code).or_default().insert(people[i].ordinal);
                }
                people[i].icd10.push(d.icd10.as_str().to_owned());
            }
        }
        let mut hpo: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
        for p in &snapshot.phenotypes {
            if p.status != PhenotypeStatus::Observed {
                continue;
            }
            if let Some(&i) = by_id.get(&p.participant) {
                let term = p.hpo.as_str().to_owned();
                hpo.entry(term.clone())
                    .or_default()
                    .insert(people[i].ordinal);
                people[i].hpo.push(term);
            }
        }
        let mut sex: HashMap<Sex, RoaringBitmap> = HashMap::new();
        let mut program: HashMap<Program, RoaringBitmap> = HashMap::new();
        let mut all = RoaringBitmap::new();
        for p in &mut people {
            p.icd10.sort();
            p.icd10.dedup();
            p.hpo.sort();
            p.hpo.dedup();
            sex.entry(p.participant.sex).or_default().insert(p.ordinal);
            program
                .entry(p.participant.program)
                .or_default()
                .insert(p.ordinal);
            all.insert(p.ordinal);
        }
        let mut members: HashMap<String, RoaringBitmap> = HashMap::new();
        for (dataset, participant) in &snapshot.dataset_participants {
            if let Some(&i) = by_id.get(participant) {
                members
                    .entry(dataset.clone())
                    .or_default()
                    .insert(people[i].ordinal);
            }
        }
        let mut datasets: Vec<IndexedDataset> = snapshot
            .datasets
            .into_iter()
            .map(|d| IndexedDataset {
                members: members.remove(d.id.as_str()).unwrap_or_default(),
                dataset: Arc::new(d),
            })
            .collect();
        datasets.sort_by(|a, b| a.dataset.id.cmp(&b.dataset.id));
        let mut specimens = snapshot.specimens;
        specimens.sort_by(|a, b| a.id.cmp(&b.id));
        let mut specimens_of: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, s) in specimens.iter().enumerate() {
            if let Some(&p) = by_id.get(&s.participant) {
                specimens_of.entry(people[p].ordinal).or_default().push(i);
            }
        }
        let mut derived: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in specimens.iter().enumerate() {
            if let Some(parent) = &s.parent {
                derived
                    .entry(parent.as_str().to_owned())
                    .or_default()
                    .push(i);
            }
        }
        let specimen_ordinals = snapshot.specimen_ordinals;
        let mut runs = snapshot.runs;
        runs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut runs_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in runs.iter().enumerate() {
            runs_of
                .entry(r.specimen.as_str().to_owned())
                .or_default()
                .push(i);
        }
        let mut analyses = snapshot.analyses;
        analyses.sort_by(|a, b| a.id.cmp(&b.id));
        let mut analyses_of_run: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, a) in analyses.iter().enumerate() {
            for r in &a.runs {
                analyses_of_run
                    .entry(r.as_str().to_owned())
                    .or_default()
                    .push(i);
            }
        }
        Self {
            epoch: snapshot.epoch,
            people,
            by_ordinal,
            by_id,
            datasets,
            icd10,
            hpo,
            sex,
            program,
            all,
            ontology,
            specimens,
            specimens_of,
            specimen_ordinals,
            derived,
            runs,
            runs_of,
            analyses,
            analyses_of_run,
        }
    }

    /// A participant's specimens, ordered by id.
    #[must_use]
    pub fn specimens_of(&self, ordinal: u32) -> Vec<&Specimen> {
        self.specimens_of
            .get(&ordinal)
            .map(|v| v.iter().map(|&i| &self.specimens[i]).collect())
            .unwrap_or_default()
    }

    /// The ordinals of the specimens whose calls a route's biosample, run or analysis covers: a
    /// biosample and the specimens derived from it (a tumour's DNA extract), a run's specimen,
    /// the specimens of an analysis' runs. `None` for other entry types; an unknown id covers
    /// nothing.
    #[must_use]
    pub fn calls_of(&self, entry_type: EntryType, id: &str) -> Option<RoaringBitmap> {
        let mut roots: Vec<&str> = Vec::new();
        match entry_type {
            EntryType::Biosample => roots.push(id),
            EntryType::Run => roots.extend(self.run(id).map(|r| r.specimen.as_str())),
            EntryType::Analysis => {
                for run in self
                    .analysis(id)
                    .map(|a| a.runs.as_slice())
                    .unwrap_or_default()
                {
                    roots.extend(self.run(run.as_str()).map(|r| r.specimen.as_str()));
                }
            }
            _ => return None,
        }
        let mut out = RoaringBitmap::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        while let Some(specimen) = roots.pop() {
            if !seen.insert(specimen) {
                continue;
            }
            if let Some(&ordinal) = self.specimen_ordinals.get(specimen) {
                out.insert(ordinal);
            }
            for &child in self
                .derived
                .get(specimen)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                roots.push(self.specimens[child].id.as_str());
            }
        }
        Some(out)
    }

    /// A specimen's bitmap ordinal (its place in variant rows' call bitmaps).
    #[must_use]
    pub fn specimen_ordinal(&self, id: &str) -> Option<u32> {
        self.specimen_ordinals.get(id).copied()
    }

    /// A specimen by id.
    #[must_use]
    pub fn specimen(&self, id: &str) -> Option<&Specimen> {
        self.specimens
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.specimens[i])
    }

    /// The ordinal of the participant a specimen was taken from.
    #[must_use]
    pub fn specimen_owner(&self, id: &str) -> Option<u32> {
        let s = self.specimen(id)?;
        self.by_id
            .get(&s.participant)
            .map(|&i| self.people[i].ordinal)
    }

    /// A specimen's sequencing runs.
    #[must_use]
    pub fn runs_of(&self, specimen: &str) -> Vec<&SequencingRun> {
        self.runs_of
            .get(specimen)
            .map(|v| v.iter().map(|&i| &self.runs[i]).collect())
            .unwrap_or_default()
    }

    /// A sequencing run by id.
    #[must_use]
    pub fn run(&self, id: &str) -> Option<&SequencingRun> {
        self.runs
            .binary_search_by(|r| r.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.runs[i])
    }

    /// The ordinal of the participant a run sequenced.
    #[must_use]
    pub fn run_owner(&self, id: &str) -> Option<u32> {
        self.specimen_owner(self.run(id)?.specimen.as_str())
    }

    /// The analyses a run is an input of.
    #[must_use]
    pub fn analyses_of_run(&self, run: &str) -> Vec<&Analysis> {
        self.analyses_of_run
            .get(run)
            .map(|v| v.iter().map(|&i| &self.analyses[i]).collect())
            .unwrap_or_default()
    }

    /// An analysis by id.
    #[must_use]
    pub fn analysis(&self, id: &str) -> Option<&Analysis> {
        self.analyses
            .binary_search_by(|a| a.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.analyses[i])
    }

    /// The ordinals of the participants an analysis used runs of.
    #[must_use]
    pub fn analysis_owners(&self, id: &str) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .analysis(id)
            .map(|a| {
                a.runs
                    .iter()
                    .filter_map(|r| self.run_owner(r.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The HPO label of a term, when the ontology is loaded.
    #[must_use]
    pub fn hpo_label(&self, term: &str) -> Option<String> {
        self.ontology
            .as_ref()
            .and_then(|o| o.label(term))
            .map(str::to_owned)
    }

    /// The datasets, ordered by id.
    #[must_use]
    pub fn datasets(&self) -> &[IndexedDataset] {
        &self.datasets
    }

    /// A dataset by id.
    #[must_use]
    pub fn dataset(&self, id: &str) -> Option<&IndexedDataset> {
        self.datasets
            .binary_search_by(|d| d.dataset.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.datasets[i])
    }

    /// The members of a dataset (empty when unknown).
    #[must_use]
    pub fn dataset_members(&self, id: &str) -> RoaringBitmap {
        self.dataset(id)
            .map(|d| d.members.clone())
            .unwrap_or_default()
    }

    /// A participant by ordinal.
    #[must_use]
    pub fn person(&self, ordinal: u32) -> Option<&Person> {
        self.by_ordinal.get(&ordinal).map(|&i| &self.people[i])
    }

    /// A participant by id.
    #[must_use]
    pub fn person_by_id(&self, id: &str) -> Option<&Person> {
        let id = ParticipantId::parse(id).ok()?;
        self.by_id.get(&id).map(|&i| &self.people[i])
    }

    /// Every indexed participant, ordered by id.
    #[must_use]
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// Whether HPO filters are expanded through the ontology.
    #[must_use]
    pub fn has_ontology(&self) -> bool {
        self.ontology.is_some()
    }

    /// The participants all `filters` select (AND); every participant when there is none.
    ///
    /// # Errors
    /// A `beaconErrorResponse`-ready 400 for an unknown term or field, an operator the field
    /// does not take, or a malformed value.
    pub fn filter_all(&self, filters: &[Filter]) -> Result<RoaringBitmap, BeaconError> {
        let mut out = self.all.clone();
        for f in filters {
            out &= self.filter(f)?;
        }
        Ok(out)
    }

    /// The participants one filter selects.
    ///
    /// # Errors
    /// As [`BeaconIndex::filter_all`].
    pub fn filter(&self, filter: &Filter) -> Result<RoaringBitmap, BeaconError> {
        if let Some(scope) = filter.scope
            && scope != gemj_beacon::EntryType::Individual
        {
            return Err(invalid(format!(
                "filter `{}`: filters scoped to `{}` are not supported; this beacon filters individuals",
                filter.id,
                scope.id()
            )));
        }
        match &filter.kind {
            FilterKind::Ontology {
                similarity,
                include_descendant_terms,
            } => self.ontology_filter(&filter.id, *similarity, *include_descendant_terms),
            FilterKind::Alphanumeric { operator, value } => {
                self.alphanumeric_filter(&filter.id, *operator, value)
            }
            FilterKind::Custom => PROGRAM_TERMS
                .iter()
                .find(|(id, _, _)| *id == filter.id)
                .map(|(_, _, p)| self.program.get(p).cloned().unwrap_or_default())
                .ok_or_else(|| unknown_filter(&filter.id)),
        }
    }

    fn ontology_filter(
        &self,
        id: &str,
        similarity: Similarity,
        descendants: bool,
    ) -> Result<RoaringBitmap, BeaconError> {
        if let Some((_, _, sex)) = SEX_TERMS.iter().find(|(t, _, _)| *t == id) {
            return Ok(self.sex.get(sex).cloned().unwrap_or_default());
        }
        if let Some(code) = id.strip_prefix("ICD10:") {
            return self.icd10_filter(id, code, similarity, descendants);
        }
        if id.starts_with("HP:") {
            return self.hpo_filter(id, similarity, descendants);
        }
        Err(unknown_filter(id))
    }

    fn icd10_filter(
        &self,
        id: &str,
        code: &str,
        similarity: Similarity,
        descendants: bool,
    ) -> Result<RoaringBitmap, BeaconError> {
        use gemj_ontology::icd10::Icd10;
        let parsed = Icd10::parse(code)
            .ok_or_else(|| invalid(format!("filter `{id}`: `{code}` is not an ICD-10 code")))?;
        // Similarity widens to the three-character category (the only level the code's own
        // structure gives); `exact` keeps the term.
        let term = if similarity == Similarity::Exact {
            parsed
        } else {
            Icd10::parse(parsed.category()).unwrap_or(parsed)
        };
        let mut out = RoaringBitmap::new();
        for (stored, members) in &self.icd10 {
            let hit = if descendants {
                stored.within(&term)
            } else {
                *stored == term
            };
            if hit {
                out |= members;
            }
        }
        Ok(out)
    }

    fn hpo_filter(
        &self,
        id: &str,
        similarity: Similarity,
        descendants: bool,
    ) -> Result<RoaringBitmap, BeaconError> {
        let Some(hpo) = &self.ontology else {
            if !descendants && similarity == Similarity::Exact {
                return Ok(self.hpo.get(id).cloned().unwrap_or_default());
            }
            return Err(BeaconError::bad_request(
                ErrorKind::InvalidValue,
                format!(
                    "filter `{id}`: the HPO ontology is not loaded, so only exact terms without descendants are answered"
                ),
            ));
        };
        let Some(term) = hpo.resolve(id) else {
            return Err(unknown_filter(id));
        };
        // Similarity climbs is_a links: high one level, medium two, low three.
        let steps = match similarity {
            Similarity::Exact => 0,
            Similarity::High => 1,
            Similarity::Medium => 2,
            Similarity::Low => 3,
        };
        let mut roots: BTreeSet<String> = BTreeSet::from([term.to_owned()]);
        for _ in 0..steps {
            let mut up = BTreeSet::new();
            for r in &roots {
                up.extend(hpo.parents(r).map(str::to_owned));
            }
            if up.is_empty() {
                break;
            }
            roots = up;
        }
        let mut terms: BTreeSet<String> = BTreeSet::new();
        for r in &roots {
            if descendants {
                terms.extend(hpo.descendants(r).into_iter().map(str::to_owned));
            } else {
                terms.insert(r.clone());
            }
        }
        let mut out = RoaringBitmap::new();
        for t in &terms {
            if let Some(m) = self.hpo.get(t) {
                out |= m;
            }
        }
        Ok(out)
    }

    fn alphanumeric_filter(
        &self,
        id: &str,
        operator: Operator,
        value: &str,
    ) -> Result<RoaringBitmap, BeaconError> {
        let equality = |op: Operator, hit: RoaringBitmap| -> Result<RoaringBitmap, BeaconError> {
            match op {
                Operator::Equal => Ok(hit),
                Operator::NotEqual => Ok(&self.all - &hit),
                other => Err(invalid(format!(
                    "filter `{id}`: operator `{other}` does not apply to a category (use = or !)"
                ))),
            }
        };
        match id {
            "sex" => {
                let sex = [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown]
                    .into_iter()
                    .find(|s| s.as_str().eq_ignore_ascii_case(value))
                    .ok_or_else(|| {
                        invalid(format!(
                            "filter `sex`: `{value}` is not one of female, male, other, unknown"
                        ))
                    })?;
                equality(operator, self.sex.get(&sex).cloned().unwrap_or_default())
            }
            "program" => {
                let program = [Program::Cancer, Program::RareDisease, Program::Biobank]
                    .into_iter()
                    .find(|p| p.as_str().eq_ignore_ascii_case(value))
                    .ok_or_else(|| {
                        invalid(format!(
                            "filter `program`: `{value}` is not one of cancer, rare_disease, biobank"
                        ))
                    })?;
                equality(
                    operator,
                    self.program.get(&program).cloned().unwrap_or_default(),
                )
            }
            "yearOfBirth" => {
                let year: i32 = value.trim().parse().map_err(|_| {
                    invalid(format!("filter `yearOfBirth`: `{value}` is not a year"))
                })?;
                let mut out = RoaringBitmap::new();
                for p in &self.people {
                    let Some(birth) = p.participant.birth else {
                        continue;
                    };
                    let y = birth.year();
                    let hit = match operator {
                        Operator::Equal => y == year,
                        Operator::NotEqual => y != year,
                        Operator::Less => y < year,
                        Operator::LessOrEqual => y <= year,
                        Operator::Greater => y > year,
                        Operator::GreaterOrEqual => y >= year,
                    };
                    if hit {
                        out.insert(p.ordinal);
                    }
                }
                Ok(out)
            }
            _ => Err(unknown_filter(id)),
        }
    }

    /// The filtering terms that occur among `visible` participants: ICD-10 codes, observed
    /// HPO terms (labelled from the ontology), sexes and programs, each with how many of the
    /// visible participants carry it (for callers to apply their own small-cell rules).
    #[must_use]
    pub fn terms_present(&self, visible: &RoaringBitmap) -> Vec<PresentTerm> {
        let mut out = Vec::new();
        for (code, members) in &self.icd10 {
            let n = members.intersection_len(visible);
            if n > 0 {
                out.push(PresentTerm {
                    id: format!("ICD10:{}", code.as_str()),
                    label: None,
                    ontology: "ICD10",
                    participants: n,
                });
            }
        }
        for (term, members) in &self.hpo {
            let n = members.intersection_len(visible);
            if n > 0 {
                out.push(PresentTerm {
                    id: term.clone(),
                    label: self
                        .ontology
                        .as_ref()
                        .and_then(|o| o.label(term))
                        .map(str::to_owned),
                    ontology: "HP",
                    participants: n,
                });
            }
        }
        for (id, label, sex) in SEX_TERMS {
            let n = self
                .sex
                .get(&sex)
                .map_or(0, |m| m.intersection_len(visible));
            if n > 0 {
                out.push(PresentTerm {
                    id: id.to_owned(),
                    label: Some(label.to_owned()),
                    ontology: "NCIT",
                    participants: n,
                });
            }
        }
        for (id, label, program) in PROGRAM_TERMS {
            let n = self
                .program
                .get(&program)
                .map_or(0, |m| m.intersection_len(visible));
            if n > 0 {
                out.push(PresentTerm {
                    id: id.to_owned(),
                    label: Some(label.to_owned()),
                    ontology: "gemj",
                    participants: n,
                });
            }
        }
        out
    }
}

/// A filtering term found in the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentTerm {
    /// The term id (`ICD10:C34.1`, `HP:0001250`, `NCIT:C16576`, `gemj:program:cancer`).
    pub id: String,
    /// Its label, when known.
    pub label: Option<String>,
    /// The ontology prefix (`ICD10`, `HP`, `NCIT`) or `gemj` for custom terms.
    pub ontology: &'static str,
    /// How many of the visible participants carry it.
    pub participants: u64,
}
