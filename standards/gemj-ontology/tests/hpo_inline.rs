//! `Ontology::parse_obo` on small OBO texts: the tags it reads, comments, cycles and the
//! malformed stanzas it rejects.

use gemj_ontology::{OboError, OboWarning, Ontology};

const SMALL: &str = "\
format-version: 1.2
data-version: test/1 ! a comment
! a comment line
[Term]
id: T:1
name: Root

[Term]
id: T:2
name: Left ! with a comment
is_a: T:1 ! Root

[Term]
id: T:3
name: Right\\! side \\Wescaped
is_a: T:1 {source=\"x\"} ! Root
alt_id: T:30 ! old
alt_id: T:31

[Term]
id: T:4
name: Both
is_a: T:2
is_a: T:3
is_a: T:3 ! repeated edge

[Term]
id: T:5
name: obsolete Thing
is_obsolete: true
replaced_by: T:30 ! an alt id of T:3

[Typedef]
id: part_of
name: part of
is_transitive: true
";

#[test]
fn reads_terms_labels_and_hierarchy() {
    let o = Ontology::parse_obo(SMALL).unwrap();
    assert_eq!(o.len(), 5);
    assert_eq!(o.data_version(), Some("test/1"));
    assert_eq!(
        o.ids().collect::<Vec<_>>(),
        ["T:1", "T:2", "T:3", "T:4", "T:5"]
    );
    assert_eq!(o.label("T:2"), Some("Left"));
    assert_eq!(o.label("T:3"), Some("Right! side  escaped"));
    assert_eq!(o.descendants("T:1"), ["T:1", "T:2", "T:3", "T:4"]);
    assert_eq!(o.descendants("T:2"), ["T:2", "T:4"]);
    assert_eq!(o.ancestors("T:4"), ["T:4", "T:2", "T:3", "T:1"]);
    assert_eq!(o.parents("T:4").collect::<Vec<_>>(), ["T:2", "T:3"]);
    assert_eq!(o.children("T:1").collect::<Vec<_>>(), ["T:2", "T:3"]);
    assert!(o.descendants("T:9").is_empty());
    assert!(o.ancestors("T:30").is_empty(), "alt ids are resolved first");
    assert!(!o.contains("part_of"));
    assert!(o.warnings().is_empty());
}

#[test]
fn resolves_alt_ids_and_replacements() {
    let o = Ontology::parse_obo(SMALL).unwrap();
    assert_eq!(o.resolve("T:3"), Some("T:3"));
    assert_eq!(o.resolve("T:30"), Some("T:3"));
    assert_eq!(o.resolve("T:31"), Some("T:3"));
    assert!(o.is_obsolete("T:5"));
    assert!(!o.is_obsolete("T:3"));
    assert_eq!(o.resolve("T:5"), Some("T:3"), "replaced_by an alt id");
    assert_eq!(o.resolve("T:9"), None);
    assert!(!o.contains("T:30"));
}

#[test]
fn cycles_terminate() {
    let text = "\
[Term]
id: A
is_a: C

[Term]
id: B
is_a: A

[Term]
id: C
is_a: B
is_a: C ! itself

[Term]
id: D
is_obsolete: true
replaced_by: E

[Term]
id: E
is_obsolete: true
replaced_by: D
";
    let o = Ontology::parse_obo(text).unwrap();
    assert_eq!(o.descendants("A"), ["A", "B", "C"]);
    assert_eq!(o.ancestors("A"), ["A", "C", "B"]);
    assert_eq!(o.descendants("C"), ["C", "A", "B"]);
    assert_eq!(o.resolve("D"), None, "replaced_by cycle");
    assert_eq!(o.label("A"), None, "no name");
}

#[test]
fn duplicate_ids_are_errors() {
    let text = "[Term]\nid: X:1\nname: one\n\n[Term]\nid: X:1\nname: two\n";
    let err = Ontology::parse_obo(text).unwrap_err();
    assert_eq!(
        err,
        OboError::DuplicateId {
            id: "X:1".into(),
            line: 5,
            first_line: 1
        }
    );
    assert_eq!(err.line(), Some(5));
    assert_eq!(
        err.to_string(),
        "line 5: term X:1 is defined twice (first on line 1)"
    );

    let text = "[Term]\nid: X:1\nalt_id: X:9\n[Term]\nid: X:2\nalt_id: X:9\n";
    assert_eq!(
        Ontology::parse_obo(text).unwrap_err(),
        OboError::DuplicateAltId {
            alt_id: "X:9".into(),
            line: 6,
            first_line: 3
        }
    );

    // An alt_id repeated in one stanza, or naming an obsolete stanza's id, is fine.
    let text = "[Term]\nid: X:1\nalt_id: X:9\nalt_id: X:9\nalt_id: X:2\n\
                [Term]\nid: X:2\nis_obsolete: true\n";
    let o = Ontology::parse_obo(text).unwrap();
    assert_eq!(o.resolve("X:9"), Some("X:1"));
    assert_eq!(o.resolve("X:2"), Some("X:1"));
    assert!(o.contains("X:2"));

    let text = "[Term]\nid: X:1\nid: X:2\n";
    assert_eq!(
        Ontology::parse_obo(text).unwrap_err(),
        OboError::DuplicateTag { tag: "id", line: 3 }
    );
}

#[test]
fn a_term_without_id_is_an_error_with_its_line() {
    let text = "format-version: 1.2\n\n[Term]\nid: X:1\n\n[Term]\nname: nameless\nis_a: X:1\n";
    let err = Ontology::parse_obo(text).unwrap_err();
    assert_eq!(err, OboError::MissingId { line: 6 });
    assert_eq!(err.to_string(), "line 6: [Term] stanza has no id");

    // At the end of the text too, and with an id that is only a comment.
    assert_eq!(
        Ontology::parse_obo("[Term]\n").unwrap_err(),
        OboError::MissingId { line: 1 }
    );
    assert_eq!(
        Ontology::parse_obo("[Term]\nid: ! nothing\n").unwrap_err(),
        OboError::EmptyValue { tag: "id", line: 2 }
    );
}

#[test]
fn other_malformed_lines_are_errors() {
    let cases: [(&str, OboError); 5] = [
        (
            "[Term]\nid: X:1\njust words\n",
            OboError::MissingColon { line: 3 },
        ),
        ("[Term\nid: X:1\n", OboError::UnclosedHeader { line: 1 }),
        (
            "[Term]\nid: X:1\nis_obsolete: yes\n",
            OboError::InvalidBoolean {
                value: "yes".into(),
                line: 3,
            },
        ),
        (
            "[Term]\nid: X:1\nis_a:\n",
            OboError::EmptyValue {
                tag: "is_a",
                line: 3,
            },
        ),
        (
            "[Term]\nid: X:1\nname: a\nname: b\n",
            OboError::DuplicateTag {
                tag: "name",
                line: 4,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(Ontology::parse_obo(text).unwrap_err(), expected, "{text:?}");
    }
}

#[test]
fn comments_after_bang_are_ignored() {
    let text = "\
! leading comment
[Term] ! header comment
id: X:1 ! the root
name: Root node ! not part of the name

[Term]
id: X:2!no space before the comment
name: Child
is_a: X:1!Root
is_obsolete: false ! still current
";
    let o = Ontology::parse_obo(text).unwrap();
    assert_eq!(o.ids().collect::<Vec<_>>(), ["X:1", "X:2"]);
    assert_eq!(o.label("X:1"), Some("Root node"));
    assert_eq!(o.descendants("X:1"), ["X:1", "X:2"]);
    assert!(!o.is_obsolete("X:2"));
}

#[test]
fn tolerated_oddities() {
    // CRLF line ends, a byte-order mark, non-Term stanzas with free-form lines, an empty text.
    let text = "\u{feff}[Typedef]\r\nnot a tag line\r\n[Term]\r\nid: X:1\r\nname: Root\r\n";
    let o = Ontology::parse_obo(text).unwrap();
    assert_eq!(o.label("X:1"), Some("Root"));
    let empty = Ontology::parse_obo("").unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert!(empty.descendants("X:1").is_empty());

    // Unknown parents and replacements are warnings, and the edge is dropped.
    let text = "[Term]\nid: X:1\nis_a: Y:1\n[Term]\nid: X:2\nis_obsolete: true\nreplaced_by: Y:2\n";
    let o = Ontology::parse_obo(text).unwrap();
    assert_eq!(o.ancestors("X:1"), ["X:1"]);
    assert_eq!(o.resolve("X:2"), None);
    assert_eq!(
        o.warnings(),
        [
            OboWarning::UnknownParent {
                line: 3,
                term: "X:1".into(),
                parent: "Y:1".into()
            },
            OboWarning::UnknownReplacement {
                line: 4,
                term: "X:2".into(),
                replaced_by: "Y:2".into()
            }
        ]
    );
    assert_eq!(
        o.warnings()[0].to_string(),
        "line 3: X:1 is_a Y:1, which is not defined"
    );
    assert!(format!("{o:?}").starts_with("Ontology { terms: 2"));
}
