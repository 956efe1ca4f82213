//! The `CapabilityStatement` of `GET /fhir/metadata`: exactly what the server implements.

use serde_json::{Value, json};

use crate::search::ParamSpec;

/// One resource type served.
#[derive(Debug, Clone)]
pub struct ResourceCapability {
    /// Its type (`Patient`).
    pub resource_type: &'static str,
    /// The IG or core profile it follows.
    pub profile: Option<&'static str>,
    /// Other profiles some of its resources follow (the IG's Variant, Genotype, ...).
    pub supported_profiles: &'static [&'static str],
    /// Its search parameters.
    pub search: &'static [ParamSpec],
    /// `_sort` keys.
    pub sortable: &'static [&'static str],
    /// Whether it is created through transaction and batch Bundles.
    pub create: bool,
}

/// What the statement says about the server.
#[derive(Debug, Clone)]
pub struct ServerDescription<'a> {
    /// The FHIR base URL (`https://host/fhir`).
    pub base: &'a str,
    /// The software's name and version.
    pub software: (&'a str, &'a str),
    /// When the statement was made (RFC 3339).
    pub date: &'a str,
    /// The resource types.
    pub resources: &'a [ResourceCapability],
    /// The operations (name → definition canonical URL).
    pub operations: &'a [&'a str],
    /// The SMART token endpoint, when SMART Backend Services are on.
    pub token_endpoint: Option<&'a str>,
}

/// The statement.
#[must_use]
pub fn capability_statement(d: &ServerDescription<'_>) -> Value {
    let resources: Vec<Value> = d
        .resources
        .iter()
        .map(|r| {
            let mut interactions = vec![json!({"code": "read"}), json!({"code": "search-type"})];
            if r.create {
                interactions.push(json!({"code": "create", "documentation": "Only inside transaction and batch Bundles posted to the base; conditional (ifNoneExist) creates are honoured."}));
            }
            let params: Vec<Value> = r
                .search
                .iter()
                .map(|p| json!({"name": p.name, "type": p.kind.as_str(), "documentation": p.documentation}))
                .chain(std::iter::once(json!({"name": "_id", "type": "token"})))
                .collect();
            let mut v = json!({
                "type": r.resource_type,
                "interaction": interactions,
                "versioning": "no-version",
                "readHistory": false,
                "updateCreate": false,
                "conditionalCreate": r.create,
                "conditionalRead": "not-supported",
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": params,
            });
            if let Some(profile) = r.profile {
                v["profile"] = json!(profile);
            }
            if !r.supported_profiles.is_empty() {
                v["supportedProfile"] = json!(r.supported_profiles);
            }
            v
        })
        .collect();
    let operations: Vec<Value> = d
        .operations
        .iter()
        .map(|name| json!({"name": name, "definition": format!("{}/OperationDefinition/{name}", d.base)}))
        .collect();
    let mut security = json!({
        "cors": false,
        "description": "Hospital systems: SMART Backend Services (client credentials with a signed JWT assertion, system/*.read and system/*.write scopes) or an institution token; researchers: a GA4GH Passport as a Bearer token. Every read, search and operation is an access decision of the gateway, audited; withdrawn participants do not exist.",
    });
    if let Some(token) = d.token_endpoint {
        security["service"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}]);
        security["extension"] = json!([{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{"url": "token", "valueUri": token}]
        }]);
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": d.date,
        "kind": "instance",
        "software": {"name": d.software.0, "version": d.software.1},
        "implementation": {"description": "GeMJ gateway FHIR R4 server", "url": d.base},
        "fhirVersion": crate::FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "implementationGuide": ["http://hl7.org/fhir/uv/genomics-reporting/ImplementationGuide/hl7.fhir.uv.genomics-reporting"],
        "rest": [{
            "mode": "server",
            "security": security,
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
            "operation": operations,
        }],
    })
}
