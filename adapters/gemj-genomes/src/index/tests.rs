use noodles::csi::BinningIndex as _;

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn csi_depths_follow_htslib() {
    // `for (n_lvls = 0, s = 1 << min_shift; max_len > s; ++n_lvls, s <<= 3);` with max_len + 256.
    assert_eq!(csi_depth(0), 0);
    assert_eq!(csi_depth(16_000), 0);
    assert_eq!(csi_depth(16_384), 1);
    assert_eq!(csi_depth(248_956_422), 5); // GRCh38 chr1.
    assert_eq!(csi_depth((1 << 29) - 257), 5);
    assert_eq!(csi_depth(1 << 29), 6);
    assert_eq!(csi_depth((1 << 31) - 1), 6);
    assert_eq!(csi_depth(u64::MAX), MAX_DEPTH);
    assert_eq!(capacity(BAI_DEPTH), (1 << 29) - 1);
}

#[test]
fn contig_lengths() {
    let check = |line: &str, expect: Option<u64>| {
        assert_eq!(contig_length(line.as_bytes()), expect, "{line}");
    };
    check("##contig=<ID=chr1,length=248956422>\n", Some(248_956_422));
    check("##contig=<length=5,ID=x>\n", Some(5));
    check(
        "##contig=<ID=chr1,assembly=b38,length=10,md5=x>\n",
        Some(10),
    );
    check("##contig=<ID=chr1>\n", None);
    check("##contig=<ID=chr1,xlength=10>\n", None);
    check("##INFO=<ID=chr1,length=10>\n", None);
}

#[test]
fn vcf_spans_as_tabix() {
    let check = |line: &str, expect: Result<(&str, u64, u64), &str>| {
        assert_eq!(vcf_span(line.as_bytes()), expect, "{line}");
    };
    check("chr1\t10\t.\tA\tG\t.\t.\t.", Ok(("chr1", 10, 10)));
    check("chr1\t10\t.\tACGT\tA\t.\t.\t.", Ok(("chr1", 10, 13)));
    check(
        "chr1\t10\t.\tA\t<DEL>\t.\t.\tSVTYPE=DEL;END=500",
        Ok(("chr1", 10, 500)),
    );
    check("chr1\t10\t.\tA\t<DEL>\t.\t.\tEND=5", Ok(("chr1", 10, 10)));
    check(
        "chr1\t10\t.\tA\t<DEL>\t.\t.\tXEND=500",
        Ok(("chr1", 10, 10)),
    );
    check("chr1\t10\t.\tA", Ok(("chr1", 10, 10)));
    check("chr1\t0\t.\tA", Err("POS is not a positive integer"));
    check("chr1\tx\t.\tA", Err("POS is not a positive integer"));
    check("chr1", Err("no POS"));
    check("\t1", Err("empty CHROM"));
}

#[test]
fn order_checks() {
    let mut o = Order::default();
    assert!(o.check(Some(0), 5).is_ok());
    assert!(o.check(Some(0), 5).is_ok());
    assert!(o.check(Some(1), 1).is_ok());
    assert!(o.check(Some(1), 0).is_err());
    let mut o = Order::default();
    assert!(o.check(Some(1), 5).is_ok());
    assert!(o.check(Some(0), 9).is_err());
    let mut o = Order::default();
    assert!(o.check(None, 0).is_ok());
    assert!(o.check(Some(0), 1).is_err());
}

#[test]
fn refuses_what_it_cannot_index() -> TestResult {
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("x.vcf");
    std::fs::write(
        &plain,
        "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
    )?;
    assert!(matches!(
        build_index(&plain),
        Err(GenomesError::WrongFormat { .. })
    ));
    let bai = dir.path().join("x.bai");
    std::fs::write(&bai, b"BAI\x01\0\0\0\0")?;
    assert!(matches!(
        build_index(&bai),
        Err(GenomesError::WrongFormat { .. })
    ));
    assert!(matches!(
        bgzip_vcf(&bai, &dir.path().join("y")),
        Err(GenomesError::WrongFormat { .. })
    ));
    assert!(!dir.path().join("y").exists());
    Ok(())
}

#[test]
fn unsorted_vcf_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("x.vcf");
    std::fs::write(
        &plain,
        "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
         chr1\t10\t.\tA\tG\t.\t.\t.\nchr1\t5\t.\tA\tG\t.\t.\t.\n",
    )?;
    let gz = dir.path().join("x.vcf.gz");
    bgzip_vcf(&plain, &gz)?;
    match build_index(&gz) {
        Err(GenomesError::Invalid { position, .. }) => assert_eq!(position, "line 4"),
        other => panic!("{other:?}"),
    }
    std::fs::write(
        &plain,
        "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
         chr1\t10\t.\tA\tG\t.\t.\t.\nchr2\t5\t.\tA\tG\t.\t.\t.\nchr1\t50\t.\tA\tG\t.\t.\t.\n",
    )?;
    bgzip_vcf(&plain, &gz)?;
    assert!(matches!(
        build_index(&gz),
        Err(GenomesError::Invalid { .. })
    ));
    Ok(())
}

#[test]
fn long_contigs_get_a_csi() -> TestResult {
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("x.vcf");
    // No length in the header, but a record past 2^29: the tabix pass gives way to a CSI.
    std::fs::write(
        &plain,
        "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
         chr1\t10\t.\tA\tG\t.\t.\t.\nchr1\t900000000\t.\tA\tG\t.\t.\t.\n",
    )?;
    let gz = dir.path().join("x.vcf.gz");
    bgzip_vcf(&plain, &gz)?;
    let Index::Csi(index) = build_index(&gz)? else {
        return Err("expected a CSI".into());
    };
    assert_eq!(index.depth(), csi_depth(900_000_000));
    // With the length in the header, straight to a CSI.
    std::fs::write(
        &plain,
        "##fileformat=VCFv4.3\n##contig=<ID=chr1,length=1000000000>\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tA\tG\t.\t.\t.\n",
    )?;
    bgzip_vcf(&plain, &gz)?;
    let (path, format) = write_index(&gz)?;
    assert_eq!(format, DataFormat::Csi);
    assert!(path.ends_with("x.vcf.gz.csi"));
    let index = csi::fs::read(&path)?;
    assert_eq!(index.depth(), 6);
    Ok(())
}

#[test]
fn first_windows_of_bins() {
    // hts_bin_bot with n_lvls 5: bin 0 starts at window 0, bin 1 (level 1) at 0, bin 2 at 8^4.
    assert_eq!(first_window(0, 5), 0);
    assert_eq!(first_window(1, 5), 0);
    assert_eq!(first_window(2, 5), 4096);
    assert_eq!(first_window(4681, 5), 0);
    assert_eq!(first_window(4682, 5), 1);
    assert_eq!(first_window(9, 5), 0);
    assert_eq!(first_window(10, 5), 512);
    assert_eq!(first_window(37_449, 6), 0); // First bin of level 6.
    assert_eq!(first_window(37_450, 5), 0); // Past the deepest level.
}

#[test]
fn window_offsets_as_htslib() -> TestResult {
    let vp = |n: u64| bgzf::VirtualPosition::from(n);
    let pos = |n: usize| Position::new(n).ok_or("position 0");
    let mut w = Windows::default();
    // A long record over windows 0..=2, then one in window 1, one in window 5.
    w.add(0, pos(100)?, pos(40_000)?, vp(10));
    w.add(0, pos(20_000)?, pos(20_100)?, vp(20));
    w.add(0, pos(90_000)?, pos(90_001)?, vp(30));
    assert_eq!(w.offset(0, 0), vp(10));
    assert_eq!(w.offset(0, 1), vp(10));
    assert_eq!(w.offset(0, 2), vp(10));
    assert_eq!(w.offset(0, 3), vp(30)); // Empty: the next window's (htslib 1.16 and later).
    assert_eq!(w.offset(0, 4), vp(30));
    assert_eq!(w.offset(0, 5), vp(30));
    assert_eq!(w.offset(0, 6), vp(0)); // Past the last record.
    assert_eq!(w.offset(1, 0), vp(0)); // No records.
    Ok(())
}
