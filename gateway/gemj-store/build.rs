//! Embeds the migrations: for each backend, writes `$OUT_DIR/migrations_<backend>.rs`, a list
//! of `(version, description, include_str!(file))` read from `migrations/<backend>/` named as
//! sqlx names them (`0001_initial.sql`: version 1, description "initial"). `connect.rs` builds
//! sqlx's `Migrator` from it, so the crate needs neither sqlx's proc macros nor their second,
//! host-side build of the SQLite and PostgreSQL drivers (docs/PERFORMANCE.md, "CI time").

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for backend in ["sqlite", "postgres"] {
        let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
            .join("migrations")
            .join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("a readable directory entry").path())
            .filter(|path| path.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        let mut code = String::from("&[\n");
        for path in files {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 migration file name");
            let (version, description) = name
                .split_once('_')
                .unwrap_or_else(|| panic!("{name}: expected <version>_<description>.sql"));
            let version: i64 = version
                .parse()
                .unwrap_or_else(|_| panic!("{name}: the version is not an integer"));
            writeln!(
                code,
                "    ({version}, {:?}, include_str!({:?})),",
                description.replace('_', " "),
                path.display().to_string()
            )
            .expect("writing to a String");
        }
        code.push(']');
        std::fs::write(
            Path::new(&out).join(format!("migrations_{backend}.rs")),
            code,
        )
        .expect("cannot write the migration list");
    }
}
