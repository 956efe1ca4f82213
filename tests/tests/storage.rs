//! The gateway with its objects in S3 (a real S3 server, s3s-fs on loopback) serves exactly what
//! it serves from the data folder: the same demo cohort generated into both, every object's
//! bytes, and htsget slices of reads and variants over a set of regions, compared byte for
//! byte. Region requests on S3 are counted: a few ranged GETs each, and no more than twice the
//! bytes the same request reads from local disk.

use std::sync::Arc;

use gemj_e2e::http::Http;
use gemj_e2e::{Res, TestGateway, TestResult};
use gemj_model::{DataFormat, DataObject};
use gemj_objects::{LocalFolderStorage, ObjectStorage};
use gemj_s3::S3Storage;
use gemj_s3::s3s_fs::S3sFs;

const TEST_PUBLIC: &str = "GEMJ-TEST-STORAGE-PUBLIC";

/// The bytes of an htsget request (`path` with its query) on one gateway.
fn fetch(http: &Http, path: &str) -> Res<Vec<u8>> {
    let reply = http.get(path, None)?;
    if reply.status != 200 {
        return Err(format!("GET {path}: {} {}", reply.status, reply.text()).into());
    }
    Ok(http.download_ticket(&reply.json)?)
}

/// Registers the demo's genome files (with their indexes) in a PUBLIC dataset, through the
/// gateway's own storage, from the folder gateway's copies (so both hold the same bytes).
/// A public id, the file and its format, the index and its format.
type Publish = (
    String,
    std::path::PathBuf,
    DataFormat,
    std::path::PathBuf,
    DataFormat,
);

async fn publish(gw: &TestGateway, storage: &dyn ObjectStorage, files: &[Publish]) -> Res<()> {
    let d = gw.demo_public_as(TEST_PUBLIC).await?;
    gw.store.put_dataset(&d).await?;
    let mut ids = Vec::new();
    for (id, file, format, index, index_format) in files {
        let objects = gemj_ingest::genomes::register_pair(
            storage,
            &gw.store,
            (file, *format),
            (index, *index_format),
            &format!("test-storage/{id}"),
            id,
            |_| {},
        )
        .await?;
        ids.extend(objects.into_iter().map(|o| o.id));
    }
    gw.store.add_dataset_objects(&d.id, &ids).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_serves_the_same_bytes_as_the_folder_and_reads_only_what_a_region_needs() -> TestResult {
    let Some(server) = S3sFs::start("gemj")? else {
        return Ok(());
    };
    let s3 = Arc::new(S3Storage::new(&server.config("s3://gemj/cohort"))?);
    let folder_dir = tempfile::tempdir()?;
    let folder = Arc::new(LocalFolderStorage::new(folder_dir.path().join("objects")));
    let on_s3 = TestGateway::start_on(3, Some(s3.clone()), |_| {}).await?;
    let on_folder = TestGateway::start_on(3, Some(folder.clone()), |_| {}).await?;

    // The same cohort, object for object; every S3 object holds its registered bytes.
    let s3_objects = on_s3.store.list_objects(None, 1000).await?;
    let folder_objects = on_folder.store.list_objects(None, 1000).await?;
    assert!(s3_objects.len() >= 20, "{} objects", s3_objects.len());
    assert_eq!(s3_objects.len(), folder_objects.len());
    for (a, b) in s3_objects.iter().zip(&folder_objects) {
        assert_eq!((&a.id, &a.checksums), (&b.id, &b.checksums));
        assert!(
            a.storage_uri.starts_with("s3://gemj/cohort/"),
            "{}",
            a.storage_uri
        );
        let key = s3.key_from_uri(&a.storage_uri).ok_or("an S3 key")?;
        let (size, sha256, md5) = gemj_objects::checksum_object(&*s3, &key).await?;
        assert_eq!(
            (size, sha256.as_str(), md5.as_str()),
            (
                a.size,
                a.checksums.sha256.as_str(),
                a.checksums.md5.as_str()
            ),
            "{}",
            a.id
        );
        let local = folder.path_of(&folder.key_from_uri(&b.storage_uri).ok_or("a key")?);
        let from_s3 = std::fs::read(server.root().join("gemj/cohort").join(key.as_str()))?;
        assert_eq!(from_s3, std::fs::read(local)?, "{}", a.id);
    }

    // The demo's genome files, public on both gateways.
    let find = |id: &str| -> Res<&DataObject> {
        Ok(folder_objects
            .iter()
            .find(|o| o.id.as_str() == id)
            .ok_or_else(|| format!("no object {id}"))?)
    };
    let local = |o: &DataObject| -> Res<std::path::PathBuf> {
        Ok(folder.path_of(&folder.key_from_uri(&o.storage_uri).ok_or("a key")?))
    };
    let mut files = Vec::new();
    for (public, id) in [
        ("pub.bam", "GEMJ-DEMO-0001.bam"),
        ("pub.cram", "GEMJ-DEMO-0001.cram"),
        ("pub.vcf.gz", "gemj-demo-joint.vcf.gz"),
        ("pub.bcf", "gemj-demo-joint.bcf"),
    ] {
        let o = find(id)?;
        let index = find(o.index.as_ref().ok_or("an index")?.as_str())?;
        files.push((
            public.to_owned(),
            local(o)?,
            o.format,
            local(index)?,
            index.format,
        ));
    }
    publish(&on_s3, &*s3, &files).await?;
    publish(&on_folder, &*folder, &files).await?;
    let http_s3 = Http {
        base: on_s3.base_url.clone(),
    };
    let http_folder = Http {
        base: on_folder.base_url.clone(),
    };

    // What a region request reads once the file is open: a handful of ranged GETs, and no
    // more than twice the bytes the same request reads from local disk.
    for (id, fmt, endpoint) in [
        ("pub", "BAM", "reads"),
        ("pub", "CRAM", "reads"),
        ("pub", "VCF", "variants"),
        ("pub", "BCF", "variants"),
    ] {
        // Opening the file (its header and index) is done once, by a header request.
        let header = format!("/htsget/{endpoint}/{id}?format={fmt}&class=header");
        assert_eq!(fetch(&http_s3, &header)?, fetch(&http_folder, &header)?);
        let path = format!(
            "/htsget/{endpoint}/{id}?format={fmt}&referenceName=chr21&start=400000&end=401000"
        );
        let (s3_before, folder_before) = (s3.stats().snapshot(), folder.stats().snapshot());
        let a = fetch(&http_s3, &path)?;
        let b = fetch(&http_folder, &path)?;
        assert_eq!(a, b, "{path}");
        let (s3_after, folder_after) = (s3.stats().snapshot(), folder.stats().snapshot());
        let (requests, s3_bytes) = (s3_after.0 - s3_before.0, s3_after.1 - s3_before.1);
        let folder_bytes = folder_after.1 - folder_before.1;
        eprintln!(
            "{fmt} 1 kb region: {} bytes served; S3 {requests} GETs, {s3_bytes} bytes; folder \
             {folder_bytes} bytes",
            a.len()
        );
        assert!(requests <= 12, "{fmt}: {requests} ranged GETs");
        assert!(
            s3_bytes <= 2 * folder_bytes.max(16 << 10),
            "{fmt}: {s3_bytes} bytes from S3, {folder_bytes} from the folder"
        );
    }

    // Whole files, headers, and regions: the same bytes from both.
    let mut regions = vec![
        String::new(),
        "class=header".to_owned(),
        "referenceName=chr21".to_owned(),
        "referenceName=chr22&start=0&end=1".to_owned(),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..12 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let start = (seed >> 33) % 900_000;
        let width = 1 + (seed >> 13) % 60_000;
        let chr = if seed & 1 == 0 { "chr21" } else { "chr22" };
        regions.push(format!(
            "referenceName={chr}&start={start}&end={}",
            start + width
        ));
    }
    let mut compared = 0;
    for (id, file, format, _, _) in &files {
        let endpoint = if matches!(format, DataFormat::Bam | DataFormat::Cram) {
            "reads"
        } else {
            "variants"
        };
        let id = id.split('.').next().unwrap_or_default();
        let fmt = match format {
            DataFormat::Bam => "BAM",
            DataFormat::Cram => "CRAM",
            DataFormat::Vcf => "VCF",
            _ => "BCF",
        };
        for q in &regions {
            let mut path = format!("/htsget/{endpoint}/{id}?format={fmt}");
            if !q.is_empty() {
                path = format!("{path}&{q}");
            }
            let a = fetch(&http_s3, &path)?;
            let b = fetch(&http_folder, &path)?;
            assert!(
                a == b,
                "{path}: {} bytes from S3, {} from the folder",
                a.len(),
                b.len()
            );
            if q.is_empty() {
                assert_eq!(a, std::fs::read(file)?, "{path}: the whole file");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, files.len() * regions.len());

    on_s3.stop().await;
    on_folder.stop().await;
    Ok(())
}

/// `ingest genome` of objects already in the bucket: each is registered where it is, with
/// checksums streamed from S3; an index beside it is registered where it is too, a missing one
/// is built and uploaded; nothing else is copied; a re-run changes nothing; a key that is not
/// there is refused; and the gateway serves the object's own bytes over htsget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_registers_objects_already_in_the_bucket_where_they_are() -> TestResult {
    use gemj_ingest::genomes::{GenomeOptions, ingest_object};
    use gemj_objects::ObjectKey;

    let Some(server) = S3sFs::start("gemj")? else {
        return Ok(());
    };
    let s3 = Arc::new(S3Storage::new(&server.config("s3://gemj/cohort"))?);
    let gw = TestGateway::start_on(3, Some(s3.clone()), |_| {}).await?;
    // A PUBLIC dataset to ingest into, so that the answer can be fetched anonymously.
    let d = gw.demo_public_as("GEMJ-TEST-INGEST-S3").await?;
    gw.store.put_dataset(&d).await?;

    // A participant's VCF and its index, put in the bucket as a sequencing centre would.
    let objects = gw.store.list_objects(None, 1000).await?;
    let vcf = objects
        .iter()
        .find(|o| o.format == DataFormat::Vcf && o.id.as_str().starts_with("GEMJ-DEMO-0001"))
        .ok_or("a VCF of GEMJ-DEMO-0001")?;
    let tbi = objects
        .iter()
        .find(|o| Some(&o.id) == vcf.index.as_ref())
        .ok_or("its index")?;
    let bytes_of = |o: &DataObject| -> Res<Vec<u8>> {
        let key = s3.key_from_uri(&o.storage_uri).ok_or("an S3 key")?;
        Ok(std::fs::read(
            server.root().join("gemj/cohort").join(key.as_str()),
        )?)
    };
    let (vcf_bytes, tbi_bytes) = (bytes_of(vcf)?, bytes_of(tbi)?);
    let work = tempfile::tempdir()?;
    let upload = work.path().join("upload");
    let mut put = Vec::new();
    for (key, bytes) in [
        ("sequencer/run7/GEMJ-DEMO-0001.run7.vcf.gz", &vcf_bytes),
        ("sequencer/run7/GEMJ-DEMO-0001.run7.vcf.gz.tbi", &tbi_bytes),
        ("sequencer/run8/GEMJ-DEMO-0001.run8.vcf.gz", &vcf_bytes),
    ] {
        std::fs::write(&upload, bytes)?;
        let key = ObjectKey::parse(key)?;
        s3.put_file(&key, &upload).await?;
        put.push(key);
    }
    let [with_index, its_index, without_index] =
        <[ObjectKey; 3]>::try_from(put).map_err(|_| "three keys")?;

    let options = GenomeOptions {
        dataset: d.id.clone(),
        dry_run: false,
        work_dir: work.path().join("ingest"),
    };
    let mut report = gemj_ingest::IngestReport::new("genome", false);
    for key in [&with_index, &without_index] {
        ingest_object(&gw.store, &*s3, key, &options, &mut report).await?;
    }
    let counts = &report.by_kind["genome_file"];
    assert_eq!((counts.records, counts.created), (2, 2), "{report:?}");
    assert_eq!(
        report
            .genomes
            .as_ref()
            .ok_or("genome counts")?
            .indexes_built,
        1
    );

    // Registered where they are, with the bucket's own checksums.
    let mut registered = Vec::new();
    for id in gw.store.dataset_objects(&d.id).await? {
        registered.push(
            gw.store
                .get_object(&id)
                .await?
                .ok_or("a registered object")?,
        );
    }
    let uri = |key: &ObjectKey| s3.uri(key);
    let by_uri = |u: &str| -> Res<&DataObject> {
        Ok(registered
            .iter()
            .find(|o| o.storage_uri == u)
            .ok_or_else(|| format!("nothing registered at {u}"))?)
    };
    for key in [&with_index, &its_index, &without_index] {
        let o = by_uri(&uri(key))?;
        let (size, sha256, md5) = gemj_objects::checksum_object(&*s3, key).await?;
        assert_eq!(
            (
                o.size,
                o.checksums.sha256.as_str(),
                o.checksums.md5.as_str()
            ),
            (size, sha256.as_str(), md5.as_str())
        );
    }
    let run7 = by_uri(&uri(&with_index))?;
    assert_eq!(run7.index.as_ref(), Some(&by_uri(&uri(&its_index))?.id));
    let run8 = by_uri(&uri(&without_index))?;
    let built = registered
        .iter()
        .find(|o| Some(&o.id) == run8.index.as_ref())
        .ok_or("run8's index")?;
    assert!(
        built
            .storage_uri
            .starts_with("s3://gemj/cohort/ingest/GEMJ-TEST-INGEST-S3/"),
        "{}",
        built.storage_uri
    );
    // Nothing but the built index was written under the ingest prefix.
    let uploaded: Vec<_> =
        std::fs::read_dir(server.root().join("gemj/cohort/ingest/GEMJ-TEST-INGEST-S3"))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(uploaded, ["GEMJ-DEMO-0001.run8.vcf.gz.tbi"], "{uploaded:?}");

    // A re-run changes nothing; a key that is not there is refused.
    let mut again = gemj_ingest::IngestReport::new("genome", false);
    for key in [&with_index, &without_index] {
        ingest_object(&gw.store, &*s3, key, &options, &mut again).await?;
    }
    assert_eq!(again.by_kind["genome_file"].unchanged, 2, "{again:?}");
    let missing = ObjectKey::parse("sequencer/run9/none.vcf.gz")?;
    let refused = ingest_object(&gw.store, &*s3, &missing, &options, &mut again).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("sequencer/run9/none.vcf.gz") && message.contains("not in"),
        "{message}"
    );

    // The gateway serves the object's own bytes.
    let http = Http {
        base: gw.base_url.clone(),
    };
    let served = fetch(
        &http,
        &format!("/htsget/variants/{}?format=VCF", run7.id.as_str()),
    )?;
    assert_eq!(served, vcf_bytes);
    Ok(())
}

/// With `drs.presigned_urls`, a DRS access URL of an object in S3 is presigned by the bucket:
/// it reads the object's bytes straight from S3, expires with the data URLs, and is issued only
/// after the same decision (a caller refused a data URL is refused a presigned one too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_access_urls_can_be_presigned_by_the_bucket() -> TestResult {
    let Some(server) = S3sFs::start("gemj")? else {
        return Ok(());
    };
    let s3 = Arc::new(S3Storage::new(&server.config("s3://gemj/cohort"))?);
    let gw = TestGateway::start_on(3, Some(s3.clone()), |c| c.drs.presigned_urls = true).await?;
    let objects = gw.store.list_objects(None, 1000).await?;
    let bam = objects
        .iter()
        .find(|o| o.format == DataFormat::Bam)
        .ok_or("a BAM")?;
    let bai = objects
        .iter()
        .find(|o| Some(&o.id) == bam.index.as_ref())
        .ok_or("its index")?;
    let bytes = std::fs::read(gw.local_file(&bam.storage_uri).await?)?;
    let files = [(
        "presigned.bam".to_owned(),
        gw.local_file(&bam.storage_uri).await?,
        DataFormat::Bam,
        gw.local_file(&bai.storage_uri).await?,
        DataFormat::Bai,
    )];
    publish(&gw, &*s3, &files).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };

    // Anyone may read the PUBLIC copy: its access URL is the bucket's own, presigned.
    let reply = http.get("/ga4gh/drs/v1/objects/presigned.bam/access/https", None)?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let url = reply.json["url"].as_str().ok_or("a url")?.to_owned();
    let endpoint = server
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .map(|(_, v)| v)
        .ok_or("the endpoint")?;
    assert!(url.starts_with(&endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let fetched = ureq::get(&url).call()?.into_body().read_to_vec()?;
    assert_eq!(fetched, bytes);
    // The signature covers the key: another key under the same signature is refused by S3.
    let forged = url.replacen("presigned.bam", "presigned.bam.bai", 1);
    assert!(ureq::get(&forged).call().is_err(), "{forged}");

    // The same decision as for a data URL: an anonymous caller gets no URL for CONTROLLED data.
    let refused = http.get(
        &format!("/ga4gh/drs/v1/objects/{}/access/https", bam.id.as_str()),
        None,
    )?;
    assert!(
        matches!(refused.status, 401 | 403 | 404),
        "{} {}",
        refused.status,
        refused.text()
    );
    assert!(!refused.text().contains("X-Amz"), "{}", refused.text());
    Ok(())
}
