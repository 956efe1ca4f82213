//! Every wire type validates against the official Data Connect 1.0 schema, and every data model
//! is a draft-07 schema its own rows satisfy.

use gemj_data_connect::{
    ColumnDef, ColumnType, ErrorResponse, ListTablesResponse, Pagination, TableData, TableDef,
    result_model,
};
use serde_json::{Map, Value, json};

const T: TableDef = TableDef {
    name: "gemj.catalogue.example",
    description: "An example.",
    columns: &[
        ColumnDef {
            name: "dataset_id",
            column_type: ColumnType::String,
            nullable: false,
            description: "d",
        },
        ColumnDef {
            name: "participants",
            column_type: ColumnType::Integer,
            nullable: true,
            description: "p",
        },
    ],
};

fn check(name: &str, v: &Value) {
    gemj_schemas::SchemaSet::embedded()
        .validate(
            gemj_schemas::docs::DATA_CONNECT,
            &format!("/components/schemas/{name}"),
            v,
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}\n{v}"));
}

#[test]
fn wire_types_match_the_official_schema() -> Result<(), serde_json::Error> {
    let list = ListTablesResponse {
        tables: vec![T.table()],
        pagination: None,
    };
    check("ListTablesResponse", &serde_json::to_value(&list)?);
    check("Table", &serde_json::to_value(T.table())?);
    let rows: Vec<Map<String, Value>> = vec![serde_json::from_value(
        json!({"dataset_id": "D1", "participants": null}),
    )?];
    let page = TableData {
        data_model: result_model(&["dataset_id".into(), "participants".into()], &[&T], &rows),
        data: rows,
        pagination: Some(Pagination {
            next_page_url: Some("https://gateway.example/data-connect/search/abc".into()),
        }),
        errors: vec![gemj_data_connect::ErrorItem {
            title: "Member unavailable".into(),
            detail: Some("member b: timeout".into()),
            details: None,
            source: None,
        }],
    };
    check("TableData", &serde_json::to_value(&page)?);
    check(
        "ErrorResponse",
        &serde_json::to_value(ErrorResponse::new("Unknown table", "no such table"))?,
    );
    Ok(())
}

#[test]
fn rows_satisfy_their_data_model_and_others_do_not() -> Result<(), Box<dyn std::error::Error>> {
    let model = T.data_model();
    let validator = jsonschema_of(&model)?;
    assert!(validator(&json!({"dataset_id": "D1", "participants": 5})));
    assert!(validator(
        &json!({"dataset_id": "D1", "participants": null})
    ));
    assert!(!validator(
        &json!({"dataset_id": "D1", "participants": "5"})
    ));
    assert!(!validator(&json!({"dataset_id": "D1"})));
    Ok(())
}

/// The data model as a validator (through the official set's draft-07 meta-schema support).
fn jsonschema_of(model: &Value) -> Result<impl Fn(&Value) -> bool, String> {
    let validator = gemj_schemas::Validator::standalone(model).map_err(|e| e.to_string())?;
    Ok(move |v: &Value| validator.is_valid(v))
}
