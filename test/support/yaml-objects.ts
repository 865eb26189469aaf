// Kubernetes/Istio YAML written inline in a unit test → the stored objects the pipeline takes.
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";

/**
 * The valid objects of `text`. With `strict`, any error diagnostic throws instead: for tests whose
 * input must be entirely valid, so that a typo cannot quietly drop an object.
 */
export function yamlObjects(text: string, opts: { readonly strict?: boolean } = {}): StoredObject<InputObject>[] {
  const load = parseYamlFile("input.yaml", text);
  const errors = load.diagnostics.filter((d) => d.severity === "error");
  if (opts.strict && errors.length) throw new Error(errors.map((d) => `${d.path ?? ""} ${d.message}`).join("; "));
  return load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
}
