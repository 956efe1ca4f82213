// Evaluates FHIR R4 invariants that matter for the gateway's answers with npm `fhirpath`
// (the HL7 FHIRPath engine, R4 model): each expression must be true on every resource it
// applies to, inside Bundles and Parameters too. Usage: node fhirpath-invariants.js FHIRPATH FILE...
const [, , fhirpathDir, ...files] = process.argv;
const fhirpath = require(fhirpathDir);
const r4 = require(`${fhirpathDir}/fhir-context/r4`);
const fs = require("fs");

// [resource type, key, expression]: core R4 invariants and the IG's Variant shape.
const invariants = [
  ["Bundle", "bdl-1", "total.empty() or (type = 'searchset') or (type = 'history')"],
  ["Bundle", "bdl-2", "entry.search.empty() or (type = 'searchset')"],
  ["Bundle", "bdl-3", "entry.request.empty() or type = 'batch' or type = 'transaction' or type = 'history'"],
  ["Bundle", "bdl-4", "entry.response.empty() or type = 'batch-response' or type = 'transaction-response' or type = 'history'"],
  ["Bundle", "bdl-7", "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()"],
  ["Observation", "obs-6", "dataAbsentReason.empty() or value.empty()"],
  ["Observation", "obs-7", "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()"],
  ["Observation", "variant: code 69548-6 with a 0-based range and both alleles",
    "code.coding.where(code = '69548-6').empty() or (component.where(code.coding.code = '92822-6').value.coding.code = 'LA30100-4' and component.where(code.coding.code = '81254-5').value.low.value.exists() and component.where(code.coding.code = '69547-8').value.exists() and component.where(code.coding.code = '69551-0').value.exists())"],
  ["Consent", "ppc-1", "policy.exists() or policyRule.exists()"],
  ["Patient", "pat-gemj: the GeMJ id is present", "identifier.where(system = 'http://gemj.example.jp/id/subject').exists()"],
  ["CapabilityStatement", "cpb-1", "rest.exists() or messaging.exists() or document.exists()"],
  ["CapabilityStatement", "cpb-2", "(description.count() + software.count() + implementation.count()) > 0"],
  ["OperationOutcome", "issue", "issue.exists()"],
];

function* resources(node) {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) { for (const x of node) yield* resources(x); return; }
  if (typeof node.resourceType === "string") yield node;
  for (const [k, v] of Object.entries(node)) if (k !== "resourceType") yield* resources(v);
}

let evaluated = 0, failed = 0;
for (const file of files) {
  const doc = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const resource of resources(doc)) {
    for (const [type, key, expression] of invariants) {
      if (resource.resourceType !== type) continue;
      const result = fhirpath.evaluate(resource, expression, { resource }, r4);
      evaluated++;
      if (!(result.length === 1 && result[0] === true)) {
        failed++;
        console.error(`${file}: ${type}/${resource.id || "?"} fails ${key}: ${JSON.stringify(result)}`);
      }
    }
  }
}
console.log(`fhirpath: ${evaluated} invariant evaluations over ${files.length} answers, ${failed} failed`);
if (evaluated === 0 || failed > 0) process.exit(1);
