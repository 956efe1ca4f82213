use super::*;

const PUBLISHED: [&str; 2] = [
    "gemj.catalogue.datasets",
    "gemj.catalogue.participants_by_sex",
];

fn ok(q: &str) -> Checked {
    check(q, 0, &PUBLISHED, &Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn refused(q: &str) -> SqlError {
    match check(q, 0, &PUBLISHED, &Limits::default()) {
        Ok(c) => panic!("{q} was accepted as {}", c.sql),
        Err(e) => e,
    }
}

#[test]
fn published_names_are_rewritten_and_aliased_by_their_last_part() {
    let c = ok("SELECT * FROM gemj.catalogue.datasets");
    assert_eq!(c.sql, r#"SELECT * FROM t0 AS "datasets""#);
    assert_eq!(c.tables, [0]);
    // Quoted as one name or part by part, any case.
    let c = ok(r#"SELECT name FROM "gemj.catalogue.datasets" d WHERE d.participants > 5"#);
    assert_eq!(c.sql, "SELECT name FROM t0 AS d WHERE d.participants > 5");
    let c = ok(r#"select count(*) from "GEMJ"."catalogue"."participants_by_sex""#);
    assert_eq!(c.tables, [1]);
    // Columns qualified by the full name, and wildcards.
    let c = ok(
        "SELECT gemj.catalogue.datasets.name, gemj.catalogue.datasets.* FROM gemj.catalogue.datasets",
    );
    assert_eq!(
        c.sql,
        r#"SELECT "datasets".name, "datasets".* FROM t0 AS "datasets""#
    );
}

#[test]
fn joins_subqueries_unions_grouping_and_limits_pass() {
    let c = ok(
        "SELECT s.sex, SUM(s.participants) AS n, COUNT(DISTINCT d.dataset_id) \
         FROM gemj.catalogue.participants_by_sex s JOIN gemj.catalogue.datasets d \
         ON d.dataset_id = s.dataset_id \
         WHERE s.sex IN ('female', 'male') AND d.access_level <> 'public' \
         AND d.dataset_id IN (SELECT dataset_id FROM gemj.catalogue.datasets) \
         GROUP BY s.sex HAVING SUM(s.participants) >= 5 ORDER BY n DESC LIMIT 10 OFFSET 1",
    );
    assert_eq!(c.tables, [0, 1]);
    ok(
        "SELECT dataset_id FROM gemj.catalogue.datasets UNION SELECT dataset_id FROM gemj.catalogue.participants_by_sex",
    );
    ok(
        "SELECT CASE WHEN participants IS NULL THEN 'withheld' ELSE CAST(participants AS VARCHAR) END FROM gemj.catalogue.datasets",
    );
    ok(
        "SELECT lower(name) FROM gemj.catalogue.datasets WHERE name LIKE 'GEMJ%' AND NOT participants BETWEEN 1 AND 4",
    );
    ok("SELECT 1");
}

#[test]
fn placeholders_must_match_the_parameters() {
    let c = check(
        "SELECT * FROM gemj.catalogue.datasets WHERE dataset_id = ? AND participants > ?",
        2,
        &PUBLISHED,
        &Limits::default(),
    );
    assert_eq!(c.map(|c| c.placeholders), Ok(2));
    assert_eq!(
        check("SELECT ?", 0, &PUBLISHED, &Limits::default()),
        Err(SqlError::Parameters {
            placeholders: 1,
            given: 0
        })
    );
    assert!(matches!(refused("SELECT $1"), SqlError::Unsupported(_)));
}

#[test]
fn statements_other_than_one_select_are_refused() {
    for q in [
        "DROP TABLE gemj.catalogue.datasets",
        "DELETE FROM gemj.catalogue.datasets",
        "INSERT INTO gemj.catalogue.datasets VALUES (1)",
        "UPDATE gemj.catalogue.datasets SET name = 'x'",
        "ATTACH DATABASE '/etc/passwd' AS p",
        "PRAGMA table_info(t0)",
        "CREATE TABLE x (a int)",
        "BEGIN",
        "EXPLAIN SELECT 1",
    ] {
        let e = refused(q);
        assert!(
            matches!(e, SqlError::NotAQuery | SqlError::Syntax(_)),
            "{q}: {e:?}"
        );
    }
    assert_eq!(refused("SELECT 1; SELECT 2"), SqlError::NotOneStatement);
    assert_eq!(refused(""), SqlError::NotOneStatement);
    assert!(matches!(refused("SELEC 1"), SqlError::Syntax(_)));
}

#[test]
fn tables_that_are_not_published_are_refused_wherever_they_appear() {
    for (q, name) in [
        ("SELECT * FROM sqlite_master", "sqlite_master"),
        ("SELECT * FROM t0", "t0"),
        (
            "SELECT * FROM gemj.catalogue.datasets JOIN pg_catalog.pg_user ON true",
            "pg_catalog.pg_user",
        ),
        (
            "SELECT (SELECT x FROM secrets) FROM gemj.catalogue.datasets",
            "secrets",
        ),
        ("SELECT * FROM gemj.catalogue", "gemj.catalogue"),
    ] {
        assert_eq!(refused(q), SqlError::UnknownTable(name.to_owned()), "{q}");
    }
}

#[test]
fn functions_outside_the_allow_list_are_refused() {
    for (q, f) in [
        ("SELECT load_extension('x')", "load_extension"),
        ("SELECT readfile('/etc/passwd')", "readfile"),
        ("SELECT randomblob(1000000000)", "randomblob"),
        (
            "SELECT replace(name, 'a', 'aaaaaaaa') FROM gemj.catalogue.datasets",
            "replace",
        ),
        ("SELECT pg_read_file('x')", "pg_read_file"),
        ("SELECT sqlite_version()", "sqlite_version"),
        ("SELECT random()", "random"),
        (
            "SELECT main.count(*) FROM gemj.catalogue.datasets",
            "main.count",
        ),
    ] {
        assert_eq!(refused(q), SqlError::Function(f.to_owned()), "{q}");
    }
    for q in [
        "SELECT count(*) OVER () FROM gemj.catalogue.datasets",
        "SELECT count(*) FILTER (WHERE participants > 1) FROM gemj.catalogue.datasets",
        "SELECT sum(*) FROM gemj.catalogue.datasets",
    ] {
        assert!(matches!(refused(q), SqlError::Unsupported(_)), "{q}");
    }
}

#[test]
fn constructs_outside_the_subset_are_refused() {
    for q in [
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SELECT * FROM generate_series(1, 10)",
        "SELECT * FROM gemj.catalogue.datasets, LATERAL (SELECT 1) x",
        "SELECT * FROM gemj.catalogue.datasets FOR UPDATE",
        "SELECT name INTO x FROM gemj.catalogue.datasets",
        "SELECT * FROM gemj.catalogue.datasets d FULL OUTER JOIN gemj.catalogue.datasets e ON true",
        "VALUES (1)",
        "SELECT x'00'",
        "SELECT name::text FROM gemj.catalogue.datasets",
        "SELECT name ILIKE 'a' FROM gemj.catalogue.datasets",
        "SELECT name ~ 'a' FROM gemj.catalogue.datasets",
        "SELECT INTERVAL '1' DAY",
        "SELECT ARRAY[1, 2]",
        "SELECT DISTINCT ON (name) name FROM gemj.catalogue.datasets",
        "SELECT * EXCLUDE (name) FROM gemj.catalogue.datasets",
    ] {
        let e = refused(q);
        assert!(
            matches!(
                e,
                SqlError::Unsupported(_) | SqlError::Syntax(_) | SqlError::Function(_)
            ),
            "{q}: {e:?}"
        );
    }
}

#[test]
fn limits_bound_the_query() {
    let long = format!("SELECT '{}'", "a".repeat(9000));
    assert_eq!(refused(&long), SqlError::TooLong { max: 8192 });
    let many = format!(
        "SELECT 1 FROM {}",
        ["gemj.catalogue.datasets"; 9].join(", ")
    );
    assert_eq!(refused(&many), SqlError::TooManyTables { max: 8 });
    let deep = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
    assert!(matches!(refused(&deep), SqlError::Unsupported(_)));
}

#[test]
fn nothing_panics_on_arbitrary_text() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet: Vec<char> =
        "SELECT FROM WHERE()*,.'\"`;?$1 gemj.catalogue.datasets sum count\\\n\0é"
            .chars()
            .collect();
    for _ in 0..2_000 {
        let len = usize::try_from(seed % 80).unwrap_or(0);
        let mut q = String::new();
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = usize::try_from(seed % alphabet.len() as u64).unwrap_or(0);
            q.push(alphabet[i]);
        }
        let _ = check(&q, 0, &PUBLISHED, &Limits::default());
    }
}

#[test]
fn what_the_printer_would_change_is_refused() {
    // A type modifier printed raw would end the statement and start others.
    let cast = "SELECT CAST(1 AS x('1)) WHERE 0; PRAGMA query_only=OFF; ATTACH DATABASE ''/tmp/x.db'' AS s; SELECT 1 FROM s.t; --'))";
    assert!(
        matches!(refused(cast), SqlError::Unsupported(_)),
        "{:?}",
        refused(cast)
    );
    assert!(matches!(
        refused(r#"SELECT CAST(1 AS x("a""b"))"#),
        SqlError::Unsupported(_)
    ));
    // Two signs print as a comment; with a newline in a literal the rest would run as SQL.
    let signs = "SELECT - -1 AS a, 'x\n1 AS a WHERE 0; ATTACH \"/tmp/x.db\" AS s; --' AS b";
    assert!(
        matches!(refused(signs), SqlError::Unsupported(_)),
        "{:?}",
        refused(signs)
    );
    assert!(matches!(refused("SELECT - -1"), SqlError::Unsupported(_)));
    assert!(matches!(refused("SELECT -+1"), SqlError::Unsupported(_)));
    assert!(matches!(refused("SELECT 'a\nb'"), SqlError::Unsupported(_)));
    ok("SELECT -(-1), - participants, 1 - -1 FROM gemj.catalogue.datasets");
    // Identifiers SQLite would read as parameters, and quoting that is not SQL's.
    for q in [
        "SELECT @a",
        "SELECT #a",
        "SELECT `name` FROM gemj.catalogue.datasets",
        "SELECT name AS \"a b\" FROM gemj.catalogue.datasets",
        "SELECT 1 FROM gemj.catalogue.datasets AS \"x;y\"",
    ] {
        let e = refused(q);
        assert!(
            matches!(e, SqlError::Unsupported(_) | SqlError::Syntax(_)),
            "{q}: {e:?}"
        );
    }
    // String concatenation (doubling a value per level) is not offered.
    assert!(matches!(
        refused("SELECT name || name FROM gemj.catalogue.datasets"),
        SqlError::Unsupported(_)
    ));
    // Allowed casts.
    ok(
        "SELECT CAST(participants AS VARCHAR(10)), CAST(participants AS DOUBLE), CAST('1' AS INTEGER), CAST(1 AS DECIMAL(10, 2)) FROM gemj.catalogue.datasets",
    );
}

#[test]
fn placeholders_bind_where_they_were_written() {
    let c = check(
        "SELECT name FROM gemj.catalogue.datasets WHERE name = ? OFFSET ? LIMIT ?",
        3,
        &PUBLISHED,
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Printed LIMIT first, bound as written: the limit is the third value, the offset the second.
    assert!(
        c.sql.ends_with("WHERE name = ?1 LIMIT ?3 OFFSET ?2"),
        "{}",
        c.sql
    );
}

#[test]
fn deep_or_long_queries_are_refused_before_any_tree_is_walked() {
    let long_chain = format!("SELECT {}1", "1+".repeat(1_200));
    assert!(matches!(
        refused(&long_chain),
        SqlError::Unsupported(_) | SqlError::TooLong { .. }
    ));
}
