//! Registers an indexed genome file into a gateway's data folder and adds it to a dataset, for
//! benchmarks that serve files the demo generator does not make (`scripts/bench-htsget.sh` uses
//! it for the multi-GB BAM of `shared/tools/make-bench-data.sh`).
//!
//! ```sh
//! cargo run --release -p gemj-e2e --example publish -- DATA_DIR DATASET OBJECT_ID FILE INDEX
//! ```
//!
//! The file and its index are copied into `DATA_DIR/objects` (checksums computed) and registered
//! in the SQLite store of `DATA_DIR` as `OBJECT_ID` and `OBJECT_ID` + the index's suffix; they
//! name no participant, so consent does not apply to them. Run it while no gateway serves the
//! folder, or let the catalogue epoch tell the running one.

use std::path::Path;

use anyhow::{Context, bail};
use gemj_ingest::genomes::register_pair;
use gemj_model::{DataFormat, DatasetId};
use gemj_objects::LocalFolderStorage;
use gemj_store::{Store, StoreOptions};

fn format_of(path: &Path) -> anyhow::Result<DataFormat> {
    let name = path.to_string_lossy();
    Ok(match name.rsplit('.').next() {
        Some("bam") => DataFormat::Bam,
        Some("cram") => DataFormat::Cram,
        Some("bcf") => DataFormat::Bcf,
        Some("gz") if name.ends_with(".vcf.gz") => DataFormat::Vcf,
        Some("bai") => DataFormat::Bai,
        Some("crai") => DataFormat::Crai,
        Some("tbi") => DataFormat::Tbi,
        Some("csi") => DataFormat::Csi,
        _ => bail!("cannot tell the format of {name}"),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, dataset, object_id, file, index] = args.as_slice() else {
        bail!("usage: publish DATA_DIR DATASET OBJECT_ID FILE INDEX");
    };
    let data_dir = Path::new(data_dir);
    let url = format!("sqlite://{}", data_dir.join("gemj.sqlite").display());
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the store of {}", data_dir.display()))?;
    store.migrate().await?;
    let dataset = DatasetId::parse(dataset).context("dataset id")?;
    if store.get_dataset(&dataset).await?.is_none() {
        bail!("no dataset {dataset} in {}", data_dir.display());
    }
    let (file, index) = (Path::new(file), Path::new(index));
    let storage = LocalFolderStorage::new(data_dir.join("objects"));
    let objects = register_pair(
        &storage,
        &store,
        (file, format_of(file)?),
        (index, format_of(index)?),
        &format!("published/{object_id}"),
        object_id,
        |_| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ids: Vec<_> = objects.into_iter().map(|o| o.id).collect();
    store.add_dataset_objects(&dataset, &ids).await?;
    for id in &ids {
        println!("{id}");
    }
    Ok(())
}
