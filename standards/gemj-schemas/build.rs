//! Embeds the official schemas shipped with the project (`<workspace>/schemas/official`, pinned
//! in `schemas/official-pins.json`): every `.json`, `.yaml` and `.yml` file under that folder
//! becomes one entry of `EMBEDDED`, its path relative to the folder and its bytes
//! (`include_bytes!`). The binary then validates against them from any working directory, with
//! nothing beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.join("../../schemas/official");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no official schema under {}: the checkout is incomplete",
        root.display()
    );
    let mut out = String::from(
        "/// The official schema documents shipped with the project: (path relative to \
         `schemas/official`, bytes).\npub(crate) static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for (relative, absolute) in &files {
        writeln!(out, "    ({relative:?}, include_bytes!({absolute:?})),").expect("a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("embedded.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            let relative = path.strip_prefix(root).expect("under the root");
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = path.canonicalize().expect("an existing file");
            files.push((relative, absolute.to_string_lossy().into_owned()));
        }
    }
}
