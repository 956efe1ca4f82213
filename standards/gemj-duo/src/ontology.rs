//! DUO terms as a release states them: ids, shorthands, English and Japanese labels,
//! definitions, comments, named parents (`rdfs:subClassOf`), and whether a term is a data use
//! permission or a data use modifier. Read from the release's RDF/XML (`duo.owl`) and, optionally,
//! the GEM Japan translation (`duo-japanese.owl`), both passed in as text.
//!
//! Terms are keyed by `oboInOwl:id`, never by IRI fragment: the 2021-02-23 release spells NPOA's
//! IRI `DUO_00000044` (eight digits) while its id is `DUO:0000044`. The Japanese file annotates
//! IRIs, which are mapped to ids through the release.
//!
//! Invariant: no reasoning beyond the transitive closure of named `rdfs:subClassOf` parents; OWL
//! restrictions (such as DS's `DUO:0000010 some MONDO:0000001`) are kept as data, not reasoned on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::error::{Document, DuoError};
use crate::ids::{self, normalize_id};
use crate::xml::{self, Element, XML_NS};

const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const RDFS_NS: &str = "http://www.w3.org/2000/01/rdf-schema#";
const OWL_NS: &str = "http://www.w3.org/2002/07/owl#";
const OBO_NS: &str = "http://purl.obolibrary.org/obo/";
const OBO_IN_OWL_NS: &str = "http://www.geneontology.org/formats/oboInOwl#";
/// IAO:0000115 "definition", the OBO definition annotation.
const DEFINITION: &str = "IAO_0000115";

/// What a term is for, by its place under the two DUO roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TermKind {
    /// A proper subclass of DUO:0000001 data use permission (NRES, GRU, HMB, DS, POA).
    Permission,
    /// A proper subclass of DUO:0000017 data use modifier (NCU, IRB, GS, ...).
    Modifier,
    /// Anything else: the two roots themselves, obsolete terms, and the investigation classes
    /// (DUO:0000031..40) that are not used to annotate datasets.
    Other,
}

/// An existential restriction on a term (`rdfs:subClassOf [owl:onProperty P;
/// owl:someValuesFrom C]`), for example DS's `DUO:0000010 some MONDO:0000001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Restriction {
    /// The property, as a CURIE where one applies (`DUO:0000010` "is restricted to").
    pub property: String,
    /// The filler class, as a CURIE where one applies (`MONDO:0000001` "disease").
    pub filler: String,
}

/// One DUO term.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Term {
    /// The id, `DUO:` and seven digits (from `oboInOwl:id`).
    pub id: String,
    /// The class IRI as written in the release.
    pub iri: String,
    /// The shorthand (`oboInOwl:shorthand`), e.g. `GRU`; the roots have none.
    pub shorthand: Option<String>,
    /// The English label (`rdfs:label`), or the id when the release gives none.
    pub label: String,
    /// The Japanese label (`rdfs:label` with `xml:lang="ja"`), when a translation gives one.
    pub label_ja: Option<String>,
    /// The English definition (IAO:0000115).
    pub definition: Option<String>,
    /// The Japanese definition, when a translation gives one.
    pub definition_ja: Option<String>,
    /// English comments (`rdfs:comment`), in document order.
    pub comments: Vec<String>,
    /// Named parents (`rdfs:subClassOf`): DUO ids, other OBO classes as CURIEs
    /// (`IAO:0000027`), `oboInOwl:ObsoleteClass`, or a full IRI.
    pub parents: Vec<String>,
    /// Existential restrictions among the superclasses.
    pub restrictions: Vec<Restriction>,
    /// Whether the term is obsolete (`owl:deprecated true` or a subclass of
    /// `oboInOwl:ObsoleteClass`; the release marks GRU-CC and RU only the second way).
    pub obsolete: bool,
    /// Permission, modifier or other.
    pub kind: TermKind,
}

impl Term {
    /// `GRU (DUO:0000042)`, or the label and id when the term has no shorthand.
    #[must_use]
    pub fn display_name(&self) -> String {
        match &self.shorthand {
            Some(short) => format!("{short} ({})", self.id),
            None => format!("{} ({})", self.label, self.id),
        }
    }
}

/// The DUO release shipped with the project: `<workspace>/ontologies/duo/duo.owl` (release
/// 2021-02-23, CC BY 4.0; see `ontologies/duo/PROVENANCE.md`).
pub const BUNDLED_OWL: &str = include_str!("../../../ontologies/duo/duo.owl");

/// The GEM Japan translation shipped with the project: `ontologies/duo/duo-japanese.owl`.
pub const BUNDLED_JAPANESE_OWL: &str = include_str!("../../../ontologies/duo/duo-japanese.owl");

/// The DUO terms of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ontology {
    terms: BTreeMap<String, Term>,
    version_iri: Option<String>,
    warnings: Vec<String>,
}

impl Ontology {
    /// The DUO release shipped with the project ([`BUNDLED_OWL`], release 2021-02-23) with its
    /// Japanese translation ([`BUNDLED_JAPANESE_OWL`]), compiled into the binary.
    ///
    /// # Errors
    ///
    /// As [`Ontology::parse`]; the shipped files parse (tested).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), gemj_duo::DuoError> {
    /// let duo = gemj_duo::Ontology::bundled()?;
    /// assert!(duo.term("DUO:0000006").is_some_and(|t| t.label_ja.is_some()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn bundled() -> Result<Self, DuoError> {
        Self::parse(BUNDLED_OWL, Some(BUNDLED_JAPANESE_OWL))
    }

    /// Reads a DUO release (`duo.owl`, RDF/XML) and, when given, the Japanese translation
    /// (`duo-japanese.owl`) for Japanese labels and definitions.
    ///
    /// Every `owl:Class` (or node with `rdf:type owl:Class`) whose `oboInOwl:id`, or failing
    /// that whose IRI, is a DUO id becomes a term. Oddities that leave a usable ontology are
    /// recorded in [`warnings`](Self::warnings) instead of failing.
    ///
    /// # Errors
    ///
    /// [`DuoError::Xml`] when either text is not well-formed XML, [`DuoError::NotRdf`] when its
    /// root is not `rdf:RDF`, [`DuoError::NoTerms`] when the release has no DUO class, and
    /// [`DuoError::MissingRoot`] when it lacks DUO:0000001 or DUO:0000017.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), gemj_duo::DuoError> {
    /// let owl = r#"<?xml version="1.0"?>
    /// <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    ///          xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
    ///          xmlns:owl="http://www.w3.org/2002/07/owl#"
    ///          xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
    ///   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000001">
    ///     <rdfs:label xml:lang="en">data use permission</rdfs:label>
    ///   </owl:Class>
    ///   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000017">
    ///     <rdfs:label xml:lang="en">data use modifier</rdfs:label>
    ///   </owl:Class>
    ///   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000042">
    ///     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000001"/>
    ///     <oboInOwl:id>DUO:0000042</oboInOwl:id>
    ///     <oboInOwl:shorthand>GRU</oboInOwl:shorthand>
    ///     <rdfs:label xml:lang="en">general research use</rdfs:label>
    ///   </owl:Class>
    /// </rdf:RDF>"#;
    /// let japanese = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    ///          xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
    ///   <rdf:Description rdf:about="http://purl.obolibrary.org/obo/DUO_0000042">
    ///     <rdfs:label xml:lang="ja">一般研究利用</rdfs:label>
    ///   </rdf:Description>
    /// </rdf:RDF>"#;
    /// let duo = gemj_duo::Ontology::parse(owl, Some(japanese))?;
    /// let gru = duo.term("DUO:0000042").expect("GRU");
    /// assert_eq!(gru.shorthand.as_deref(), Some("GRU"));
    /// assert_eq!(gru.label_ja.as_deref(), Some("一般研究利用"));
    /// assert_eq!(gru.kind, gemj_duo::TermKind::Permission);
    /// # Ok(())
    /// # }
    /// ```
    pub fn parse(duo_owl: &str, japanese_owl: Option<&str>) -> Result<Self, DuoError> {
        let root = read_rdf(duo_owl, Document::Duo)?;
        let mut warnings = Vec::new();
        let (subjects, version_iri) = subjects(&root);

        let mut terms: BTreeMap<String, Term> = BTreeMap::new();
        let mut iri_to_id: BTreeMap<String, String> = BTreeMap::new();
        for (iri, subject) in &subjects {
            if !subject.is_class {
                continue;
            }
            let from_iri = normalize_id(&curie(iri));
            let from_annotation = subject.ids.iter().find_map(|id| normalize_id(id));
            let id = match (from_annotation, from_iri) {
                (Some(id), _) => id,
                (None, Some(id)) => {
                    warnings.push(format!(
                        "class {iri} has no DUO oboInOwl:id; its id {id} is taken from the IRI"
                    ));
                    id
                }
                (None, None) => continue,
            };
            if curie(iri) != id && iri.starts_with(OBO_NS) {
                warnings.push(format!(
                    "class {iri} is {id} by its oboInOwl:id; the IRI spells the id differently"
                ));
            }
            if terms.contains_key(&id) {
                warnings.push(format!(
                    "class {iri} repeats the id {id}; the first class with it is kept"
                ));
                continue;
            }
            iri_to_id.insert(iri.clone(), id.clone());
            terms.insert(id.clone(), subject.to_term(id, iri));
        }
        if terms.is_empty() {
            return Err(DuoError::NoTerms);
        }
        for root_id in [ids::DATA_USE_PERMISSION, ids::DATA_USE_MODIFIER] {
            if !terms.contains_key(root_id) {
                return Err(DuoError::MissingRoot { id: root_id });
            }
        }
        // Parents by id: DUO parents through the release's own IRI-to-id map.
        for (iri, id) in &iri_to_id {
            let Some(subject) = subjects.get(iri) else {
                continue;
            };
            let parents: Vec<String> = subject
                .parents
                .iter()
                .map(|p| iri_to_id.get(p).cloned().unwrap_or_else(|| curie(p)))
                .collect();
            let restrictions = subject
                .restrictions
                .iter()
                .map(|(property, filler)| Restriction {
                    property: iri_to_id
                        .get(property)
                        .cloned()
                        .unwrap_or_else(|| curie(property)),
                    filler: iri_to_id
                        .get(filler)
                        .cloned()
                        .unwrap_or_else(|| curie(filler)),
                })
                .collect();
            if let Some(term) = terms.get_mut(id) {
                term.obsolete |= parents.iter().any(|p| p == "oboInOwl:ObsoleteClass");
                term.parents = parents;
                term.restrictions = restrictions;
            }
        }
        let mut ontology = Self {
            terms,
            version_iri,
            warnings,
        };
        ontology.classify();
        if let Some(text) = japanese_owl {
            ontology.add_japanese(text, &iri_to_id)?;
        }
        Ok(ontology)
    }

    /// The term with this id (`DUO:0000042`; `DUO_0000042` and the eight-digit spelling
    /// `DUO:00000044` are accepted too).
    ///
    /// # Examples
    ///
    /// See [`Ontology::parse`].
    #[must_use]
    pub fn term(&self, id: &str) -> Option<&Term> {
        self.terms.get(&normalize_id(id)?)
    }

    /// The current (not obsolete) term with this shorthand, e.g. `HMB`.
    #[must_use]
    pub fn by_shorthand(&self, shorthand: &str) -> Option<&Term> {
        self.terms
            .values()
            .find(|t| !t.obsolete && t.shorthand.as_deref() == Some(shorthand))
    }

    /// Every term, in id order.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.terms.values()
    }

    /// Whether `child` is `ancestor` or a descendant of it through named `rdfs:subClassOf`
    /// parents. False when either id is not a term of the release.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), gemj_duo::DuoError> {
    /// # let owl = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    /// #   xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#">
    /// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000001"/>
    /// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000017"/>
    /// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000042">
    /// #     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000001"/></owl:Class>
    /// #   <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000006">
    /// #     <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/DUO_0000042"/></owl:Class>
    /// # </rdf:RDF>"#;
    /// let duo = gemj_duo::Ontology::parse(owl, None)?;
    /// assert!(duo.is_a("DUO:0000006", "DUO:0000042")); // HMB is a kind of GRU
    /// assert!(duo.is_a("DUO:0000006", "DUO:0000006"));
    /// assert!(!duo.is_a("DUO:0000042", "DUO:0000006"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn is_a(&self, child: &str, ancestor: &str) -> bool {
        let (Some(child), Some(ancestor)) = (normalize_id(child), normalize_id(ancestor)) else {
            return false;
        };
        self.is_a_normalized(&child, &ancestor)
    }

    fn is_a_normalized(&self, child: &str, ancestor: &str) -> bool {
        if !self.terms.contains_key(child) || !self.terms.contains_key(ancestor) {
            return false;
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([child]);
        while let Some(id) = queue.pop_front() {
            if id == ancestor {
                return true;
            }
            if !seen.insert(id) {
                continue;
            }
            if let Some(term) = self.terms.get(id) {
                queue.extend(term.parents.iter().map(String::as_str));
            }
        }
        false
    }

    /// The release's `owl:versionIRI`, e.g.
    /// `http://purl.obolibrary.org/obo/duo/releases/2021-02-23/duo.owl`, for audit records.
    #[must_use]
    pub fn version_iri(&self) -> Option<&str> {
        self.version_iri.as_deref()
    }

    /// What was odd but usable in the inputs (a class keyed differently from its IRI, a Japanese
    /// label for a term the release lacks), in the order found.
    #[must_use]
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Sets each term's kind from its place under the two roots.
    fn classify(&mut self) {
        let mut kinds = Vec::new();
        for id in self.terms.keys() {
            let under = |root: &str| id != root && self.is_a_normalized(id, root);
            let permission = under(ids::DATA_USE_PERMISSION);
            let modifier = under(ids::DATA_USE_MODIFIER);
            let kind = match (permission, modifier) {
                (true, false) => TermKind::Permission,
                (false, true) => TermKind::Modifier,
                (true, true) => {
                    self.warnings.push(format!(
                        "{id} is under both data use permission and data use modifier; it is \
                         treated as neither"
                    ));
                    TermKind::Other
                }
                (false, false) => TermKind::Other,
            };
            kinds.push((id.clone(), kind));
        }
        for (id, kind) in kinds {
            if let Some(term) = self.terms.get_mut(&id) {
                term.kind = kind;
            }
        }
    }

    /// Adds Japanese labels and definitions from a translation file.
    fn add_japanese(
        &mut self,
        text: &str,
        iri_to_id: &BTreeMap<String, String>,
    ) -> Result<(), DuoError> {
        let root = read_rdf(text, Document::Japanese)?;
        let (subjects, _) = subjects(&root);
        for (iri, subject) in subjects {
            let label = subject.text_in(&subject.labels, "ja");
            let definition = subject.text_in(&subject.definitions, "ja");
            if label.is_none() && definition.is_none() {
                continue;
            }
            let id = iri_to_id
                .get(&iri)
                .cloned()
                .or_else(|| normalize_id(&curie(&iri)));
            match id.and_then(|id| self.terms.get_mut(&id)) {
                Some(term) => {
                    if label.is_some() {
                        term.label_ja = label;
                    }
                    if definition.is_some() {
                        term.definition_ja = definition;
                    }
                }
                None => self.warnings.push(format!(
                    "duo-japanese.owl annotates {iri}, which is not a term of the release"
                )),
            }
        }
        Ok(())
    }
}

/// Parses XML and checks that the root is `rdf:RDF`.
fn read_rdf(text: &str, document: Document) -> Result<Element, DuoError> {
    let root = xml::parse(text).map_err(|e| DuoError::Xml {
        document,
        offset: e.offset,
        reason: e.reason,
    })?;
    if root.is(RDF_NS, "RDF") {
        Ok(root)
    } else {
        Err(DuoError::NotRdf { document })
    }
}

/// What one RDF/XML node element (or several with the same IRI) says about a subject.
#[derive(Debug, Default)]
struct Subject {
    is_class: bool,
    ids: Vec<String>,
    shorthands: Vec<String>,
    /// `(language, text)`; language is empty when none is given.
    labels: Vec<(String, String)>,
    definitions: Vec<(String, String)>,
    comments: Vec<(String, String)>,
    /// Parent IRIs.
    parents: Vec<String>,
    /// `(property IRI, filler IRI)`.
    restrictions: Vec<(String, String)>,
    deprecated: bool,
}

impl Subject {
    /// The text in `lang`; for English, untagged text counts too.
    fn text_in(&self, values: &[(String, String)], lang: &str) -> Option<String> {
        let tagged = values
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(lang))
            .map(|(_, t)| t.clone());
        if lang == "en" {
            tagged.or_else(|| {
                values
                    .iter()
                    .find(|(l, _)| l.is_empty())
                    .map(|(_, t)| t.clone())
            })
        } else {
            tagged
        }
    }

    fn to_term(&self, id: String, iri: &str) -> Term {
        let label = self
            .text_in(&self.labels, "en")
            .unwrap_or_else(|| id.clone());
        let comments = self
            .comments
            .iter()
            .filter(|(l, _)| l.is_empty() || l.eq_ignore_ascii_case("en"))
            .map(|(_, t)| t.clone())
            .collect();
        Term {
            id,
            iri: iri.to_owned(),
            shorthand: self.shorthands.first().cloned(),
            label,
            label_ja: self.text_in(&self.labels, "ja"),
            definition: self.text_in(&self.definitions, "en"),
            definition_ja: self.text_in(&self.definitions, "ja"),
            comments,
            parents: Vec::new(),
            restrictions: Vec::new(),
            obsolete: self.deprecated,
            kind: TermKind::Other,
        }
    }
}

/// Reads the node elements under `rdf:RDF` into subjects by IRI, and the ontology's
/// `owl:versionIRI`. Blank nodes and property attributes are ignored.
fn subjects(root: &Element) -> (BTreeMap<String, Subject>, Option<String>) {
    let base = root.attr(XML_NS, "base").unwrap_or("");
    let mut subjects: BTreeMap<String, Subject> = BTreeMap::new();
    let mut version_iri = None;
    for node in root.elements() {
        if node.is(OWL_NS, "Ontology") {
            version_iri = version_iri.or_else(|| {
                node.elements()
                    .find(|e| e.is(OWL_NS, "versionIRI"))
                    .and_then(|e| e.attr(RDF_NS, "resource"))
                    .map(|r| resolve(base, r))
            });
            continue;
        }
        let iri = match (node.attr(RDF_NS, "about"), node.attr(RDF_NS, "ID")) {
            (Some(about), _) => resolve(base, about),
            (None, Some(id)) => resolve(base, &format!("#{id}")),
            (None, None) => continue,
        };
        let subject = subjects.entry(iri).or_default();
        subject.is_class |= node.is(OWL_NS, "Class");
        for property in node.elements() {
            let lang = property.attr(XML_NS, "lang").unwrap_or("").to_owned();
            let resource = property.attr(RDF_NS, "resource").map(|r| resolve(base, r));
            let text = || property.text().trim().to_owned();
            if property.is(RDF_NS, "type") {
                if resource.as_deref() == Some("http://www.w3.org/2002/07/owl#Class") {
                    subject.is_class = true;
                }
            } else if property.is(RDFS_NS, "subClassOf") {
                if let Some(parent) = resource {
                    subject.parents.push(parent);
                } else {
                    for restriction in property.elements().filter(|e| e.is(OWL_NS, "Restriction")) {
                        let part = |name: &str| {
                            restriction
                                .elements()
                                .find(|e| e.is(OWL_NS, name))
                                .and_then(|e| e.attr(RDF_NS, "resource"))
                                .map(|r| resolve(base, r))
                        };
                        if let (Some(on), Some(some)) = (part("onProperty"), part("someValuesFrom"))
                        {
                            subject.restrictions.push((on, some));
                        }
                    }
                }
            } else if property.is(RDFS_NS, "label") {
                subject.labels.push((lang, text()));
            } else if property.is(RDFS_NS, "comment") {
                subject.comments.push((lang, text()));
            } else if property.is(OBO_NS, DEFINITION) {
                subject.definitions.push((lang, text()));
            } else if property.is(OBO_IN_OWL_NS, "id") {
                subject.ids.push(text());
            } else if property.is(OBO_IN_OWL_NS, "shorthand") {
                subject.shorthands.push(text());
            } else if property.is(OWL_NS, "deprecated") {
                subject.deprecated |= text().eq_ignore_ascii_case("true") || text() == "1";
            }
        }
    }
    (subjects, version_iri)
}

/// Resolves a (possibly relative) IRI reference against `xml:base`, enough for RDF/XML as OWL
/// tools write it: absolute IRIs pass through, `#frag` and plain names join the base.
fn resolve(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    let has_scheme = reference.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if has_scheme || base.is_empty() {
        return reference.to_owned();
    }
    if reference.starts_with('#') {
        let stem = base.split('#').next().unwrap_or(base);
        return format!("{stem}{reference}");
    }
    match base.rfind('/') {
        Some(slash) => format!("{}{reference}", &base[..=slash]),
        None => reference.to_owned(),
    }
}

/// The CURIE of an OBO or oboInOwl IRI (`http://purl.obolibrary.org/obo/IAO_0000027` →
/// `IAO:0000027`), or the IRI itself.
fn curie(iri: &str) -> String {
    if let Some(local) = iri.strip_prefix(OBO_NS)
        && let Some((prefix, number)) = local.split_once('_')
        && !prefix.is_empty()
        && !number.is_empty()
        && !local.contains('/')
    {
        return format!("{prefix}:{number}");
    }
    if let Some(local) = iri.strip_prefix(OBO_IN_OWL_NS) {
        return format!("oboInOwl:{local}");
    }
    iri.to_owned()
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;
    use crate::testing;

    #[test]
    fn curies_and_iris() {
        let cases = [
            ("http://purl.obolibrary.org/obo/DUO_0000042", "DUO:0000042"),
            (
                "http://purl.obolibrary.org/obo/DUO_00000044",
                "DUO:00000044",
            ),
            ("http://purl.obolibrary.org/obo/IAO_0000027", "IAO:0000027"),
            ("http://purl.obolibrary.org/obo/topic_0003", "topic:0003"),
            (
                "http://www.geneontology.org/formats/oboInOwl#ObsoleteClass",
                "oboInOwl:ObsoleteClass",
            ),
            (
                "http://purl.obolibrary.org/obo/duo.owl",
                "http://purl.obolibrary.org/obo/duo.owl",
            ),
            ("urn:x", "urn:x"),
        ];
        for (iri, expect) in cases {
            assert_eq!(curie(iri), expect, "{iri}");
        }
        assert_eq!(resolve("http://x/y/duo.owl", "#a"), "http://x/y/duo.owl#a");
        assert_eq!(resolve("http://x/y/duo.owl", "b"), "http://x/y/b");
        assert_eq!(resolve("http://x/y/duo.owl", "http://z/c"), "http://z/c");
        assert_eq!(resolve("", "c"), "c");
    }

    /// The release parses to exactly the 39 DUO classes of `duo-terms-derived.tsv`, with the
    /// shorthand, English and Japanese labels, parents and obsolescence that file lists.
    #[test]
    fn real_release_matches_the_derived_table() -> Result<(), Box<dyn Error>> {
        let files = testing::files();
        let duo = testing::ontology()?;
        let mut rows = 0;
        for line in files.derived_tsv.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [
                id,
                fragment,
                shorthand,
                label_en,
                label_ja,
                parents,
                restrictions,
                deprecated,
            ] = cols[..]
            else {
                return Err(format!("bad row {line:?}").into());
            };
            rows += 1;
            let term = duo.term(id).ok_or(format!("{id} missing"))?;
            assert_eq!(term.id, id);
            assert!(term.iri.ends_with(fragment), "{id} {}", term.iri);
            assert_eq!(term.shorthand.as_deref().unwrap_or(""), shorthand, "{id}");
            assert_eq!(term.label, label_en, "{id}");
            assert_eq!(term.label_ja.as_deref().unwrap_or(""), label_ja, "{id}");
            let expected_parents: Vec<String> = parents
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| match p {
                    "ObsoleteClass" => "oboInOwl:ObsoleteClass".to_owned(),
                    other => other.to_owned(),
                })
                .collect();
            assert_eq!(term.parents, expected_parents, "{id}");
            let expected_restrictions: Vec<String> = restrictions
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            let restrictions: Vec<String> = term
                .restrictions
                .iter()
                .map(|r| format!("{} some {}", r.property, r.filler))
                .collect();
            assert_eq!(restrictions, expected_restrictions, "{id}");
            assert_eq!(term.obsolete, deprecated == "true", "{id}");
        }
        assert_eq!(rows, 39);
        assert_eq!(duo.terms().count(), rows);
        Ok(())
    }

    /// Every current term of `duo.csv` (the release's own summary) has the same shorthand, label
    /// and definition.
    #[test]
    fn real_release_matches_duo_csv() -> Result<(), Box<dyn Error>> {
        let files = testing::files();
        let duo = testing::ontology()?;
        let rows = testing::csv(&files.duo_csv);
        assert_eq!(rows.first().map(Vec::len), Some(4));
        for row in rows.iter().skip(1) {
            let [id, shorthand, label, description] = &row[..] else {
                return Err(format!("bad row {row:?}").into());
            };
            let term = duo.term(id).ok_or(format!("{id} missing"))?;
            assert_eq!(term.shorthand.as_deref().unwrap_or(""), shorthand, "{id}");
            assert_eq!(&term.label, label, "{id}");
            assert_eq!(
                term.definition.as_deref(),
                Some(description.as_str()),
                "{id}"
            );
            assert!(!term.obsolete, "{id}");
        }
        assert_eq!(rows.len(), 26);
        Ok(())
    }

    #[test]
    fn real_release_hierarchy_and_kinds() -> Result<(), Box<dyn Error>> {
        let duo = testing::ontology()?;
        assert_eq!(
            duo.version_iri(),
            Some("http://purl.obolibrary.org/obo/duo/releases/2021-02-23/duo.owl")
        );
        // (child, ancestor, expected)
        let is_a = [
            ("DUO:0000007", "DUO:0000006", true),  // DS under HMB
            ("DUO:0000007", "DUO:0000042", true),  // DS under GRU (through HMB)
            ("DUO:0000006", "DUO:0000042", true),  // HMB under GRU
            ("DUO:0000042", "DUO:0000006", false), // GRU is broader than HMB
            ("DUO:0000011", "DUO:0000042", false), // POA is asserted under DUO:0000001 only
            ("DUO:0000011", "DUO:0000001", true),
            ("DUO:0000004", "DUO:0000042", false), // NRES is not a kind of GRU
            ("DUO:0000045", "DUO:0000018", true),  // NPU under NPUNCU
            ("DUO:0000046", "DUO:0000018", true),  // NCU under NPUNCU
            ("DUO:0000044", "DUO:0000017", true),  // NPOA, despite its 8-digit IRI
            ("DUO:00000044", "DUO:0000017", true),
            ("DUO:0000042", "DUO:0000042", true),
            ("DUO:0000099", "DUO:0000099", false), // not a term
            ("DUO:0000042", "IAO:0000027", false), // not a DUO id
        ];
        for (child, ancestor, expect) in is_a {
            assert_eq!(duo.is_a(child, ancestor), expect, "{child} is_a {ancestor}");
        }
        let kinds = [
            ("DUO:0000001", TermKind::Other),
            ("DUO:0000017", TermKind::Other),
            ("DUO:0000004", TermKind::Permission),
            ("DUO:0000042", TermKind::Permission),
            ("DUO:0000006", TermKind::Permission),
            ("DUO:0000007", TermKind::Permission),
            ("DUO:0000011", TermKind::Permission),
            ("DUO:0000005", TermKind::Other), // obsolete GRU-CC
            ("DUO:0000014", TermKind::Other), // obsolete RU
            ("DUO:0000031", TermKind::Other), // an investigation class
            ("DUO:0000012", TermKind::Modifier),
            ("DUO:0000015", TermKind::Modifier),
            ("DUO:0000016", TermKind::Modifier),
            ("DUO:0000018", TermKind::Modifier),
            ("DUO:0000019", TermKind::Modifier),
            ("DUO:0000020", TermKind::Modifier),
            ("DUO:0000021", TermKind::Modifier),
            ("DUO:0000022", TermKind::Modifier),
            ("DUO:0000024", TermKind::Modifier),
            ("DUO:0000025", TermKind::Modifier),
            ("DUO:0000026", TermKind::Modifier),
            ("DUO:0000027", TermKind::Modifier),
            ("DUO:0000028", TermKind::Modifier),
            ("DUO:0000029", TermKind::Modifier),
            ("DUO:0000043", TermKind::Modifier),
            ("DUO:0000044", TermKind::Modifier),
            ("DUO:0000045", TermKind::Modifier),
            ("DUO:0000046", TermKind::Modifier),
        ];
        for (id, kind) in kinds {
            assert_eq!(duo.term(id).map(|t| t.kind), Some(kind), "{id}");
        }
        let permissions = duo
            .terms()
            .filter(|t| t.kind == TermKind::Permission)
            .count();
        let modifiers = duo.terms().filter(|t| t.kind == TermKind::Modifier).count();
        assert_eq!((permissions, modifiers), (5, 18));
        assert_eq!(
            duo.by_shorthand("NPOA").map(|t| t.iri.as_str()),
            Some("http://purl.obolibrary.org/obo/DUO_00000044")
        );
        assert!(
            duo.warnings()
                .iter()
                .any(|w| w.contains("DUO_00000044") && w.contains("DUO:0000044"))
        );
        Ok(())
    }

    #[test]
    fn real_release_japanese_and_comments() -> Result<(), Box<dyn Error>> {
        let duo = testing::ontology()?;
        let ja = |id: &str| duo.term(id).and_then(|t| t.label_ja.clone());
        assert_eq!(ja("DUO:0000042").as_deref(), Some("一般研究利用"));
        assert_eq!(ja("DUO:0000006").as_deref(), Some("健康/医療/生物医学研究"));
        assert_eq!(ja("DUO:0000007").as_deref(), Some("疾患特異的研究"));
        assert_eq!(ja("DUO:0000018").as_deref(), Some("営利目的利用禁止"));
        // The translation (of DUO v2020-02-03) has no labels for CC, NCU, NMDS, NPOA.
        for id in ["DUO:0000043", "DUO:0000046", "DUO:0000015", "DUO:0000044"] {
            assert_eq!(ja(id), None, "{id}");
        }
        let gru = duo.term("DUO:0000042").ok_or("GRU")?;
        assert_eq!(
            gru.definition_ja.as_deref(),
            Some("あらゆる研究への一般研究利用が許可されています")
        );
        assert!(
            gru.comments
                .iter()
                .any(|c| c.contains("the study of population origins or ancestry"))
        );
        let ds = duo.term("DUO:0000007").ok_or("DS")?;
        assert_eq!(ds.display_name(), "DS (DUO:0000007)");
        assert_eq!(
            duo.term("DUO:0000001").map(Term::display_name).as_deref(),
            Some("data use permission (DUO:0000001)")
        );
        // Without the translation there are no Japanese labels at all.
        let files = testing::files();
        let english = Ontology::parse(&files.duo_owl, None)?;
        assert!(english.terms().all(|t| t.label_ja.is_none()));
        Ok(())
    }

    #[test]
    fn real_files_in_the_wrong_places_are_errors() -> Result<(), Box<dyn Error>> {
        let files = testing::files();
        // The translation alone has no DUO classes (it annotates with rdf:Description).
        assert_eq!(
            Ontology::parse(&files.japanese_owl, None),
            Err(DuoError::NoTerms)
        );
        assert!(matches!(
            Ontology::parse(&files.duo_owl, Some("<a/>")),
            Err(DuoError::NotRdf {
                document: Document::Japanese
            })
        ));
        assert!(matches!(
            Ontology::parse(&files.duo_owl, Some(&files.duo_csv)),
            Err(DuoError::Xml {
                document: Document::Japanese,
                ..
            })
        ));
        Ok(())
    }

    /// The two root classes alone: the base the translation is parsed onto.
    const ROOTS: &str = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns:owl="http://www.w3.org/2002/07/owl#">
            <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000001"/>
            <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000017"/></rdf:RDF>"#;

    /// Truncating the real files anywhere gives an error or a smaller ontology, never a panic.
    #[test]
    fn truncated_real_files_never_panic() {
        let files = testing::files();
        let ja = &files.japanese_owl;
        for end in (0..ja.len()).filter(|&i| ja.is_char_boundary(i)) {
            let _ = Ontology::parse(ROOTS, ja.get(..end));
        }
        let owl = &files.duo_owl;
        for end in (0..owl.len())
            .step_by(397)
            .filter(|&i| owl.is_char_boundary(i))
        {
            if let Some(prefix) = owl.get(..end) {
                let _ = Ontology::parse(prefix, None);
            }
        }
    }

    /// Mutating markup bytes of the real translation (a fixed pseudo-random sequence, so the
    /// test is repeatable) gives an error or an ontology, never a panic.
    #[test]
    fn mutated_real_files_never_panic() {
        let files = testing::files();
        let alphabet = b"<>/=&;#x\"'![]?- :aDUO_0\n";
        let original = files.japanese_owl.as_bytes();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        for _ in 0..2_000 {
            let mut bytes = original.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = next() % bytes.len();
                // Only ASCII bytes are replaced, so the text stays UTF-8.
                if bytes[at].is_ascii() {
                    bytes[at] = alphabet[next() % alphabet.len()];
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = Ontology::parse(ROOTS, Some(text));
                let _ = Ontology::parse(text, None);
            }
        }
    }

    #[test]
    fn synthetic_oddities() -> Result<(), Box<dyn Error>> {
        let owl = r#"<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY obo "http://purl.obolibrary.org/obo/"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
  <owl:Class rdf:about="&obo;DUO_0000001"/>
  <rdf:Description rdf:about="&obo;DUO_0000017">
    <rdf:type rdf:resource="http://www.w3.org/2002/07/owl#Class"/>
  </rdf:Description>
  <owl:Class rdf:about="&obo;DUO_0000050">
    <rdfs:subClassOf rdf:resource="&obo;DUO_0000001"/>
    <rdfs:subClassOf rdf:resource="&obo;DUO_0000051"/>
    <owl:deprecated>true</owl:deprecated>
  </owl:Class>
  <owl:Class rdf:about="&obo;DUO_0000051">
    <rdfs:subClassOf rdf:resource="&obo;DUO_0000050"/>
    <oboInOwl:id>DUO:0000051</oboInOwl:id>
  </owl:Class>
  <owl:Class rdf:about="&obo;X_1"><oboInOwl:id>DUO:0000051</oboInOwl:id></owl:Class>
  <owl:Class rdf:about="&obo;MONDO_0000001"/>
  <owl:Class/>
</rdf:RDF>"#;
        let duo = Ontology::parse(owl, None)?;
        // A cycle in the hierarchy terminates.
        assert!(duo.is_a("DUO:0000051", "DUO:0000001"));
        assert!(!duo.is_a("DUO:0000051", "DUO:0000017"));
        assert_eq!(duo.term("DUO:0000050").map(|t| t.obsolete), Some(true));
        assert_eq!(
            duo.term("DUO:0000050").map(|t| t.label.as_str()),
            Some("DUO:0000050")
        );
        assert_eq!(duo.terms().count(), 4);
        assert!(
            duo.warnings()
                .iter()
                .any(|w| w.contains("taken from the IRI"))
        );
        assert!(duo.warnings().iter().any(|w| w.contains("repeats the id")));
        let no_roots = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns:owl="http://www.w3.org/2002/07/owl#">
            <owl:Class rdf:about="http://purl.obolibrary.org/obo/DUO_0000001"/></rdf:RDF>"#;
        assert_eq!(
            Ontology::parse(no_roots, None),
            Err(DuoError::MissingRoot { id: "DUO:0000017" })
        );
        Ok(())
    }
}
