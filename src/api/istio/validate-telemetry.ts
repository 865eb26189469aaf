/**
 * Telemetry (telemetry.istio.io) validation, following Istio 1.30's webhook after the schema
 * check: the selector or a target reference, and per access-logging entry provider names that are
 * not empty and a filter expression that Envoy's CEL accepts (api/cel.ts; Istio's webhook parses it
 * with cel-go): Envoy refuses a whole listener whose access-log filter it cannot build, so a bad
 * expression must not reach it. Tracing and metrics are checked only for shape: they are reported, not translated
 * (model/telemetry.ts).
 */
import { envoyCelProblem } from "../cel.js";
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { describe } from "../validate-names.js";
import { PolicySelectorSchema, TargetRefSchema, validatePolicyTarget } from "./validate-authorization-policy.js";

const str: FieldType = { t: "string" };
const msg = (of: () => MessageSchema): FieldType => ({ t: "message", of });
const anyList: FieldType = { t: "list", of: { t: "object" } };

const ProviderRefSchema: MessageSchema = { name: "ProviderRef", fields: { name: str } };

const AccessLoggingSchema: MessageSchema = {
  name: "AccessLogging",
  fields: {
    match: msg(() => ({ name: "AccessLogging.LogSelector", fields: { mode: { t: "enum", values: ["CLIENT_AND_SERVER", "CLIENT", "SERVER"] } } })),
    providers: { t: "list", of: msg(() => ProviderRefSchema) },
    disabled: { t: "bool" },
    filter: msg(() => ({ name: "AccessLogging.Filter", fields: { expression: str } })),
  },
};

const TelemetrySchema: MessageSchema = {
  name: "Telemetry",
  fields: {
    selector: msg(() => PolicySelectorSchema),
    targetRef: msg(() => TargetRefSchema),
    targetRefs: { t: "list", of: msg(() => TargetRefSchema) },
    tracing: anyList,
    metrics: anyList,
    accessLogging: { t: "list", of: msg(() => AccessLoggingSchema) },
  },
};

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function validateTelemetrySpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) return;
  if (!isPlainObject(spec)) {
    si.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  checkMessage(spec, TelemetrySchema, si);
  validatePolicyTarget(spec, si);
  arr(spec["accessLogging"]).forEach((entry, i) => {
    if (!isPlainObject(entry)) return;
    const at = si.at("accessLogging", i);
    arr(entry["providers"]).forEach((p, j) => {
      if (isPlainObject(p) && (typeof p["name"] !== "string" || p["name"].trim() === "")) at.at("providers", j, "name").error("a provider needs a name");
    });
    const filter = entry["filter"];
    if (!isPlainObject(filter)) return;
    const expression = filter["expression"];
    if (typeof expression !== "string" || expression.trim() === "") {
      at.at("filter", "expression").error("a filter needs an expression (CEL), such as response.code >= 400");
      return;
    }
    const problem = envoyCelProblem(expression);
    if (problem) at.at("filter", "expression").error(`not a valid CEL expression: ${problem}`);
  });
}
