//! Passport verification cost: a 10-Visa RS256 Passport uncached and cached, single Visas
//! (RS256, ES256), and jsonwebtoken's `decode` as a baseline.
//!
//! Run with `cargo bench -p gemj-auth --bench verify`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_auth::Verifier;
use serde_json::json;
use support::*;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let verifier = Verifier::with_fetcher(config(), standard_fetcher()).expect("verifier");
    let visas: Vec<String> = (0..10)
        .map(|i| visa(USER, grant(&format!("D{i}"))))
        .collect();
    let token = passport(&visas);
    let checked = rt
        .block_on(verifier.verify_passport(&token, NOW))
        .expect("valid passport");
    assert_eq!(checked.visas.len(), 10);
    println!("passport token: {} bytes", token.len());
    let es_visa = sign(
        &json!({"alg": "ES256", "typ": "vnd.ga4gh.visa+jwt", "kid": "b-ec"}),
        &visa_payload(BROKER, USER, grant("D1")),
        &keys().broker_ec,
    );
    let one_rs = vec![visas[0].clone()];
    let one_es = vec![es_visa];

    let mut group = c.benchmark_group("passport");
    group.throughput(Throughput::Elements(11));
    group.bench_function("10_visas_uncached", |b| {
        b.iter(|| {
            verifier.clear_caches();
            let r = rt.block_on(verifier.verify_passport(black_box(&token), NOW));
            assert_eq!(r.map(|p| p.visas.len()).unwrap_or(0), 10);
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("10_visas_cached", |b| {
        b.iter(|| {
            let r = rt.block_on(verifier.verify_passport(black_box(&token), NOW));
            black_box(r.is_ok())
        });
    });
    // The parts of a cache hit: hashing the token, cloning the result.
    group.bench_function("cache_hit_part_sha256_token", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes()))
        });
    });
    group.bench_function("cache_hit_part_clone_result", |b| {
        b.iter(|| black_box(&checked).clone());
    });
    group.finish();

    let mut group = c.benchmark_group("visa");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rs256_uncached", |b| {
        b.iter(|| {
            verifier.clear_caches();
            let r = rt.block_on(verifier.verify_visas(BROKER, USER, black_box(&one_rs), NOW));
            assert_eq!(r.map(|p| p.visas.len()).unwrap_or(0), 1);
        });
    });
    group.bench_function("es256_uncached", |b| {
        b.iter(|| {
            verifier.clear_caches();
            let r = rt.block_on(verifier.verify_visas(BROKER, USER, black_box(&one_es), NOW));
            assert_eq!(r.map(|p| p.visas.len()).unwrap_or(0), 1);
        });
    });
    // Baseline: jsonwebtoken 11 (aws-lc-rs) decode of the same RS256 Visa, key from the JWK.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk("b1", &keys().broker_rsa)).expect("jwk");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    group.bench_function("baseline_jsonwebtoken_decode_rs256", |b| {
        b.iter(|| {
            let r =
                jsonwebtoken::decode::<serde_json::Value>(black_box(&visas[0]), &key, &validation);
            assert!(r.is_ok());
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
