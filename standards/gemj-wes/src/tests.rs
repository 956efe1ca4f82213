use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::json;

use crate::form::{Field, FormBuilder, FormError, Limits, NameProblem, Part, attachment_path};
use crate::inputs::{drs_uris, drs_uris_in_text, local_object_id, rewrite};
use crate::url::{UrlProblem, WorkflowSource, classify, is_public, under_root};
use crate::{
    Log, RunId, RunListResponse, RunLog, RunRequest, RunStatus, RunSummary, State,
    TaskListResponse, TaskLog,
};

#[test]
fn attachment_names_are_refused_not_cleaned() {
    let cases: &[(&str, Option<NameProblem>)] = &[
        ("count.cwl", None),
        ("tools/count.cwl", None),
        ("日本語.cwl", None),
        ("a..b.cwl", None),
        ("", Some(NameProblem::Empty)),
        ("/etc/passwd", Some(NameProblem::Absolute)),
        ("C:/x.cwl", Some(NameProblem::Absolute)),
        ("c:x", Some(NameProblem::Absolute)),
        ("../x.cwl", Some(NameProblem::ParentComponent)),
        ("a/../../x", Some(NameProblem::ParentComponent)),
        ("a/..", Some(NameProblem::ParentComponent)),
        ("a//b", Some(NameProblem::EmptyComponent)),
        ("./a", Some(NameProblem::EmptyComponent)),
        ("a/", Some(NameProblem::EmptyComponent)),
        ("a\\b", Some(NameProblem::Backslash)),
        ("..\\x", Some(NameProblem::Backslash)),
        ("a\0b", Some(NameProblem::ControlCharacter)),
        ("a\nb", Some(NameProblem::ControlCharacter)),
        ("a\u{7f}", Some(NameProblem::ControlCharacter)),
        ("a\u{85}", Some(NameProblem::ControlCharacter)),
    ];
    for (name, problem) in cases {
        match problem {
            None => assert_eq!(attachment_path(name, 255).as_deref(), Ok(*name), "{name:?}"),
            Some(p) => assert_eq!(
                attachment_path(name, 255),
                Err(FormError::AttachmentName(*p)),
                "{name:?}"
            ),
        }
    }
    assert_eq!(
        attachment_path(&"a".repeat(256), 255),
        Err(FormError::AttachmentName(NameProblem::TooLong))
    );
}

fn form(fields: &[(&str, &str)]) -> Result<crate::form::Submission, FormError> {
    let mut b = FormBuilder::new(Limits::default());
    for (name, value) in fields {
        let part = b.begin_part(name, None)?;
        b.end_part(part, value.as_bytes().to_vec())?;
    }
    b.finish()
}

const BASE: [(&str, &str); 3] = [
    ("workflow_type", "CWL"),
    ("workflow_type_version", "v1.2"),
    ("workflow_url", "count.cwl"),
];

#[test]
fn a_form_is_typed_field_by_field() {
    let mut fields = BASE.to_vec();
    fields.extend([
        (
            "workflow_params",
            r#"{"bam": {"class": "File", "location": "drs://gemj:O1"}}"#,
        ),
        ("tags", r#"{"project": "p1"}"#),
        (
            "workflow_engine_parameters",
            r#"{"--parallel": true, "n": 2}"#,
        ),
    ]);
    let s = form(&fields).unwrap();
    assert_eq!(s.request.workflow_type, "CWL");
    assert_eq!(s.request.tags["project"], "p1");
    assert_eq!(s.request.workflow_engine_parameters["--parallel"], "true");
    assert_eq!(s.request.workflow_engine_parameters["n"], "2");
    assert_eq!(drs_uris(&s.request.workflow_params), ["drs://gemj:O1"]);
    // Absent params are an empty object.
    assert_eq!(form(&BASE).unwrap().request.workflow_params, json!({}));
}

#[test]
fn bad_forms_name_the_field() {
    let with = |extra: (&'static str, &'static str)| {
        let mut f = BASE.to_vec();
        f.push(extra);
        form(&f).unwrap_err()
    };
    assert_eq!(with(("nonsense", "1")), FormError::UnknownField);
    assert_eq!(
        with(("workflow_type", "WDL")),
        FormError::RepeatedField(Field::WorkflowType)
    );
    assert!(matches!(
        with(("workflow_params", "[1]")),
        FormError::BadJson(Field::WorkflowParams, _)
    ));
    assert!(matches!(
        with(("workflow_params", "{")),
        FormError::BadJson(Field::WorkflowParams, _)
    ));
    assert!(matches!(
        with(("tags", r#"{"a": {"b": 1}}"#)),
        FormError::BadJson(Field::Tags, _)
    ));
    assert_eq!(
        with(("tags", "{\"a\": \"b\\u0000\"}")),
        FormError::NotText(Field::Tags)
    );
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(40),
        "1".to_owned() + &"}".repeat(40)
    );
    let mut f = BASE.to_vec();
    f.push(("workflow_params", deep.as_str()));
    assert!(matches!(form(&f), Err(FormError::BadJson(..))));
    assert_eq!(
        form(&BASE[..2]).unwrap_err(),
        FormError::MissingField(Field::WorkflowUrl)
    );
    assert_eq!(
        form(&[("workflow_type", " "), BASE[1], BASE[2]]).unwrap_err(),
        FormError::MissingField(Field::WorkflowType)
    );
    let many: String = format!(
        "{{{}}}",
        (0..65)
            .map(|i| format!("\"k{i}\": \"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut f = BASE.to_vec();
    f.push(("tags", many.as_str()));
    assert_eq!(form(&f).unwrap_err(), FormError::MapTooLarge(Field::Tags));
    let mut b = FormBuilder::new(Limits::default());
    b.begin_part("workflow_attachment", Some("a.cwl")).unwrap();
    let a = b.begin_part("workflow_attachment", Some("a.cwl"));
    // The first part was begun but never ended: a duplicate is only known once stored.
    assert!(a.is_ok());
}

#[test]
fn limits_are_counted() {
    let limits = Limits {
        max_parts: 2,
        max_part_bytes: 10,
        max_total_bytes: 15,
        max_name_bytes: 255,
    };
    let mut b = FormBuilder::new(limits);
    let p = b.begin_part("workflow_attachment", Some("a")).unwrap();
    assert_eq!(b.part_budget(), 10);
    assert_eq!(
        b.end_part(p.clone(), vec![0; 11]),
        Err(FormError::PartTooLarge)
    );
    b.end_part(p, vec![0; 10]).unwrap();
    assert_eq!(b.part_budget(), 5);
    let p = b.begin_part("workflow_attachment", Some("b")).unwrap();
    assert_eq!(b.end_part(p, vec![0; 6]), Err(FormError::TooLarge));
    assert_eq!(b.begin_part("tags", None), Err(FormError::TooManyParts));
    let mut b = FormBuilder::new(Limits::default());
    let p = b.begin_part("workflow_attachment", Some("a")).unwrap();
    assert_eq!(p, Part::Attachment("a".into()));
    b.end_part(p, vec![]).unwrap();
    assert_eq!(
        b.begin_part("workflow_attachment", Some("a")),
        Err(FormError::DuplicateAttachment)
    );
    assert_eq!(FormError::TooLarge.status(), 413);
    assert_eq!(FormError::UnknownField.status(), 400);
}

#[test]
fn workflow_urls() {
    let roots = vec![
        "https://github.com/gemj/".to_owned(),
        "https://trs.example.org/ga4gh/trs/v2".to_owned(),
    ];
    let ok = |u: &str| classify(u, &["count.cwl", "tools/x.cwl"], &roots);
    assert_eq!(
        ok("count.cwl"),
        Ok(WorkflowSource::Attachment("count.cwl".into()))
    );
    assert_eq!(
        ok("tools/x.cwl"),
        Ok(WorkflowSource::Attachment("tools/x.cwl".into()))
    );
    assert_eq!(ok("missing.cwl"), Err(UrlProblem::NoSuchAttachment));
    assert_eq!(ok("../count.cwl"), Err(UrlProblem::NoSuchAttachment));
    assert_eq!(
        ok("drs://gemj:W1"),
        Ok(WorkflowSource::Drs("drs://gemj:W1".into()))
    );
    assert_eq!(
        ok("https://github.com/gemj/wf/count.cwl"),
        Ok(WorkflowSource::Https(
            "https://github.com/gemj/wf/count.cwl".into()
        ))
    );
    assert!(ok("https://trs.example.org/ga4gh/trs/v2/tools/x").is_ok());
    for (url, problem) in [
        ("file:///etc/passwd", UrlProblem::SchemeNotAllowed),
        ("FILE:/etc/passwd", UrlProblem::SchemeNotAllowed),
        ("ftp://github.com/gemj/x", UrlProblem::SchemeNotAllowed),
        ("http://github.com/gemj/x", UrlProblem::SchemeNotAllowed),
        ("gopher://x", UrlProblem::SchemeNotAllowed),
        ("https://127.0.0.1/x", UrlProblem::HostNotPublic),
        ("https://[::1]/x", UrlProblem::HostNotPublic),
        ("https://[::ffff:10.0.0.1]/x", UrlProblem::HostNotPublic),
        (
            "https://169.254.169.254/latest/meta-data",
            UrlProblem::HostNotPublic,
        ),
        ("https://0x7f000001/x", UrlProblem::HostNotPublic),
        ("https://2130706433/x", UrlProblem::HostNotPublic),
        ("https://localhost/x", UrlProblem::HostNotPublic),
        ("https://a.localhost./x", UrlProblem::HostNotPublic),
        ("https://user@github.com/gemj/x", UrlProblem::Malformed),
        (
            "https://github.com/gemjx/x",
            UrlProblem::NotUnderAllowedRoot,
        ),
        (
            "https://github.com/gemj/../other/x",
            UrlProblem::NotUnderAllowedRoot,
        ),
        (
            "https://github.com/gemj/%2e%2e/other/x",
            UrlProblem::NotUnderAllowedRoot,
        ),
        (
            "https://trs.example.org/ga4gh/trs/v2x",
            UrlProblem::NotUnderAllowedRoot,
        ),
        (
            "https://github.com.evil.org/gemj/x",
            UrlProblem::NotUnderAllowedRoot,
        ),
        ("https://", UrlProblem::Malformed),
    ] {
        assert_eq!(ok(url), Err(problem), "{url}");
    }
    assert!(under_root("https://h/a/b", "https://h/a"));
    assert!(!under_root("https://h/ab", "https://h/a"));
}

#[test]
fn public_addresses() {
    for ip in ["8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12::1",
        "::ffff:127.0.0.1",
        "ff02::1",
        "2001:db8::1",
        "64:ff9b::7f00:1",
        "::127.0.0.1",
    ] {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[test]
fn drs_inputs() {
    let params = json!({
        "bam": {"class": "File", "location": "drs://gw/O1"},
        "more": ["drs://gw/O2", {"path": "drs://gw/O1"}],
        "n": 3
    });
    assert_eq!(drs_uris(&params), ["drs://gw/O1", "drs://gw/O2"]);
    let staged: BTreeMap<String, String> =
        [("drs://gw/O1".to_owned(), "inputs/a.bam".to_owned())].into();
    let r = rewrite(&params, &staged);
    assert_eq!(r["bam"]["location"], "inputs/a.bam");
    assert_eq!(r["more"][0], "drs://gw/O2");
    assert_eq!(r["more"][1]["path"], "inputs/a.bam");
    assert_eq!(
        drs_uris_in_text(
            b"bam:\n  class: File\n  location: drs://gw/O3.\nx: 'drs://gemj:O4' drs://"
        ),
        ["drs://gw/O3", "drs://gemj:O4"]
    );
    assert_eq!(local_object_id("DRS://GW/O1", "gw", "gemj"), Some("O1"));
    assert_eq!(local_object_id("drs://gw/a/b", "gw", "gemj"), None);
    assert_eq!(local_object_id("drs://gw/", "gw", "gemj"), None);
    assert_eq!(local_object_id("drs://other:O1", "gw", "gemj"), None);
    assert_eq!(local_object_id("https://gw/O1", "gw", "gemj"), None);
}

#[test]
fn states() {
    for s in State::ALL {
        assert_eq!(State::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    assert!(State::Preempted.is_terminal() && !State::Canceling.is_terminal());
}

/// Every wire type validates against the official WES 1.1.0 schema.
#[test]
fn wire_types_match_the_official_schema() {
    let schemas = gemj_schemas::SchemaSet::embedded();
    let doc = gemj_schemas::docs::WES;
    let check = |name: &str, v: serde_json::Value| {
        schemas
            .validate(doc, &format!("/components/schemas/{name}"), &v)
            .unwrap_or_else(|e| panic!("{name}: {e:?}\n{v}"));
    };
    let request = RunRequest {
        workflow_params: json!({"x": 1}),
        workflow_type: "CWL".into(),
        workflow_type_version: "v1.2".into(),
        tags: BTreeMap::new(),
        workflow_engine_parameters: BTreeMap::new(),
        workflow_engine: Some("cwltool".into()),
        workflow_engine_version: None,
        workflow_url: "count.cwl".into(),
    };
    check("RunRequest", serde_json::to_value(&request).unwrap());
    check(
        "RunId",
        serde_json::to_value(RunId { run_id: "r".into() }).unwrap(),
    );
    check(
        "RunStatus",
        serde_json::to_value(RunStatus {
            run_id: "r".into(),
            state: State::Preempted,
        })
        .unwrap(),
    );
    let summary = RunSummary {
        run_id: "r".into(),
        state: State::Running,
        start_time: Some("2026-11-24T10:00:00Z".into()),
        end_time: None,
        tags: BTreeMap::new(),
    };
    check(
        "RunListResponse",
        serde_json::to_value(RunListResponse {
            runs: vec![summary],
            next_page_token: String::new(),
        })
        .unwrap(),
    );
    let task = TaskLog {
        id: "1".into(),
        name: "count".into(),
        cmd: vec!["samtools".into()],
        start_time: None,
        end_time: None,
        stdout: None,
        stderr: None,
        exit_code: Some(0),
        system_logs: vec![],
    };
    check("TaskLog", serde_json::to_value(&task).unwrap());
    check(
        "TaskListResponse",
        serde_json::to_value(TaskListResponse {
            task_logs: vec![task],
            next_page_token: String::new(),
        })
        .unwrap(),
    );
    check(
        "RunLog",
        serde_json::to_value(RunLog {
            run_id: "r".into(),
            request,
            state: State::Complete,
            run_log: Log {
                exit_code: Some(0),
                ..Log::default()
            },
            task_logs_url: "https://gw/ga4gh/wes/v1/runs/r/tasks".into(),
            outputs: json!({}),
        })
        .unwrap(),
    );
    // The validator is live: a TaskLog without its id is refused.
    assert!(
        schemas
            .validate(doc, "/components/schemas/TaskLog", &json!({"name": "x"}))
            .is_err()
    );
}
