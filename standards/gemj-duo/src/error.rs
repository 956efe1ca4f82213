//! The one error type of the crate: an ontology file that cannot be read as DUO.

/// Which input an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    /// The DUO release (`duo.owl`).
    Duo,
    /// The Japanese translation (`duo-japanese.owl`).
    Japanese,
}

impl std::fmt::Display for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Duo => "duo.owl",
            Self::Japanese => "duo-japanese.owl",
        })
    }
}

/// Why an ontology could not be read.
///
/// Oddities that leave a usable ontology (a class without `oboInOwl:id`, a Japanese label for a
/// term the release does not have) are not errors: see [`crate::Ontology::warnings`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DuoError {
    /// The text is not well-formed XML (XML 1.0, section 2.1 "Well-Formed XML Documents").
    #[error("{document} is not well-formed XML at byte {offset}: {reason}")]
    Xml {
        /// Which input.
        document: Document,
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The root element is not `rdf:RDF` (RDF 1.1 XML Syntax, section 2.2).
    #[error("{document} is not RDF/XML: the root element is not rdf:RDF")]
    NotRdf {
        /// Which input.
        document: Document,
    },
    /// The DUO release has no class with a `DUO:` id.
    #[error("duo.owl has no DUO classes")]
    NoTerms,
    /// One of the two DUO roots, data use permission (`DUO:0000001`) or data use modifier
    /// (`DUO:0000017`), is missing, so permissions and modifiers cannot be told apart.
    #[error("duo.owl lacks the root class {id}")]
    MissingRoot {
        /// The missing root's id.
        id: &'static str,
    },
}
