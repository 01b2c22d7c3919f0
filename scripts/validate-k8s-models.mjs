// Validates Argo CD Applications and prometheus-operator ServiceMonitors and PrometheusRules
// against the schemas of the @kubernetes-models packages (generated from the upstream Go types;
// they check types, required fields, enums and patterns, not unknown fields).
//
//   node scripts/validate-k8s-models.mjs MODELS_DIR FILE.json
//
// MODELS_DIR holds node_modules/ with @kubernetes-models/argo-cd and
// @kubernetes-models/prometheus-operator (scripts/test-tools.sh path node-models). FILE.json is
// one object, an array, or a List (e.g. `kubectl apply --dry-run=server -o json`). Prints one
// line per object of a known kind and exits 1 if any is invalid or none was checked.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modelsDir, file] = process.argv.slice(2);
if (!modelsDir || !file) {
  console.error("usage: validate-k8s-models.mjs MODELS_DIR FILE.json");
  process.exit(2);
}

const models = {
  "argoproj.io/v1alpha1/Application": ["@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application.js", "Application"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js", "ServiceMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js", "PrometheusRule"],
};

async function model(key) {
  const [path, name] = models[key];
  const module = await import(pathToFileURL(join(modelsDir, "node_modules", path)).href);
  return module[name];
}

const input = JSON.parse(readFileSync(file, "utf8"));
const items = Array.isArray(input) ? input : input.kind === "List" ? input.items : [input];
let checked = 0;
let failed = 0;
for (const item of items) {
  const key = `${item.apiVersion}/${item.kind}`;
  if (!(key in models)) continue;
  const Model = await model(key);
  const name = `${item.kind} ${item.metadata?.namespace ?? ""}/${item.metadata?.name}`;
  checked += 1;
  try {
    new Model(item).validate();
    console.log(`valid    ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`INVALID  ${name}: ${error.message ?? error}`);
  }
}
if (checked === 0) {
  console.log("no Application, ServiceMonitor or PrometheusRule found");
  process.exit(1);
}
process.exit(failed === 0 ? 0 : 1);
