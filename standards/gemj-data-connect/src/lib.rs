//! GA4GH Data Connect 1.0 as a protocol, pure: the wire types with the specification's names
//! ([`ListTablesResponse`], [`Table`], [`TableData`], [`Pagination`], [`ErrorResponse`],
//! [`SearchRequest`]), table definitions with their JSON Schema data models ([`TableDef`]), and
//! [`sql`], the allow-listed subset of SQL a search may run: parsed with sqlparser, checked
//! against an allow-list of statements, expressions, functions and published tables, and
//! rewritten to the internal names of the tables that hold the caller's rows. No I/O, no HTTP
//! framework, no SQL engine: the gateway runs the checked query.

pub mod sql;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The JSON Schema dialect of every data model (the specification's `data_model` refers to
/// draft-07).
pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// `GET /tables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListTablesResponse {
    /// The tables.
    pub tables: Vec<Table>,
    /// Absent: every table is on this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// A table: its name, description and data model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// `catalog.schema.table`.
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema of its rows.
    pub data_model: Value,
}

/// A page of rows (`/table/{name}/data`, `/search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableData {
    /// A JSON Schema of the rows.
    pub data_model: Value,
    /// The rows of this page.
    pub data: Vec<Map<String, Value>>,
    /// Where the next page is; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// What could not be answered (a network's members that gave nothing); absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorItem>,
}

/// Paging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// The next page's absolute URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_url: Option<String>,
}

/// `POST /search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The SQL.
    pub query: String,
    /// Values of the query's `?` placeholders, in order.
    #[serde(default)]
    pub parameters: Vec<Value>,
}

/// One error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorItem {
    /// Stable per kind of error.
    pub title: String,
    /// This occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The table the error came from, when it came from one (never for a bad request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `detail` again, under the name the DNAstack client reads (`details`); the specification's
    /// `Error` admits further properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The errors.
    pub errors: Vec<ErrorItem>,
}

impl ErrorResponse {
    /// One error with a title and a detail.
    #[must_use]
    pub fn new(title: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            errors: vec![ErrorItem {
                title: title.to_owned(),
                details: Some(detail.clone()),
                detail: Some(detail),
                source: None,
            }],
        }
    }
}

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// Text.
    String,
}

impl ColumnType {
    /// The JSON Schema type name.
    #[must_use]
    pub fn json_type(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::String => "string",
        }
    }

    /// The SQL type, as the specification's data models give it in `format` (an `integer`
    /// column holds counts, which fit 32 bits, so they are JSON numbers and not `bigint`
    /// strings).
    #[must_use]
    pub fn sql_format(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "double",
            Self::String => "varchar",
        }
    }
}

/// One column of a published table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// Its name (lower-case snake case: a SQL identifier that needs no quotes).
    pub name: &'static str,
    /// Its type.
    pub column_type: ColumnType,
    /// Whether it may be null.
    pub nullable: bool,
    /// What it means.
    pub description: &'static str,
}

/// A published table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// `catalog.schema.table`.
    pub name: &'static str,
    /// What it holds.
    pub description: &'static str,
    /// Its columns, in order.
    pub columns: &'static [ColumnDef],
}

impl TableDef {
    /// The JSON Schema of one column.
    #[must_use]
    pub fn column_schema(column: &ColumnDef) -> Value {
        let ty = column.column_type.json_type();
        json!({
            "type": if column.nullable { json!([ty, "null"]) } else { json!(ty) },
            "format": column.column_type.sql_format(),
            "description": column.description,
        })
    }

    /// The data model: a draft-07 JSON Schema of a row, properties in column order.
    #[must_use]
    pub fn data_model(&self) -> Value {
        let properties: Map<String, Value> = self
            .columns
            .iter()
            .map(|c| (c.name.to_owned(), Self::column_schema(c)))
            .collect();
        json!({
            "$schema": DRAFT_07,
            "$id": self.name,
            "description": self.description,
            "type": "object",
            "properties": properties,
            "required": self.columns.iter().map(|c| c.name).collect::<Vec<_>>(),
            "additionalProperties": false,
        })
    }

    /// As `/tables` and `/table/{name}/info` describe it.
    #[must_use]
    pub fn table(&self) -> Table {
        Table {
            name: self.name.to_owned(),
            description: Some(self.description.to_owned()),
            data_model: self.data_model(),
        }
    }

    /// The column named `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// The data model of a search's result: each column's schema is the published column's when a
/// table the query reads has a column of that name, else the JSON types its values have (any
/// value, `{}`, when every value is null or there are none).
#[must_use]
pub fn result_model(columns: &[String], read: &[&TableDef], rows: &[Map<String, Value>]) -> Value {
    let mut properties = Map::new();
    for name in columns {
        let published = read.iter().find_map(|t| t.column(name));
        let schema = match published {
            Some(c) if conforms(c, name, rows) => TableDef::column_schema(c),
            _ => observed_schema(name, rows),
        };
        properties.insert(name.clone(), schema);
    }
    json!({
        "$schema": DRAFT_07,
        "description": "The rows of a search.",
        "type": "object",
        "properties": properties,
    })
}

/// Whether every value of the column `name` fits the published column `c` (a computed column
/// may reuse a published name: `avg(participants) AS participants`).
fn conforms(c: &ColumnDef, name: &str, rows: &[Map<String, Value>]) -> bool {
    rows.iter().all(|row| match row.get(name) {
        None | Some(Value::Null) => c.nullable,
        Some(Value::Number(n)) => match c.column_type {
            ColumnType::Integer => n.is_i64() || n.is_u64(),
            ColumnType::Number => true,
            ColumnType::String => false,
        },
        Some(Value::String(_)) => c.column_type == ColumnType::String,
        Some(_) => false,
    })
}

fn observed_schema(name: &str, rows: &[Map<String, Value>]) -> Value {
    let mut types: Vec<&str> = Vec::new();
    for row in rows {
        let ty = match row.get(name) {
            Some(Value::Null) | None => "null",
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
            Some(Value::Number(_)) => "number",
            Some(Value::String(_)) => "string",
            Some(Value::Bool(_)) => "boolean",
            Some(_) => return json!({}),
        };
        if !types.contains(&ty) {
            types.push(ty);
        }
    }
    // An integer column that also holds reals is a number column.
    if types.contains(&"number") {
        types.retain(|t| *t != "integer");
    }
    if types.iter().all(|t| *t == "null") {
        return json!({});
    }
    types.sort_unstable();
    json!({ "type": types })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TableDef = TableDef {
        name: "a.b.c",
        description: "d",
        columns: &[
            ColumnDef {
                name: "x",
                column_type: ColumnType::Integer,
                nullable: true,
                description: "x",
            },
            ColumnDef {
                name: "y",
                column_type: ColumnType::String,
                nullable: false,
                description: "y",
            },
        ],
    };

    #[test]
    fn data_models_list_columns_in_order_with_their_types() {
        let m = T.data_model();
        let keys: Vec<&String> = m["properties"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["x", "y"]);
        assert_eq!(m["properties"]["x"]["type"], json!(["integer", "null"]));
        assert_eq!(m["properties"]["y"]["type"], json!("string"));
    }

    #[test]
    fn result_models_take_published_columns_and_observe_the_rest() {
        let rows: Vec<Map<String, Value>> = vec![
            serde_json::from_value(json!({"x": 1, "total": 2, "avg": 1.5, "none": null}))
                .unwrap_or_default(),
            serde_json::from_value(json!({"x": null, "total": 3, "avg": 2, "none": null}))
                .unwrap_or_default(),
        ];
        let cols: Vec<String> = ["x", "total", "avg", "none"].map(String::from).to_vec();
        let m = result_model(&cols, &[&T], &rows);
        assert_eq!(m["properties"]["x"]["type"], json!(["integer", "null"]));
        assert_eq!(m["properties"]["total"]["type"], json!(["integer"]));
        assert_eq!(m["properties"]["avg"]["type"], json!(["number"]));
        assert_eq!(m["properties"]["none"], json!({}));
        // A computed column under a published name keeps the schema its values have.
        let avg: Vec<Map<String, Value>> =
            vec![serde_json::from_value(json!({"x": 1.5})).unwrap_or_default()];
        let m = result_model(&["x".to_owned()], &[&T], &avg);
        assert_eq!(m["properties"]["x"]["type"], json!(["number"]));
    }
}
