//! Real CRAM files through the codec ([`rewrite`]): every container header, block, slice header
//! and compression header is read and written back, the rewritten file must equal the original
//! byte for byte, and `samtools view` must print the same records for both.
//!
//! Files: from the shared data directory (`GEMJ_SHARED_DIR`, else `../../../shared` from this
//! crate), the htsget test file `htsnexus_test_NA12878.cram` (written by htslib, no reference
//! needed) and htslib's `range.cram` (with `ce.fa`). Without samtools or the shared data the
//! tests print a notice and pass, unless `CI=true`.

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use gemj_cram::file::rewrite;

type TestResult = Result<(), Box<dyn Error>>;

/// What the machine offers: the `data` folder of the shared data directory and whether
/// samtools runs. A missing one is skipped with a notice, or fails the test in CI (`CI=true`).
fn environment() -> (Option<PathBuf>, bool) {
    let strict = std::env::var("CI").as_deref() == Ok("true");
    let root = match std::env::var_os("GEMJ_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let data = Some(root.join("data")).filter(|d| d.join("htsget").is_dir());
    let samtools = Command::new("samtools")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    for (missing, what) in [
        (
            data.is_none(),
            "the shared data directory (GEMJ_SHARED_DIR)",
        ),
        (!samtools, "samtools"),
    ] {
        if missing {
            assert!(!strict, "{what} is required in CI (CI=true)");
            println!("notice: {what} not found; skipping what needs it");
        }
    }
    (data, samtools)
}

/// `samtools view` of `file` (with `reference`), failing on any message on standard error.
fn samtools_view(file: &Path, reference: Option<&Path>) -> Result<String, Box<dyn Error>> {
    let mut command = Command::new("samtools");
    command.arg("view");
    if let Some(reference) = reference {
        command.arg("-T").arg(reference);
    }
    let output = command.arg(file).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !stderr.trim().is_empty() {
        return Err(format!("samtools view {}: {stderr}", file.display()).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn check(file: &str, reference: Option<&str>) -> TestResult {
    let (Some(data), samtools) = environment() else {
        return Ok(());
    };
    let path = data.join(file);
    let bytes = fs::read(&path)?;
    let (rewritten, summary) = rewrite(&bytes)?;
    assert!(
        summary.containers >= 3 && summary.slice_headers >= 1,
        "{summary:?}"
    );
    assert!(summary.compression_headers >= 2, "{summary:?}");
    assert!(summary.blocks > summary.containers, "{summary:?}");
    assert!(
        rewritten == bytes,
        "{file}: the rewrite differs ({summary:?})"
    );

    if samtools {
        let dir = tempfile::tempdir()?;
        let copy = dir.path().join("rewritten.cram");
        fs::write(&copy, &rewritten)?;
        let reference = reference.map(|r| data.join(r));
        let original = samtools_view(&path, reference.as_deref())?;
        let again = samtools_view(&copy, reference.as_deref())?;
        assert!(!original.is_empty());
        assert!(
            original == again,
            "{file}: samtools view differs after the rewrite"
        );
    }
    Ok(())
}

#[test]
fn htsget_na12878_round_trips() -> TestResult {
    check("htsget/htsnexus_test_NA12878.cram", None)
}

#[test]
fn htslib_range_cram_round_trips() -> TestResult {
    check("htsget/htslib/range.cram", Some("htsget/htslib/ce.fa"))
}

/// Damaged copies of a real file: every structure error is an error, never a panic.
#[test]
fn damaged_files_do_not_panic() -> TestResult {
    let (Some(data), _) = environment() else {
        return Ok(());
    };
    let bytes = fs::read(data.join("htsget/htslib/range.cram"))?;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for _ in 0..2_000 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let i = usize::try_from(next() % damaged.len() as u64)?;
            damaged[i] = u8::try_from(next() & 0xff)?;
        }
        let cut = usize::try_from(next() % damaged.len() as u64)?;
        if next() % 4 == 0 {
            damaged.truncate(cut);
        }
        if rewrite(&damaged).is_err() {
            failures += 1;
        }
    }
    assert!(failures > 0);
    Ok(())
}
