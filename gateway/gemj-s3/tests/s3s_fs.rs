//! S3 storage against a real S3 server (s3s-fs on loopback): writes, ranged reads, the page
//! cache's request counts, versions, absent objects, a multipart upload, and a wrong key.

use std::sync::Arc;

use gemj_objects::{ObjectKey, ObjectStorage, RandomAccess};
use gemj_s3::S3Storage;
use gemj_s3::s3s_fs::S3sFs;
use tokio::io::AsyncReadExt as _;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn objects_round_trip_through_a_real_s3_server() -> TestResult {
    let Some(server) = S3sFs::start("gemj")? else {
        return Ok(());
    };
    let storage = S3Storage::new(&server.config("s3://gemj/site"))?;
    storage.check_writable().await?;

    // One PUT, and a multipart upload beyond 8 MiB; digests computed while writing.
    let small = data(300_000);
    let key = ObjectKey::parse("p/P1/small.bin")?;
    let info = storage.put_bytes(&key, &small).await?;
    assert_eq!(info.uri, "s3://gemj/site/p/P1/small.bin");
    assert_eq!(info.size, 300_000);
    let dir = tempfile::tempdir()?;
    let big = data(9 << 20 | 12_345);
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &big)?;
    let big_key = ObjectKey::parse("p/P1/big.bin")?;
    let big_info = storage.put_file(&big_key, &path).await?;
    assert_eq!(
        (big_info.size, big_info.sha256.clone(), big_info.md5.clone()),
        gemj_objects::checksum_file(&path)?
    );
    // The server holds exactly those bytes (s3s-fs keeps objects as files).
    assert_eq!(
        std::fs::read(server.root().join("gemj/site/p/P1/big.bin"))?,
        big
    );
    assert_eq!(
        gemj_objects::checksum_object(&storage, &big_key).await?,
        (big_info.size, big_info.sha256.clone(), big_info.md5.clone())
    );

    // Streamed ranges, clamped at the end; a start past the end is refused.
    let mut out = Vec::new();
    storage
        .open_range(&big_key, 8 << 20, u64::MAX)
        .await?
        .read_to_end(&mut out)
        .await?;
    assert_eq!(out, &big[8 << 20..]);
    assert!(storage.open_range(&key, 300_001, 300_002).await.is_err());
    let mut empty = Vec::new();
    storage
        .open_range(&key, 300_000, 300_000)
        .await?
        .read_to_end(&mut empty)
        .await?;
    assert!(empty.is_empty());

    // Reads at any offset: small reads share 16 KiB pages, one request per run of missing
    // pages.
    let random: Arc<dyn RandomAccess> = tokio::task::spawn_blocking({
        let storage = storage.clone();
        let key = key.clone();
        move || storage.random(&key)
    })
    .await??;
    let (before, _) = storage.stats().snapshot();
    let (storage2, small2) = (storage.clone(), small.clone());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut head = [0_u8; 18];
        random.read_exact_at(&mut head, 70_000)?;
        assert_eq!(head, small2[70_000..70_018]);
        let mut block = vec![0_u8; 20_000];
        random.read_exact_at(&mut block, 70_000)?;
        assert_eq!(block, small2[70_000..90_000]);
        // The block's second page is one more request; a read over five new pages is one.
        let mut across = vec![0_u8; 70_000];
        random.read_exact_at(&mut across, 100_000)?;
        assert_eq!(across, small2[100_000..170_000]);
        let mut tail = [0_u8; 10];
        random.read_exact_at(&mut tail, 299_990)?;
        assert!(random.read_exact_at(&mut tail, 299_991).is_err());
        let (after, _) = storage2.stats().snapshot();
        assert_eq!(after - before, 4, "page 4, page 5, pages 6-10, page 18");
        Ok(())
    })
    .await??;

    // Versions change when an object is replaced; absent objects are NotFound.
    let v1 = {
        let (s, k) = (storage.clone(), key.clone());
        tokio::task::spawn_blocking(move || s.version(&k)).await??
    };
    storage.put_bytes(&key, b"replaced").await?;
    let v2 = {
        let (s, k) = (storage.clone(), key.clone());
        tokio::task::spawn_blocking(move || s.version(&k)).await??
    };
    assert_ne!(v1, v2);
    assert_eq!(v2.size, 8);
    let missing = ObjectKey::parse("p/none")?;
    assert!(!storage.exists(&missing).await?);
    assert!(storage.exists(&key).await?);
    let err = storage.open_range(&missing, 0, 1).await.err();
    assert!(err.is_some_and(|e| e.is_not_found()));

    // A wrong secret is refused at the start, with advice; the secret is never in the message.
    let mut wrong = server.config("s3://gemj");
    wrong.secret_access_key = Some("not-the-key".to_owned());
    let refused = S3Storage::new(&wrong)?.check_writable().await;
    let message = format!("{:?}", refused.err());
    assert!(message.contains("may these credentials write"), "{message}");
    assert!(!message.contains("not-the-key"));
    // A server that is not there, likewise (s3s-fs makes missing buckets on write, so that
    // case is AWS's and not testable here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut gone = server.config("s3://gemj");
    gone.endpoint = Some(format!("http://127.0.0.1:{port}"));
    assert!(S3Storage::new(&gone)?.check_writable().await.is_err());
    Ok(())
}
