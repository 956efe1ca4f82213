//! Strict JSON for token headers, payloads and key sets: duplicate object keys are an error.
//!
//! RFC 7515 section 5.2 and RFC 7519 section 7.2 say a JOSE header or claims set with duplicate
//! member names MUST be rejected or the last one used; parsers differ on which, so two components
//! could read different claims from one token. This parser refuses them, in one pass.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON value, refusing duplicate object keys and trailing data.
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A seed that builds a [`Value`] and refuses duplicate keys at every depth.
#[derive(Debug, Clone, Copy)]
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            list.push(v);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom("duplicate object key"));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse_strict;

    #[test]
    fn strict() {
        #[track_caller]
        fn check(input: &str, expect: Option<serde_json::Value>) {
            assert_eq!(parse_strict(input.as_bytes()).ok(), expect, "{input}");
        }
        check(
            r#"{"a":1,"b":[true,null,"x",1.5,-3]}"#,
            Some(json!({"a":1,"b":[true,null,"x",1.5,-3]})),
        );
        check(r#"{"a":1,"a":2}"#, None);
        check(r#"{"a":{"b":1,"b":1}}"#, None);
        check(r#"[{"b":1},{"b":1}]"#, Some(json!([{"b":1},{"b":1}])));
        check(r#"{"a":1} x"#, None);
        check(r#"{"a":1"#, None);
        check("", None);
        check(r#""s""#, Some(json!("s")));
        check(r#"{"\u0061":1,"a":2}"#, None);
    }
}
