// Reads rendered manifests (YAML, many documents) on stdin, validates each object against its schema (Kubernetes,
// KEDA, Prometheus operator) and prints them as one JSON array. Exit 1 naming the object when one is invalid or has
// a kind it has no schema for.
import { parseAllDocuments } from "yaml";

const groups = {
  "keda.sh/": "@kubernetes-models/keda/",
  "monitoring.coreos.com/": "@kubernetes-models/prometheus-operator/",
};

async function modelFor(apiVersion, kind) {
  const prefix = Object.keys(groups).find((g) => apiVersion.startsWith(g));
  const path = prefix ? groups[prefix] + apiVersion : "kubernetes-models/" + apiVersion;
  const module = await import(path).catch(() => ({}));
  return module[kind];
}

let text = "";
for await (const chunk of process.stdin) text += chunk;
const objects = [];
let failed = 0;
for (const doc of parseAllDocuments(text)) {
  if (doc.errors.length) { console.error(`YAML: ${doc.errors[0].message}`); failed++; continue; }
  const obj = doc.toJS();
  if (obj == null) continue;
  const name = `${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"} (${obj.apiVersion ?? "no apiVersion"})`;
  const Model = obj.apiVersion && obj.kind ? await modelFor(obj.apiVersion, obj.kind) : undefined;
  if (!Model) { console.error(`${name}: no schema for this kind`); failed++; continue; }
  try {
    new Model(obj).validate();
    objects.push(obj);
  } catch (e) {
    console.error(`${name}: ${e.message}`);
    failed++;
  }
}
if (failed > 0 || objects.length === 0) {
  console.error(`${failed} of ${failed + objects.length} objects invalid`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(objects) + "\n");
