//! What these types serialize validates against the official service-info and service-registry
//! schemas (and, flattened into an extension, against DRS and htsget service-info).

use std::error::Error;

use gemj_schemas::docs;
use gemj_service_info::{ExternalService, Organization, Service, ServiceType};
use serde::Serialize;

type TestResult = Result<(), Box<dyn Error>>;

/// A typical gateway service-info, every optional field set.
fn gateway() -> Service {
    Service {
        id: "jp.example.gemj.gateway".to_owned(),
        name: "GeMJ gateway (test)".to_owned(),
        r#type: ServiceType::ga4gh("service-registry", "1.0.0"),
        description: Some("Synthetic gateway for tests.".to_owned()),
        organization: Organization {
            name: "Example Genome Centre".to_owned(),
            url: "https://genome.example.org".to_owned(),
        },
        contact_url: Some("mailto:help@genome.example.org".to_owned()),
        documentation_url: Some("https://genome.example.org/docs".to_owned()),
        created_at: Some("2025-04-01T09:00:00Z".to_owned()),
        updated_at: Some("2025-04-02T10:30:00+09:00".to_owned()),
        environment: Some("test".to_owned()),
        version: "0.1.0".to_owned(),
    }
}

fn mounted(suffix: &str, artifact: &str, version: &str, path: &str) -> ExternalService {
    let mut service = gateway();
    service.id = format!("{}.{suffix}", service.id);
    service.r#type = ServiceType::ga4gh(artifact, version);
    service.description = None;
    service.created_at = None;
    service.updated_at = None;
    ExternalService {
        service,
        url: format!("https://gateway.example.org{path}"),
    }
}

fn minimal() -> Service {
    Service {
        id: "x".to_owned(),
        name: "x".to_owned(),
        r#type: ServiceType {
            group: "org.example".to_owned(),
            artifact: "custom".to_owned(),
            version: "1".to_owned(),
        },
        description: None,
        organization: Organization {
            name: "o".to_owned(),
            url: "https://o.example".to_owned(),
        },
        contact_url: None,
        documentation_url: None,
        created_at: None,
        updated_at: None,
        environment: None,
        version: "1".to_owned(),
    }
}

#[test]
fn service_info_validates() -> TestResult {
    let schemas = gemj_schemas::testing::schemas();
    let validator = schemas.service_info()?;
    for service in [gateway(), minimal()] {
        let json = serde_json::to_value(&service)?;
        assert_eq!(validator.validate(&json), Ok(()), "{json}");
        let back: Service = serde_json::from_value(json)?;
        assert_eq!(back, service);
    }
    Ok(())
}

#[test]
fn service_registry_list_validates() -> TestResult {
    let schemas = gemj_schemas::testing::schemas();
    let list = vec![
        ExternalService {
            service: gateway(),
            url: "https://gateway.example.org".to_owned(),
        },
        mounted("htsget", "htsget", "1.3.0", "/ga4gh/htsget/v1"),
        mounted("drs", "drs", "1.5.0", "/ga4gh/drs/v1"),
        mounted("beacon", "beacon", "2.2.0", "/ga4gh/beacon/v2"),
    ];
    let json = serde_json::to_value(&list)?;
    assert_eq!(schemas.service_registry_services()?.validate(&json), Ok(()));
    let one = serde_json::to_value(&list[1])?;
    let by_id = schemas.openapi_response(
        docs::SERVICE_REGISTRY,
        "/services/{serviceId}",
        "get",
        "200",
    )?;
    assert_eq!(by_id.validate(&one), Ok(()));
    let back: Vec<ExternalService> = serde_json::from_value(json)?;
    assert_eq!(back, list);
    Ok(())
}

#[test]
fn a_bad_value_is_caught_by_the_schema() -> TestResult {
    let schemas = gemj_schemas::testing::schemas();
    let mut service = gateway();
    service.created_at = Some("April 2025".to_owned());
    service.organization.url = "genome centre".to_owned();
    let errors = schemas
        .service_info()?
        .validate(&serde_json::to_value(&service)?)
        .err()
        .unwrap_or_default();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("/createdAt:")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("/organization/url:")),
        "{errors:?}"
    );
    Ok(())
}

/// DRS service-info: `Service` flattened into an extension, as the crate documentation shows.
#[derive(Serialize)]
struct DrsServiceInfo {
    #[serde(flatten)]
    service: Service,
    #[serde(rename = "maxBulkRequestLength")]
    max_bulk_request_length: u32,
    drs: DrsInfo,
}

#[derive(Serialize)]
struct DrsInfo {
    #[serde(rename = "maxBulkRequestLength")]
    max_bulk_request_length: u32,
}

#[derive(Serialize)]
struct HtsgetServiceInfo {
    #[serde(flatten)]
    service: Service,
    htsget: HtsgetInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HtsgetInfo {
    datatype: &'static str,
    formats: Vec<&'static str>,
    fields_parameter_effective: bool,
    tags_parameters_effective: bool,
}

#[test]
fn flattened_extensions_validate_against_their_apis() -> TestResult {
    let schemas = gemj_schemas::testing::schemas();
    let drs = DrsServiceInfo {
        service: mounted("drs", "drs", "1.5.0", "/ga4gh/drs/v1").service,
        max_bulk_request_length: 100,
        drs: DrsInfo {
            max_bulk_request_length: 100,
        },
    };
    let validator = schemas.openapi_response(docs::DRS, "/service-info", "get", "200")?;
    assert_eq!(validator.validate(&serde_json::to_value(&drs)?), Ok(()));
    let htsget = HtsgetServiceInfo {
        service: mounted("htsget", "htsget", "1.3.0", "/ga4gh/htsget/v1").service,
        htsget: HtsgetInfo {
            datatype: "reads",
            formats: vec!["BAM", "CRAM"],
            fields_parameter_effective: false,
            tags_parameters_effective: false,
        },
    };
    let validator = schemas.openapi_response(docs::HTSGET, "/reads/service-info", "get", "200")?;
    assert_eq!(validator.validate(&serde_json::to_value(&htsget)?), Ok(()));
    Ok(())
}
