//! Ticket requests: the GET query string and the POST body, parsed and validated.
//!
//! `fields`, `tags` and `notags` are validated (known field names; `tags` and `notags` must not
//! intersect) but not carried further: a server may return more than asked, and says so in its
//! service-info (`fieldsParameterEffective`, `tagsParametersEffective`).

use std::collections::BTreeSet;

use crate::{Class, Endpoint, Error, ErrorKind, Format, ReferenceName, Region};

/// The most regions a POST may name (more is 413 `PayloadTooLarge`).
pub const MAX_REGIONS: usize = 100;

/// The SAM field names `fields` may list.
pub const READ_FIELDS: &[&str] = &[
    "QNAME", "FLAG", "RNAME", "POS", "MAPQ", "CIGAR", "RNEXT", "PNEXT", "TLEN", "SEQ", "QUAL",
];

/// The VCF field names `fields` may list.
pub const VARIANT_FIELDS: &[&str] = &[
    "CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLE",
];

/// A validated ticket request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRequest {
    /// The requested format (`None`: the endpoint's default, or the object's own).
    pub format: Option<Format>,
    /// Header only, or header and records.
    pub class: Class,
    /// The regions (empty: the whole file).
    pub regions: Vec<Region>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

fn parse_format(endpoint: Endpoint, s: &str) -> Result<Format, Error> {
    endpoint
        .formats()
        .iter()
        .copied()
        .find(|f| f.as_str() == s)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UnsupportedFormat,
                format!(
                    "format {s:?} is not served here; use one of {}",
                    endpoint
                        .formats()
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

fn parse_class(s: &str) -> Result<Class, Error> {
    match s {
        "header" => Ok(Class::Header),
        "body" => Ok(Class::Body),
        _ => Err(invalid(format!("class must be \"header\" (got {s:?})"))),
    }
}

fn check_fields(endpoint: Endpoint, fields: &[String]) -> Result<(), Error> {
    let known = match endpoint {
        Endpoint::Reads => READ_FIELDS,
        Endpoint::Variants => VARIANT_FIELDS,
    };
    match fields.iter().find(|f| !known.contains(&f.as_str())) {
        Some(f) => Err(invalid(format!("unknown field {f:?}"))),
        None => Ok(()),
    }
}

fn check_tags(tags: Option<&[String]>, notags: Option<&[String]>) -> Result<(), Error> {
    if let (Some(t), Some(n)) = (tags, notags) {
        let t: BTreeSet<&String> = t.iter().collect();
        if n.iter().any(|x| t.contains(x)) {
            return Err(invalid("tags and notags must not intersect"));
        }
    }
    Ok(())
}

/// One region, validated.
fn region(
    endpoint: Endpoint,
    name: Option<&str>,
    start: Option<u64>,
    end: Option<u64>,
) -> Result<Option<Region>, Error> {
    let Some(name) = name else {
        if start.is_some() || end.is_some() {
            return Err(invalid("start and end need a referenceName"));
        }
        return Ok(None);
    };
    if name.is_empty() {
        return Err(invalid("referenceName must not be empty"));
    }
    if name == "*" {
        if endpoint == Endpoint::Variants {
            return Err(invalid(
                "referenceName=* (unplaced reads) applies to reads only",
            ));
        }
        if start.is_some() || end.is_some() {
            return Err(invalid(
                "start and end cannot be combined with referenceName=*",
            ));
        }
        return Ok(Some(Region {
            reference: ReferenceName::Unplaced,
            start: 0,
            end: None,
        }));
    }
    for (n, v) in [("start", start), ("end", end)] {
        if v.is_some_and(|v| v > u64::from(u32::MAX)) {
            return Err(invalid(format!(
                "{n} must be a non-negative 32-bit integer"
            )));
        }
    }
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(Error::new(
            ErrorKind::InvalidRange,
            format!("start ({s}) must be less than end ({e})"),
        ));
    }
    Ok(Some(Region::new(name, start.unwrap_or(0), end)))
}

fn parse_u64(name: &str, v: &str) -> Result<u64, Error> {
    v.parse::<u64>()
        .ok()
        .filter(|n| *n <= u64::from(u32::MAX))
        .ok_or_else(|| {
            invalid(format!(
                "{name} must be a non-negative 32-bit integer (got {v:?})"
            ))
        })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses the query string of a ticket `GET` (without the `?`).
///
/// A parameter given twice, an unknown parameter, `class=header` with anything but `format`,
/// a `start`/`end` without `referenceName` or beyond 32 bits, and `referenceName=*` on
/// variants are `InvalidInput`; `start >= end` is `InvalidRange`; a format the endpoint does
/// not serve is `UnsupportedFormat`.
///
/// # Errors
/// The first problem found, as above.
///
/// # Examples
///
/// ```
/// use gemj_htsget::{Endpoint, ErrorKind, Region, parse_get};
///
/// let r = parse_get(Endpoint::Reads, "format=BAM&referenceName=chr1&start=10&end=20")?;
/// assert_eq!(r.regions, [Region::new("chr1", 10, Some(20))]);
/// let e = parse_get(Endpoint::Reads, "referenceName=chr1&start=20&end=10").unwrap_err();
/// assert_eq!(e.kind, ErrorKind::InvalidRange);
/// # Ok::<(), gemj_htsget::Error>(())
/// ```
pub fn parse_get(endpoint: Endpoint, query: &str) -> Result<TicketRequest, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| invalid("the query string is not valid URL encoding"))?;
    let mut seen = BTreeSet::new();
    let (mut format, mut class, mut name, mut start, mut end) = (None, None, None, None, None);
    let (mut fields, mut tags, mut notags) = (None, None, None);
    for (k, v) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(invalid(format!("{k} is given twice")));
        }
        match k.as_str() {
            "format" => format = Some(parse_format(endpoint, v)?),
            "class" => class = Some(parse_class(v)?),
            "referenceName" => name = Some(v.as_str()),
            "start" => start = Some(parse_u64("start", v)?),
            "end" => end = Some(parse_u64("end", v)?),
            "fields" => fields = Some(list(v)),
            "tags" => tags = Some(list(v)),
            "notags" => notags = Some(list(v)),
            other => return Err(invalid(format!("unknown query parameter {other:?}"))),
        }
    }
    if class == Some(Class::Header) && seen.iter().any(|k| *k != "format" && *k != "class") {
        return Err(invalid(
            "class=header cannot be combined with parameters other than format",
        ));
    }
    check_fields(endpoint, fields.as_deref().unwrap_or_default())?;
    check_tags(tags.as_deref(), notags.as_deref())?;
    Ok(TicketRequest {
        format,
        class: class.unwrap_or_default(),
        regions: region(endpoint, name, start, end)?.into_iter().collect(),
    })
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PostRegion {
    reference_name: Option<String>,
    start: Option<u64>,
    end: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PostBody {
    format: Option<String>,
    class: Option<String>,
    fields: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    notags: Option<Vec<String>>,
    regions: Option<Vec<PostRegion>>,
}

/// Parses the JSON body of a ticket `POST`.
///
/// The rules of [`parse_get`], plus: unknown members are `InvalidInput`, every region needs a
/// `referenceName`, `regions` must not be empty when present, and more than [`MAX_REGIONS`]
/// regions are `PayloadTooLarge`.
///
/// # Errors
/// The first problem found, as above.
///
/// # Examples
///
/// ```
/// use gemj_htsget::{Endpoint, Region, parse_post};
///
/// let body = br#"{"format": "VCF", "regions": [{"referenceName": "chr20", "start": 0, "end": 5}]}"#;
/// let r = parse_post(Endpoint::Variants, body)?;
/// assert_eq!(r.regions, [Region::new("chr20", 0, Some(5))]);
/// # Ok::<(), gemj_htsget::Error>(())
/// ```
pub fn parse_post(endpoint: Endpoint, body: &[u8]) -> Result<TicketRequest, Error> {
    let body: PostBody = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the body is not an htsget request: {e}")))?;
    let format = body
        .format
        .as_deref()
        .map(|f| parse_format(endpoint, f))
        .transpose()?;
    let class = body.class.as_deref().map(parse_class).transpose()?;
    if class == Some(Class::Header)
        && (body.fields.is_some()
            || body.tags.is_some()
            || body.notags.is_some()
            || body.regions.is_some())
    {
        return Err(invalid(
            "class header cannot be combined with parameters other than format",
        ));
    }
    check_fields(endpoint, body.fields.as_deref().unwrap_or_default())?;
    check_tags(body.tags.as_deref(), body.notags.as_deref())?;
    let mut regions = Vec::new();
    if let Some(list) = &body.regions {
        if list.is_empty() {
            return Err(invalid(
                "regions must not be empty (omit it for the whole file)",
            ));
        }
        if list.len() > MAX_REGIONS {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!("at most {MAX_REGIONS} regions per request"),
            ));
        }
        for r in list {
            if r.reference_name.is_none() {
                return Err(invalid("every region needs a referenceName"));
            }
            if let Some(region) = region(endpoint, r.reference_name.as_deref(), r.start, r.end)? {
                regions.push(region);
            }
        }
    }
    Ok(TicketRequest {
        format,
        class: class.unwrap_or_default(),
        regions,
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_REGIONS, parse_get, parse_post};
    use crate::{Class, Endpoint, ErrorKind, Format, ReferenceName, Region};

    #[track_caller]
    fn get_err(endpoint: Endpoint, query: &str) -> (ErrorKind, u16) {
        match parse_get(endpoint, query) {
            Ok(r) => panic!("{query:?} was accepted: {r:?}"),
            Err(e) => (e.kind, e.status()),
        }
    }

    #[track_caller]
    fn post_err(endpoint: Endpoint, body: &str) -> (ErrorKind, u16) {
        match parse_post(endpoint, body.as_bytes()) {
            Ok(r) => panic!("{body} was accepted: {r:?}"),
            Err(e) => (e.kind, e.status()),
        }
    }

    #[test]
    fn get_requests() -> Result<(), crate::Error> {
        use Endpoint::{Reads, Variants};
        let r = parse_get(Reads, "")?;
        assert_eq!((r.format, r.class, r.regions.len()), (None, Class::Body, 0));
        let r = parse_get(Reads, "format=CRAM&class=header")?;
        assert_eq!((r.format, r.class), (Some(Format::Cram), Class::Header));
        let r = parse_get(Reads, "referenceName=*")?;
        assert_eq!(r.regions[0].reference, ReferenceName::Unplaced);
        let r = parse_get(Variants, "referenceName=chr20&start=0")?;
        assert_eq!(r.regions, [Region::new("chr20", 0, None)]);
        parse_get(Reads, "fields=QNAME,POS&tags=NM&notags=MD")?;
        let bad = ErrorKind::InvalidInput;
        for (endpoint, query, want) in [
            (Reads, "start=1", (bad, 400)),
            (Reads, "referenceName=chr1&referenceName=chr2", (bad, 400)),
            (Reads, "referenceName=chr1&start=-1", (bad, 400)),
            (Reads, "referenceName=chr1&start=4294967296", (bad, 400)),
            (Reads, "referenceName=&start=1", (bad, 400)),
            (Reads, "referenceName=*&start=1", (bad, 400)),
            (Variants, "referenceName=*", (bad, 400)),
            (Reads, "class=header&referenceName=chr1", (bad, 400)),
            (Reads, "class=headers", (bad, 400)),
            (Reads, "fields=CHROM", (bad, 400)),
            (Reads, "tags=NM&notags=NM,MD", (bad, 400)),
            (Reads, "colour=red", (bad, 400)),
            (Reads, "%zz", (bad, 400)),
            (Reads, "format=VCF", (ErrorKind::UnsupportedFormat, 400)),
            (Variants, "format=bam", (ErrorKind::UnsupportedFormat, 400)),
            (
                Reads,
                "referenceName=chr1&start=5&end=5",
                (ErrorKind::InvalidRange, 400),
            ),
        ] {
            assert_eq!(get_err(endpoint, query), want, "{query}");
        }
        Ok(())
    }

    #[test]
    fn post_requests() -> Result<(), crate::Error> {
        use Endpoint::{Reads, Variants};
        let r = parse_post(Reads, br#"{}"#)?;
        assert!(r.regions.is_empty());
        let r = parse_post(
            Reads,
            br#"{"format":"BAM","regions":[{"referenceName":"chr1"},{"referenceName":"*"}]}"#,
        )?;
        assert_eq!(r.regions.len(), 2);
        let many: Vec<String> = (0..=MAX_REGIONS)
            .map(|i| format!(r#"{{"referenceName":"chr1","start":{i}}}"#))
            .collect();
        let too_many = format!(r#"{{"regions":[{}]}}"#, many.join(","));
        assert_eq!(
            post_err(Reads, &too_many),
            (ErrorKind::PayloadTooLarge, 413)
        );
        let bad = (ErrorKind::InvalidInput, 400);
        for body in [
            "not json",
            "[]",
            r#"{"regions":[]}"#,
            r#"{"regions":[{"start":1}]}"#,
            r#"{"regions":[{"referenceName":"chr1","start":4294967296}]}"#,
            r#"{"class":"header","regions":[{"referenceName":"chr1"}]}"#,
            r#"{"extra":1}"#,
            r#"{"regions":[{"referenceName":"chr1","strand":"+"}]}"#,
        ] {
            assert_eq!(post_err(Reads, body), bad, "{body}");
        }
        assert_eq!(
            post_err(Variants, r#"{"regions":[{"referenceName":"*"}]}"#),
            bad
        );
        assert_eq!(
            post_err(Variants, r#"{"format":"CRAM"}"#),
            (ErrorKind::UnsupportedFormat, 400)
        );
        assert_eq!(
            post_err(
                Variants,
                r#"{"regions":[{"referenceName":"chr1","start":9,"end":3}]}"#
            ),
            (ErrorKind::InvalidRange, 400)
        );
        Ok(())
    }
}
