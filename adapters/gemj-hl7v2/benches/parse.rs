//! Parse throughput: a realistic SS-MIX2 laboratory result (OUL^R22, twelve OBX) and a
//! demographics message (ADT^A08), parsed and then read down to every subcomponent, with every
//! value unescaped. One message per iteration, on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_hl7v2::Message;

/// A laboratory result as SS-MIX2 stores it (decoded from ISO-2022-JP), with an escape
/// sequence in a comment.
fn oul_r22() -> String {
    let mut lines = vec![
        "MSH|^~\\&|GEMJ-TEST-LIS|9999999999|GEMJ-GW|GEMJ|20240314153000||OUL^R22^OUL_R22|GEMJTEST00000003|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO".to_owned(),
        "PID|0001||9000000001^^^^PI||試験^太郎^^^^^L^I~シケン^タロウ^^^^^L^P||19750401|M".to_owned(),
        "PV1|0001|O|01^^^^^C".to_owned(),
        "SPM|1|LS-0001||023^血清^JC10|||||||||||||20240314090000".to_owned(),
        "OBR|1|000000000012345|LS-0001|L001^生化学検査^99Z02|||20240314090000|||||||||||||||20240314153000".to_owned(),
        "ORC|SC|000000000012345|LS-0001||CM||||20240314153000".to_owned(),
    ];
    let tests = [
        (
            "3A015000002327101",
            "アルブミン",
            "3.2",
            "g/dL",
            "3.7-5.5",
            "L",
        ),
        ("3A010000002327101", "総蛋白", "6.1", "g/dL", "6.7-8.3", "L"),
        ("3B035000002327201", "ＡＳＴ", "24", "U/L", "13-30", "N"),
        ("3B045000002327201", "ＡＬＴ", "18", "U/L", "7-23", "N"),
        ("3B050000002327201", "ＬＤ", "190", "U/L", "124-222", "N"),
        (
            "3C015000002327101",
            "クレアチニン",
            "0.82",
            "mg/dL",
            "0.65-1.07",
            "N",
        ),
        ("3C025000002327101", "尿素窒素", "14", "mg/dL", "8-20", "N"),
        (
            "3D010000001926101",
            "グルコース",
            "98",
            "mg/dL",
            "73-109",
            "N",
        ),
        (
            "3F015000002327101",
            "総コレステロール",
            "212",
            "mg/dL",
            "142-248",
            "N",
        ),
        (
            "3H010000002327101",
            "ナトリウム",
            "141",
            "mmol/L",
            "138-145",
            "N",
        ),
        (
            "3H015000002327101",
            "カリウム",
            "4.1",
            "mmol/L",
            "3.6-4.8",
            "N",
        ),
        (
            "5C070000002327101",
            "ＣＲＰ",
            "0.05",
            "mg/dL",
            "0.00-0.14",
            "N",
        ),
    ];
    for (i, (code, name, value, unit, range, flag)) in tests.iter().enumerate() {
        lines.push(format!(
            "OBX|{}|NM|{code}^{name}^JC10||{value}|{unit}^{unit}^ISO+|{range}|{flag}|||F|||20240314090000",
            i + 1
        ));
    }
    lines.push("NTE|1||再検\\.br\\確認済み \\S\\ 溶血なし".to_owned());
    lines.join("\r") + "\r"
}

/// Patient demographics (ADT^A08) with names, address, phone and body measurements.
fn adt_a08() -> String {
    [
        "MSH|^~\\&|GEMJ-TEST-HIS|9999999999|GEMJ-GW|GEMJ|20240301090000||ADT^A08^ADT_A01|GEMJTEST00000001|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO",
        "EVN||20240301090000",
        "PID|0001||9000000001^^^^PI||試験^太郎^^^^^L^I~シケン^タロウ^^^^^L^P||19750401|M|||^^^^100-0001^JPN^H^東京都千代田区試験町１－２－３||^PRN^PH^^^^^^^^^03-0000-0000",
        "PV1|0001|O",
        "OBX|1|NM|9N001000000000001^身長^JC10||170.2|cm^cm^ISO+|||||F",
        "OBX|2|NM|9N006000000000001^体重^JC10||61.0|kg^kg^ISO+|||||F",
    ]
    .join("\r")
        + "\r"
}

/// Parses and reads every value; returns the number of bytes of values read.
fn parse_and_read(text: &str) -> usize {
    let Ok(message) = Message::parse(text) else {
        return 0;
    };
    let mut total = 0;
    for segment in message.segments() {
        total += segment.name().len();
        for field in segment.fields() {
            for repetition in field.repetitions() {
                for component in repetition.components() {
                    for sub in component.subcomponents() {
                        total += sub.value().len();
                    }
                }
            }
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    for (name, text) in [("oul_r22", oul_r22()), ("adt_a08", adt_a08())] {
        assert!(parse_and_read(&text) > 0, "{name} does not parse");
        let mut group = c.benchmark_group("parse_and_read_every_field");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| b.iter(|| parse_and_read(black_box(&text))));
        group.finish();
        let mut group = c.benchmark_group("parse_only");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| Message::parse(black_box(&text)).map(|m| m.segment_count()));
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
