//! The CustomResourceDefinition: generated from the Rust types, plus the declarative checks a
//! derive cannot express (CEL rules, list types, printer columns).

use kube::CustomResourceExt;
use serde_json::{Value, json};

use crate::spec::ComplianceReport;

/// Printer columns of `kubectl get compliancereports`.
fn printer_columns() -> Value {
    json!([
        {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
        {"name": "Suspend", "type": "boolean", "jsonPath": ".spec.suspend"},
        {"name": "Last Run", "type": "date", "jsonPath": ".status.lastRunTime"},
        {"name": "Events", "type": "integer", "jsonPath": ".status.lastEventCount"},
        {"name": "File ID", "type": "string", "jsonPath": ".status.lastUploadedFileId"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ])
}

/// The node at `path`; numeric segments index arrays.
fn at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        other => other.get_mut(*key),
    })
}

/// The CRD as JSON.
pub fn definition() -> Value {
    let mut crd = serde_json::to_value(ComplianceReport::crd()).unwrap_or(Value::Null);
    if let Some(version) = at(&mut crd, &["spec", "versions", "0"]) {
        version["additionalPrinterColumns"] = printer_columns();
    }
    let spec = [
        "spec",
        "versions",
        "0",
        "schema",
        "openAPIV3Schema",
        "properties",
        "spec",
    ];
    if let Some(spec) = at(&mut crd, &spec) {
        spec["x-kubernetes-validations"] = json!([
            {
                "rule": "self.schedule.matches('^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.schedule.split(' ').filter(f, f != '').size() == 5",
                "message": "schedule must have five fields (minute hour day-of-month month day-of-week) or be a macro such as @daily",
                "fieldPath": ".schedule"
            },
            {
                "rule": "!self.schedule.contains('TZ=')",
                "message": "set the time zone in timeZone, not in the schedule",
                "fieldPath": ".schedule"
            }
        ]);
        if let Some(portal) = at(spec, &["properties", "portal"]) {
            portal["x-kubernetes-validations"] = json!([{
                "rule": "self.url.startsWith('https://') || self.url.startsWith('http://127.') || self.url.startsWith('http://localhost') || self.url.startsWith('http://[::1]') || (has(self.allowInsecureHttp) && self.allowInsecureHttp)",
                "message": "portal.url must use https (plain http only to loopback or with allowInsecureHttp)",
                "fieldPath": ".url"
            }]);
        }
        if let Some(formats) = at(spec, &["properties", "report", "properties", "formats"]) {
            formats["x-kubernetes-list-type"] = json!("set");
        }
    }
    let conditions = [
        "spec",
        "versions",
        "0",
        "schema",
        "openAPIV3Schema",
        "properties",
        "status",
        "properties",
        "conditions",
    ];
    if let Some(conditions) = at(&mut crd, &conditions) {
        conditions["x-kubernetes-list-type"] = json!("map");
        conditions["x-kubernetes-list-map-keys"] = json!(["type"]);
    }
    crd
}

/// The CRD as YAML, as committed in `crds/`.
pub fn yaml() -> Result<String, String> {
    serde_saphyr::to_string(&definition()).map_err(|e| format!("cannot write the CRD as YAML: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_crd_is_current() {
        let committed = include_str!("../../crds/compliancereports.compliance.docspace.dev.yaml");
        assert!(
            committed == super::yaml().unwrap(),
            "crds/compliancereports.compliance.docspace.dev.yaml is stale; regenerate it with: \
             cargo run -- crd > crds/compliancereports.compliance.docspace.dev.yaml && \
             cp crds/compliancereports.compliance.docspace.dev.yaml charts/docspace-compliance-operator/files/"
        );
    }

    #[test]
    fn schema_has_printer_columns_and_rules() {
        let crd = super::definition();
        let version = &crd["spec"]["versions"][0];
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            columns,
            [
                "Schedule", "Suspend", "Last Run", "Events", "File ID", "Ready", "Age"
            ]
        );
        assert_eq!(version["subresources"]["status"], serde_json::json!({}));
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(spec["x-kubernetes-validations"].as_array().unwrap().len() >= 2);
        assert_eq!(
            spec["properties"]["upload"]["required"],
            serde_json::json!(["folderId"])
        );
    }
}
