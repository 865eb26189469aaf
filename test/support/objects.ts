// Valid objects from a YAML text, as the file source would store them (for unit tests that build a model).
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";

export function validObjects(yaml: string, file = "input.yaml"): StoredObject<InputObject>[] {
  return parseYamlFile(file, yaml).results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
}
