//! `genomicAlleleShortForm`: the HGVS forms accepted, their coordinates, and the rejections.

use gemj_beacon::{AlleleChange, Assembly, ErrorKind, Hgvs};

fn s(x: &str) -> String {
    x.to_owned()
}

#[track_caller]
fn check(
    input: &str,
    chrom: &str,
    assembly: Option<Assembly>,
    start: u64,
    end: u64,
    change: AlleleChange,
) {
    let parsed = match Hgvs::parse(input) {
        Ok(p) => p,
        Err(e) => panic!("{input}: {e}"),
    };
    assert_eq!(parsed.as_str(), input);
    let Hgvs::Genomic(allele) = parsed else {
        panic!("{input}: not genomic");
    };
    assert_eq!(allele.reference_name.chromosome(), chrom, "{input}");
    assert_eq!(allele.reference_name.assembly(), assembly, "{input}");
    assert_eq!((allele.start, allele.end), (start, end), "{input}");
    assert_eq!(allele.change, change, "{input}");
}

#[track_caller]
fn reject(input: &str, message: &str) {
    match Hgvs::parse(input) {
        Ok(p) => panic!("{input}: accepted as {p:?}"),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidAllele, "{input}");
            assert_eq!(e.status, 400);
            assert!(
                e.message.contains(message),
                "{input}: `{}` lacks `{message}`",
                e.message
            );
        }
    }
}

#[test]
fn substitutions() {
    use AlleleChange::Substitution as Sub;
    let grch38 = Some(Assembly::GRCh38);
    let sub = |r: &str, a: &str| Sub {
        reference: s(r),
        alternate: s(a),
    };
    check(
        "NC_000001.11:g.12345A>G",
        "chr1",
        grch38,
        12344,
        12345,
        sub("A", "G"),
    );
    check(
        "NC_000001.10:g.12345A>G",
        "chr1",
        Some(Assembly::GRCh37),
        12344,
        12345,
        sub("A", "G"),
    );
    check(
        "refseq:NC_000017.11:g.7674220C>T",
        "chr17",
        grch38,
        7_674_219,
        7_674_220,
        sub("C", "T"),
    );
    check("chr1:g.12345A>G", "chr1", None, 12344, 12345, sub("A", "G"));
    check("1:g.12345A>G", "chr1", None, 12344, 12345, sub("A", "G"));
    check("X:g.1C>T", "chrX", None, 0, 1, sub("C", "T"));
    check(
        "chrY:g.2781480G>A",
        "chrY",
        None,
        2_781_479,
        2_781_480,
        sub("G", "A"),
    );
    check(
        "NC_012920.1:m.8993T>G",
        "chrM",
        None,
        8992,
        8993,
        sub("T", "G"),
    );
    check("chrM:m.3243A>G", "chrM", None, 3242, 3243, sub("A", "G"));
    check(
        "NC_000023.11:g.100A>N",
        "chrX",
        grch38,
        99,
        100,
        sub("A", "N"),
    );
}

#[test]
fn deletions_insertions_delins_dups() {
    use AlleleChange::*;
    let grch38 = Some(Assembly::GRCh38);
    check(
        "NC_000001.11:g.123_125del",
        "chr1",
        grch38,
        122,
        125,
        Deletion { deleted: None },
    );
    check(
        "NC_000001.11:g.123del",
        "chr1",
        grch38,
        122,
        123,
        Deletion { deleted: None },
    );
    check(
        "NC_000001.11:g.123_125delACG",
        "chr1",
        grch38,
        122,
        125,
        Deletion {
            deleted: Some(s("ACG")),
        },
    );
    check(
        "chr7:g.123delA",
        "chr7",
        None,
        122,
        123,
        Deletion {
            deleted: Some(s("A")),
        },
    );
    check(
        "NC_000001.11:g.123_124insAC",
        "chr1",
        grch38,
        123,
        123,
        Insertion { inserted: s("AC") },
    );
    check(
        "2:g.1_2insT",
        "chr2",
        None,
        1,
        1,
        Insertion { inserted: s("T") },
    );
    check(
        "NC_000001.11:g.123_125delinsTT",
        "chr1",
        grch38,
        122,
        125,
        DeletionInsertion {
            deleted: None,
            inserted: s("TT"),
        },
    );
    check(
        "NC_000001.11:g.123delinsTT",
        "chr1",
        grch38,
        122,
        123,
        DeletionInsertion {
            deleted: None,
            inserted: s("TT"),
        },
    );
    check(
        "NC_000001.11:g.123_124delACinsG",
        "chr1",
        grch38,
        122,
        124,
        DeletionInsertion {
            deleted: Some(s("AC")),
            inserted: s("G"),
        },
    );
    check(
        "NC_000001.11:g.123_125dup",
        "chr1",
        grch38,
        122,
        125,
        Duplication { duplicated: None },
    );
    check(
        "NC_000001.11:g.123dup",
        "chr1",
        grch38,
        122,
        123,
        Duplication { duplicated: None },
    );
    check(
        "chr3:g.10_11dupCA",
        "chr3",
        None,
        9,
        11,
        Duplication {
            duplicated: Some(s("CA")),
        },
    );
}

#[test]
fn other_descriptions_are_kept_verbatim() {
    for input in [
        "NM_004006.2:c.4375C>T",
        "NM_000546.6:c.818G>A",
        "NP_000537.3:p.Arg273His",
        "NP_004324.2:p.(Val600Glu)",
        "NR_003051.3:n.100A>G",
        "NM_004006.2:r.4375c>u",
    ] {
        assert_eq!(
            Hgvs::parse(input).ok(),
            Some(Hgvs::Other(input.to_owned())),
            "{input}"
        );
    }
}

#[test]
fn rejections() {
    reject("g.123A>G", "a genomic description needs its sequence");
    reject("m.8993T>G", "a genomic description needs its sequence");
    reject("NC_000001.11", "expected `SEQUENCE:g.CHANGE`");
    reject("rs12345", "expected `SEQUENCE:g.CHANGE`");
    reject(":c.123A>G", "expected `SEQUENCE:g.CHANGE`");
    reject("NM_004006.2:c.", "expected `SEQUENCE:g.CHANGE`");
    reject("NC_000001.11:g.0A>G", "HGVS positions start at 1");
    reject("NC_000001.11:g.A>G", "a position is not a number");
    reject("NC_000001.11:g.(123_125)del", "a position is not a number");
    reject("NC_000001.11:g.123+1A>G", "is not a supported one");
    reject("NC_000001.11:g.123=", "is not a supported one");
    reject("NC_000001.11:g.123_125inv", "is not a supported one");
    reject(
        "NC_000001.11:g.125_123del",
        "the range 125_123 ends before it starts",
    );
    reject(
        "NC_000001.11:g.123AA>G",
        "a substitution is one base to one base",
    );
    reject(
        "NC_000001.11:g.123a>g",
        "a substitution is one base to one base",
    );
    reject(
        "NC_000001.11:g.123A>A",
        "the substitution does not change the base",
    );
    reject(
        "NC_000001.11:g.123_124A>G",
        "a substitution changes one position",
    );
    reject(
        "NC_000001.11:g.123insA",
        "an insertion goes between two adjacent positions",
    );
    reject(
        "NC_000001.11:g.123_125insA",
        "an insertion goes between two adjacent positions",
    );
    reject(
        "NC_000001.11:g.123_124ins",
        "`ins` needs the inserted bases",
    );
    reject(
        "NC_000001.11:g.123delins",
        "`delins` needs the inserted bases",
    );
    reject(
        "NC_000001.11:g.123_125delAC",
        "the deleted sequence has 2 bases but the range has 3",
    );
    reject(
        "NC_000001.11:g.123_124dupACG",
        "the duplicated sequence has 3 bases but the range has 2",
    );
    reject(
        "NC_000001.11:g.123delxyz",
        "sequence is not upper-case bases",
    );
    reject("NC_000001.9:g.123A>G", "is neither the GRCh38");
    reject(
        "chr 1:g.123A>G",
        "`sequence` is not a reference sequence name",
    );
    reject("NC_000001.11:g.99999999999999999999A>G", "is too large");
}

#[test]
fn wildcards() {
    for (input, wildcard) in [
        ("NC_000001.11:g.5A>G", false),
        ("NC_000001.11:g.5A>N", true),
        ("NC_000001.11:g.5N>A", true),
        ("NC_000001.11:g.5_6insRY", true),
        ("NC_000001.11:g.5_7delinsACGT", false),
        ("NC_000001.11:g.5_6dupNN", true),
        ("NC_000001.11:g.5_6del", false),
    ] {
        let parsed = Hgvs::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed.has_wildcard(), wildcard, "{input}");
    }
}
