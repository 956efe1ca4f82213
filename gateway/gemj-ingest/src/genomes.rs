//! Genome files into the gateway: detect the format, make a plain VCF BGZF, find or build the
//! index, map sample columns to stored specimens, load VCF/BCF alleles into the dataset's
//! variant index, then register the file and its index as DRS objects of the dataset.
//!
//! A file is one unit: quarantined whole (unknown format, no sample that names a stored
//! specimen, only withdrawn participants), or registered. Variants are merged before the object
//! is registered, each in its own transaction; both steps are idempotent, so a run killed
//! between them is completed by running it again. A withdrawn participant's genotypes are never
//! loaded (and the htsget and DRS layers never serve their samples).
//!
//! [`register_pair`] copies a file and its index into the object storage and registers both: the
//! one way a genome file becomes a DRS object, for ingest and for the demo cohort alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gemj_genomes::detect::{Compression, detect_file};
use gemj_model::source::Diagnostic;
use gemj_model::{
    Checksums, ConsentStatus, DataFormat, DataObject, DatasetId, ObjectId, ParticipantId,
    Provenance, SpecimenId,
};
use gemj_objects::{ObjectKey, ObjectStorage};
use gemj_store::{Store, VariantContribution};

use gemj_core::CoreError;

use super::report::{GenomeCounts, IngestReport, Outcome};

/// How genome files are ingested.
#[derive(Debug, Clone)]
pub struct GenomeOptions {
    /// The dataset the files (and their participants) join; its variant index receives the
    /// alleles.
    pub dataset: DatasetId,
    /// Report only; write nothing.
    pub dry_run: bool,
    /// Where temporary files (a BGZF copy, a built index) are written.
    pub work_dir: PathBuf,
}

/// Alleles merged per store call (one transaction each).
const MERGE_BATCH: usize = 200_000;

/// Carrier calls merged per store call at most (a 2,000-sample cohort VCF has ~100 carriers
/// per allele: 200,000 alleles would be 20 M calls in one transaction).
const MERGE_CALLS: usize = 1_000_000;

/// Where a genome file comes from.
#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    /// A local file: copied into the object storage when registered.
    Local,
    /// An object already in the object storage (read into the work folder to be checked):
    /// registered where it is, with its index when one lies beside it.
    Stored {
        key: &'a ObjectKey,
        index: Option<&'a ObjectKey>,
    },
}

/// Ingests one genome file.
///
/// # Errors
/// Store and object-storage failures (the file's outcome is then unknown: run it again).
pub async fn ingest_file(
    store: &Store,
    objects: &dyn ObjectStorage,
    path: &Path,
    options: &GenomeOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    ingest_from(store, objects, path, Origin::Local, options, report).await
}

/// Ingests a genome file that is already an object of the object storage (`s3://bucket/...`
/// under the configured prefix, or a key of the local folder): it is streamed into the work
/// folder to be checked, indexed and read like a local file, and then registered *where it is*,
/// with checksums computed by streaming it from the storage. An index beside it (`.bai`,
/// `.crai`, `.tbi`, `.csi` appended to the key) is used and registered where it is too; without
/// one, the index built here is uploaded beside the other ingested files. A plain (not BGZF)
/// VCF cannot be served where it is: its BGZF copy is uploaded instead.
///
/// # Errors
/// [`CoreError::InvalidInput`] when there is no such object; store and object-storage failures.
pub async fn ingest_object(
    store: &Store,
    objects: &dyn ObjectStorage,
    key: &ObjectKey,
    options: &GenomeOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    if !objects.exists(key).await? {
        return Err(CoreError::InvalidInput(format!(
            "{} is not in the object storage",
            objects.uri(key)
        )));
    }
    let name = key.as_str().rsplit('/').next().unwrap_or(key.as_str());
    // One folder per object, so that two objects of the same name do not meet.
    let folder = options
        .work_dir
        .join(format!("stored-{}", hex_of(key.as_str())));
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| CoreError::InvalidInput(format!("work folder: {e}")))?;
    let local = folder.join(name);
    gemj_objects::copy_to_file(objects, key, &local).await?;
    let mut index = None;
    for ext in ["bai", "crai", "tbi", "csi"] {
        let candidate = ObjectKey::parse(&format!("{}.{ext}", key.as_str()))?;
        if objects.exists(&candidate).await? {
            gemj_objects::copy_to_file(objects, &candidate, &folder.join(format!("{name}.{ext}")))
                .await?;
            index = Some(candidate);
            break;
        }
    }
    let origin = Origin::Stored {
        key,
        index: index.as_ref(),
    };
    ingest_from(store, objects, &local, origin, options, report).await
}

/// A short stable name for a key (its SHA-256, first 16 hex digits).
fn hex_of(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

async fn ingest_from(
    store: &Store,
    objects: &dyn ObjectStorage,
    path: &Path,
    origin: Origin<'_>,
    options: &GenomeOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let provenance = Provenance {
        source: "genome".to_owned(),
        file: Some(name.clone()),
        position: None,
        value: None,
    };
    report.files += 1;
    if store.get_dataset(&options.dataset).await?.is_none() {
        return Err(CoreError::InvalidInput(format!(
            "dataset {} is not stored",
            options.dataset
        )));
    }
    let quarantine = |report: &mut IngestReport, reason: &str| {
        report.record("genome_file", Outcome::Quarantined);
        report.quarantine(&provenance, "genome_file", reason);
    };

    let (file, format, built) = match prepare(path, &options.work_dir).await {
        Ok(p) => p,
        Err(reason) => {
            quarantine(report, &reason);
            return Ok(());
        }
    };
    let (file_path, index_path, index_format) = (file.0, file.1, file.2);
    let counts = report.genomes.get_or_insert_with(GenomeCounts::default);
    counts.indexes_built += u64::from(built);

    // Sample columns (VCF/BCF) or read-group samples (BAM/CRAM) are specimen ids.
    let samples = sample_names(format, &file_path, &index_path, &name, report).await?;
    let mapped = gemj_genomes::specimens::specimens_of_samples(&name, &samples);
    report
        .diagnostics
        .extend(mapped.diagnostics.iter().cloned());
    let mut specimens: Vec<SpecimenId> = Vec::new();
    let mut column_participant: Vec<Option<ParticipantId>> = vec![None; samples.len()];
    let mut participants: Vec<ParticipantId> = Vec::new();
    let mut withdrawn = 0_usize;
    for (column, specimen) in mapped.specimens.iter().enumerate() {
        let Some(specimen) = specimen else { continue };
        let Some(stored) = store.get_specimen(specimen).await? else {
            report.diagnostics.push(Diagnostic::error(
                &name,
                "header",
                "sample",
                format!(
                    "sample column {} names a specimen that is not stored",
                    column + 1
                ),
            ));
            continue;
        };
        let state = store.consent_state(&stored.participant).await?;
        if state.is_some_and(|s| s.status == ConsentStatus::Withdrawn) {
            withdrawn += 1;
            continue;
        }
        specimens.push(specimen.clone());
        if !participants.contains(&stored.participant) {
            participants.push(stored.participant.clone());
        }
        if let Some(slot) = column_participant.get_mut(column) {
            *slot = Some(stored.participant);
        }
    }
    if specimens.is_empty() {
        let reason = if withdrawn > 0 {
            "every sample belongs to a participant whose consent is withdrawn".to_owned()
        } else {
            "no sample names a stored specimen".to_owned()
        };
        quarantine(report, &reason);
        return Ok(());
    }
    let ordinals: HashMap<ParticipantId, u32> = store
        .participant_ordinals(&participants)
        .await?
        .into_iter()
        .collect();
    let ordinal_of_column: Vec<Option<u32>> = column_participant
        .iter()
        .map(|p| p.as_ref().and_then(|p| ordinals.get(p).copied()))
        .collect();
    // The specimen of each served column, by ordinal: which specimen's calls hold an allele.
    let specimen_ordinals: HashMap<SpecimenId, u32> = store
        .specimen_ordinals(&specimens)
        .await?
        .into_iter()
        .collect();
    let columns: Vec<Option<(u32, u32)>> = ordinal_of_column
        .iter()
        .zip(&mapped.specimens)
        .map(|(participant, specimen)| {
            let participant = (*participant)?;
            let specimen = specimen_ordinals.get(specimen.as_ref()?).copied()?;
            Some((participant, specimen))
        })
        .collect();

    if matches!(format, DataFormat::Vcf | DataFormat::Bcf) {
        load_variants(store, &file_path, &name, &columns, options, report).await?;
    }

    // Register the file and its index.
    let object_id = object_id_of(&name, &file_path);
    let existing = store
        .get_object(&gemj_model::ObjectId::parse(&object_id).map_err(|e| {
            CoreError::InvalidInput(format!("no object id can be made from the file name: {e}"))
        })?)
        .await?;
    let sums = {
        let p = file_path.clone();
        tokio::task::spawn_blocking(move || gemj_genomes::checksum::checksum_file(p))
            .await
            .map_err(CoreError::from)?
            .map_err(|e| CoreError::InvalidInput(format!("cannot read {name}: {e}")))?
    };
    let outcome = match &existing {
        Some(o) if o.checksums.sha256 == sums.checksums.sha256 && o.specimens == specimens => {
            Outcome::Unchanged
        }
        Some(_) => Outcome::Merged,
        None => Outcome::Created,
    };
    if !options.dry_run && outcome != Outcome::Unchanged {
        let participant = (participants.len() == 1).then(|| participants[0].clone());
        let describe = |o: &mut DataObject| {
            o.participant.clone_from(&participant);
            o.specimens.clone_from(&specimens);
            o.description = Some(format!("Registered by ingest from {name}"));
        };
        let key_prefix = format!("ingest/{}", options.dataset);
        let registered = match origin {
            // The stored object itself is what is served (a plain VCF's BGZF copy is not it).
            Origin::Stored { key, index } if file_path == path => {
                let index_name = file_name_of(&index_path);
                let index_id = index_object_id(&object_id, &name, &index_name);
                let idx = match index.filter(|_| !built) {
                    Some(index_key) => {
                        register_in_place(
                            objects,
                            store,
                            index_key,
                            &index_id,
                            index_format,
                            describe,
                        )
                        .await?
                    }
                    None => {
                        register_file(
                            objects,
                            store,
                            &index_path,
                            &format!("{key_prefix}/{index_name}"),
                            &index_id,
                            index_format,
                            describe,
                        )
                        .await?
                    }
                };
                let f = register_in_place(objects, store, key, &object_id, format, |o| {
                    describe(o);
                    o.index = Some(idx.id.clone());
                })
                .await?;
                vec![f, idx]
            }
            _ => {
                register_pair(
                    objects,
                    store,
                    (&file_path, format),
                    (&index_path, index_format),
                    &key_prefix,
                    &object_id,
                    describe,
                )
                .await?
            }
        };
        let ids: Vec<gemj_model::ObjectId> = registered.iter().map(|o| o.id.clone()).collect();
        store.add_dataset_objects(&options.dataset, &ids).await?;
        store
            .add_dataset_participants(&options.dataset, &participants)
            .await?;
        if let Some(g) = report.genomes.as_mut() {
            g.objects_registered += u64::try_from(registered.len()).unwrap_or(0);
        }
    }
    report.record("genome_file", outcome);
    if withdrawn > 0 {
        report.diagnostics.push(Diagnostic::warning(
            &name,
            "header",
            "sample",
            format!("{withdrawn} sample(s) of withdrawn participants were not loaded"),
        ));
    }
    Ok(())
}

/// The file to register (a BGZF copy of a plain VCF), its format, its index and whether the
/// index was built here. Errors are reasons to quarantine the file.
/// A file ready to register: the file (a BGZF copy of a plain VCF), its index and the index's
/// format; the file's format; whether the index was built here.
type Prepared = ((PathBuf, PathBuf, DataFormat), DataFormat, bool);

async fn prepare(path: &Path, work_dir: &Path) -> Result<Prepared, String> {
    let path = path.to_owned();
    let work_dir = work_dir.to_owned();
    tokio::task::spawn_blocking(move || prepare_blocking(&path, &work_dir))
        .await
        .map_err(|e| format!("preparing the file failed: {e}"))?
}

fn prepare_blocking(path: &Path, work_dir: &Path) -> Result<Prepared, String> {
    let detected = detect_file(path).map_err(|e| format!("not a genome file: {e}"))?;
    let format = detected.format;
    if !matches!(
        format,
        DataFormat::Bam | DataFormat::Cram | DataFormat::Vcf | DataFormat::Bcf
    ) {
        return Err(format!(
            "{} files are registered with the file they index, not alone",
            format.as_str()
        ));
    }
    std::fs::create_dir_all(work_dir).map_err(|e| format!("work folder: {e}"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file = path.to_owned();
    if format == DataFormat::Vcf && detected.compression != Compression::Bgzf {
        let base = name.trim_end_matches(".gz");
        let target = work_dir.join(format!("{base}.gz"));
        gemj_genomes::index::bgzip_vcf(path, &target).map_err(|e| format!("bgzip: {e}"))?;
        file = target;
    }
    for ext in ["bai", "crai", "tbi", "csi"] {
        let mut candidate = file.as_os_str().to_owned();
        candidate.push(".");
        candidate.push(ext);
        let candidate = PathBuf::from(candidate);
        if candidate.is_file()
            && let Ok(d) = detect_file(&candidate)
        {
            return Ok(((file, candidate, d.format), format, false));
        }
    }
    // No index beside the file: build one in the work folder.
    let index = gemj_genomes::index::build_index(&file).map_err(|e| format!("index: {e}"))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = work_dir.join(format!("{file_name}.{}", index.extension()));
    index.write(&target).map_err(|e| format!("index: {e}"))?;
    Ok(((file, target, index.format()), format, true))
}

/// The file's samples: the sample columns of a VCF or BCF, the read groups' `SM` of a BAM or
/// CRAM. A reads file without `@RG SM` falls back to its file name up to the first `.` (the
/// convention of the demo and of many pipelines), with a warning in the report saying so.
async fn sample_names(
    format: DataFormat,
    file: &Path,
    index: &Path,
    name: &str,
    report: &mut IngestReport,
) -> Result<Vec<String>, CoreError> {
    let slice_format = match format {
        DataFormat::Bam => gemj_genomics::slice::Format::Bam,
        DataFormat::Cram => gemj_genomics::slice::Format::Cram,
        DataFormat::Bcf => gemj_genomics::slice::Format::Bcf,
        _ => gemj_genomics::slice::Format::Vcf,
    };
    let (path, index) = (file.to_owned(), index.to_owned());
    let samples = tokio::task::spawn_blocking(move || {
        gemj_genomics::slice::IndexedFile::open(slice_format, &path, &index)
            .map(|f| f.sample_names().to_vec())
    })
    .await
    .map_err(CoreError::from)?
    .map_err(|e| CoreError::InvalidInput(format!("cannot read the file's header: {e}")))?;
    if slice_format.is_reads() && samples.is_empty() {
        let stem = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let specimen = stem.split('.').next().unwrap_or_default().to_owned();
        report.diagnostics.push(Diagnostic::warning(
            name,
            "header",
            "sample",
            "no read group names a sample (@RG SM): the specimen is taken from the file name"
                .to_owned(),
        ));
        return Ok(vec![specimen]);
    }
    Ok(samples)
}

async fn load_variants(
    store: &Store,
    file: &Path,
    name: &str,
    columns: &[Option<(u32, u32)>],
    options: &GenomeOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let path = file.to_owned();
    let columns = columns.to_vec();
    // The reader streams batches to the merges (bounded in alleles and in carrier calls): a
    // cohort VCF of thousands of samples never sits in memory whole, and no statement carries
    // more calls than PostgreSQL takes in one message.
    let (send, mut batches) = tokio::sync::mpsc::channel::<Vec<VariantContribution>>(1);
    let reading = tokio::task::spawn_blocking(move || {
        let mut reader = gemj_genomes::variants::VariantReader::open(&path)?;
        let mut batch = Vec::new();
        let mut queued = 0_usize;
        while let Some(allele) = reader.next_allele() {
            // Each served column that carries the allele: its participant (with the copies)
            // and its specimen.
            let (carriers, callsets): (Vec<(u32, u8)>, Vec<u32>) = allele
                .copies
                .iter()
                .zip(&columns)
                .filter_map(|(&copies, column)| {
                    let (participant, specimen) = (*column)?;
                    (copies > 0).then_some(((participant, copies), specimen))
                })
                .unzip();
            // Each carrier specimen's call (ploidy, depth, allele fraction).
            let calls = allele
                .copies
                .iter()
                .zip(&columns)
                .zip(allele.calls)
                .filter_map(|((&copies, column), call)| {
                    let (_, specimen) = (*column)?;
                    (copies > 0).then_some((specimen, copies, *call))
                })
                .collect();
            let notes = (!allele.notes.is_empty()).then(|| allele.notes.clone());
            queued += 1 + carriers.len();
            batch.push(VariantContribution {
                key: allele.key.clone(),
                carriers,
                callsets,
                calls,
                notes,
            });
            if batch.len() >= MERGE_BATCH || queued >= MERGE_CALLS {
                queued = 0;
                if send.blocking_send(std::mem::take(&mut batch)).is_err() {
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = send.blocking_send(batch);
        }
        Ok::<_, gemj_genomes::GenomesError>(reader.finish())
    });
    while let Some(batch) = batches.recv().await {
        if options.dry_run {
            continue;
        }
        let m = store.merge_variants(&options.dataset, &batch).await?;
        let g = report.genomes.get_or_insert_with(GenomeCounts::default);
        g.variants_created += m.created;
        g.variants_merged += m.merged;
        g.variants_unchanged += m.unchanged;
        g.variants_without_carriers += m.without_carriers;
    }
    let summary = reading
        .await?
        .map_err(|e| CoreError::InvalidInput(format!("cannot read {name}: {e}")))?;
    report.diagnostics.extend(summary.diagnostics);
    let g = report.genomes.get_or_insert_with(GenomeCounts::default);
    g.variant_records += summary.alleles;
    Ok(())
}

/// The object id of a registered file: its (BGZF) file name, which is a valid id for the names
/// GeMJ uses (`GEMJ-TEST-0001.somatic.vcf.gz`); other characters become `_`.
fn object_id_of(original: &str, file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| original.to_owned());
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    id.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// One file copied into `objects` under `key` and registered as the DRS object `object_id`,
/// with its checksums, described by `describe`.
///
/// # Errors
/// Store and object-storage failures; [`CoreError::InvalidInput`] for an id the model refuses.
pub async fn register_file(
    objects: &dyn ObjectStorage,
    store: &Store,
    path: &Path,
    key: &str,
    object_id: &str,
    format: DataFormat,
    describe: impl FnOnce(&mut DataObject),
) -> Result<DataObject, CoreError> {
    let key = gemj_objects::ObjectKey::parse(key)?;
    let info = objects.put_file(&key, path).await?;
    let name = file_name_of(path);
    let name = if name.is_empty() {
        object_id.to_owned()
    } else {
        name
    };
    let sums = (info.size, info.sha256.as_str(), info.md5.as_str());
    store_object(store, object_id, name, format, sums, info.uri, describe).await
}

/// A file and its index, registered together: both copied into `objects` under `key_prefix`,
/// the file first and its index after it (so the stored index is never older than its file,
/// which htslib warns about), then recorded index first, so the file can point at it: the file
/// as `object_id` and the index as `object_id` plus the index's suffix (`.bai`, `.tbi`, ...),
/// described by `describe`.
///
/// # Errors
/// Store and object-storage failures; [`CoreError::InvalidInput`] for an id the model refuses.
pub async fn register_pair(
    objects: &dyn ObjectStorage,
    store: &Store,
    file: (&Path, DataFormat),
    index: (&Path, DataFormat),
    key_prefix: &str,
    object_id: &str,
    describe: impl Fn(&mut DataObject),
) -> Result<Vec<DataObject>, CoreError> {
    let index_name = file_name_of(index.0);
    let file_name = file_name_of(file.0);
    let index_id = index_object_id(object_id, &file_name, &index_name);
    let file_key = ObjectKey::parse(&format!("{key_prefix}/{file_name}"))?;
    let index_key = ObjectKey::parse(&format!("{key_prefix}/{index_name}"))?;
    let file_info = objects.put_file(&file_key, file.0).await?;
    let index_info = objects.put_file(&index_key, index.0).await?;
    let idx = store_object(
        store,
        &index_id,
        index_name,
        index.1,
        (index_info.size, &index_info.sha256, &index_info.md5),
        index_info.uri,
        &describe,
    )
    .await?;
    let f = store_object(
        store,
        object_id,
        file_name,
        file.1,
        (file_info.size, &file_info.sha256, &file_info.md5),
        file_info.uri,
        |o| {
            describe(o);
            o.index = Some(idx.id.clone());
        },
    )
    .await?;
    Ok(vec![f, idx])
}

/// A path's file name, lossily.
fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The object id of a file's index: the file's id and the index's suffix (`.bai`, `.tbi`, ...).
fn index_object_id(object_id: &str, file_name: &str, index_name: &str) -> String {
    format!(
        "{object_id}{}",
        index_name.strip_prefix(file_name).unwrap_or(".idx")
    )
}

/// An object already in the object storage registered where it is as `object_id`: its size
/// and checksums read by streaming it, described by `describe`.
///
/// # Errors
/// Store and object-storage failures; [`CoreError::InvalidInput`] for an id the model refuses.
pub async fn register_in_place(
    objects: &dyn ObjectStorage,
    store: &Store,
    key: &ObjectKey,
    object_id: &str,
    format: DataFormat,
    describe: impl FnOnce(&mut DataObject),
) -> Result<DataObject, CoreError> {
    let (size, sha256, md5) = gemj_objects::checksum_object(objects, key).await?;
    let name = key
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or(object_id)
        .to_owned();
    let sums = (size, sha256.as_str(), md5.as_str());
    store_object(
        store,
        object_id,
        name,
        format,
        sums,
        objects.uri(key),
        describe,
    )
    .await
}

/// Records a stored object (size, SHA-256, MD5, where it is) as the DRS object `object_id`,
/// described by `describe`.
async fn store_object(
    store: &Store,
    object_id: &str,
    name: String,
    format: DataFormat,
    (size, sha256, md5): (u64, &str, &str),
    storage_uri: String,
    describe: impl FnOnce(&mut DataObject),
) -> Result<DataObject, CoreError> {
    let invalid = |e: gemj_model::ModelError| CoreError::InvalidInput(e.to_string());
    let mut object = DataObject {
        id: ObjectId::parse(object_id).map_err(invalid)?,
        name,
        format,
        size,
        checksums: Checksums::new(sha256, md5).map_err(invalid)?,
        storage_uri,
        index: None,
        participant: None,
        specimens: Vec::new(),
        analysis: None,
        description: None,
    };
    describe(&mut object);
    store.put_object(&object).await?;
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pair lands file first: the stored index is never older than its file (htslib warns
    /// "the index file is older than the data file" otherwise), and the file points at it.
    #[tokio::test]
    async fn a_pair_is_stored_file_first_and_recorded_with_its_index()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("g.sqlite").display());
        let store = Store::connect(&url, &gemj_store::StoreOptions::default()).await?;
        store.migrate().await?;
        let objects = gemj_objects::LocalFolderStorage::new(dir.path().join("objects"));
        let (file, index) = (dir.path().join("a.bam"), dir.path().join("a.bam.bai"));
        std::fs::write(&file, b"BAM\x01 not really")?;
        std::fs::write(&index, b"BAI\x01")?;
        let stored = register_pair(
            &objects,
            &store,
            (&file, DataFormat::Bam),
            (&index, DataFormat::Bai),
            "t/p",
            "P-1.bam",
            |o| o.description = Some("d".to_owned()),
        )
        .await?;
        let ids: Vec<&str> = stored.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["P-1.bam", "P-1.bam.bai"]);
        assert_eq!(stored[0].index.as_ref(), Some(&stored[1].id));
        assert!(stored.iter().all(|o| o.description.as_deref() == Some("d")));
        let mtime = |name: &str| std::fs::metadata(dir.path().join("objects/t/p").join(name));
        let (f, i) = (mtime("a.bam")?.modified()?, mtime("a.bam.bai")?.modified()?);
        assert!(i >= f, "the index is older than its file");
        for o in &stored {
            let got = store.get_object(&o.id).await?.ok_or("not recorded")?;
            assert_eq!(got.checksums, o.checksums);
        }
        Ok(())
    }
}
