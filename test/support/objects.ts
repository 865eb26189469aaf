// Valid objects from a YAML text, as the file source would store them (for unit tests that build a model).
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";

/**
 * The valid objects of `yaml`. With `strict`, any error diagnostic throws instead: for tests whose
 * input must be entirely valid, so that a typo cannot quietly drop an object.
 */
export function validObjects(yaml: string, opts: { readonly file?: string; readonly strict?: boolean } = {}): StoredObject<InputObject>[] {
  const load = parseYamlFile(opts.file ?? "input.yaml", yaml);
  const errors = load.diagnostics.filter((d) => d.severity === "error");
  if (opts.strict && errors.length) throw new Error(errors.map((d) => `${d.path ?? ""} ${d.message}`).join("; "));
  return load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
}
