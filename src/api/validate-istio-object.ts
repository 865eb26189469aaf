/**
 * The object-level checks every Istio kind shares (top-level fields, `spec` a map), then the
 * kind's own spec validator where meshpilot has one.
 */
import { stripNulls } from "./equal.js";
import { SPEC_FIELDS, type SpecFieldType, type UntranslatedIstioKind } from "./istio-resource.js";
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import { describe } from "./validate-names.js";
import type { ObjectMeta } from "./kube-types.js";
import type { InputKind, InputObject } from "./objects.js";
import { validateGatewaySpec } from "./istio/validate-gateway.js";
import { validateAuthorizationPolicySpec } from "./istio/validate-authorization-policy.js";
import { validateRequestAuthenticationSpec } from "./istio/validate-request-authentication.js";
import { validatePeerAuthenticationSpec } from "./istio/validate-peer-authentication.js";
import { validateTelemetrySpec } from "./istio/validate-telemetry.js";
import { validateServiceEntrySpec, validateWorkloadEntrySpec } from "./istio/validate-service-entry.js";
import { validateDestinationRuleSpec } from "./validate-destinationrule.js";
import { validateSidecarSpec } from "./validate-sidecar.js";
import { validateVirtualServiceSpec } from "./validate-virtualservice.js";

type SpecValidator = (spec: unknown, namespace: string, issues: Issues) => void;

const SPEC_VALIDATORS: Partial<Record<InputKind, SpecValidator>> = {
  VirtualService: validateVirtualServiceSpec,
  DestinationRule: validateDestinationRuleSpec,
  Sidecar: validateSidecarSpec,
  Gateway: validateGatewaySpec,
  ServiceEntry: validateServiceEntrySpec,
  WorkloadEntry: validateWorkloadEntrySpec,
  AuthorizationPolicy: validateAuthorizationPolicySpec,
  RequestAuthentication: validateRequestAuthenticationSpec,
  PeerAuthentication: validatePeerAuthenticationSpec,
  Telemetry: validateTelemetrySpec,
};

const TOP_LEVEL = ["apiVersion", "kind", "metadata", "spec", "status"];

export function validateIstioObject(kind: InputKind, raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): InputObject {
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) issues.at(k).error(`unknown field "${k}" in ${kind}`);
  const own = SPEC_VALIDATORS[kind];
  if (own) own(raw["spec"], metadata.namespace ?? "default", issues);
  else if (kind in SPEC_FIELDS) checkSpecShape(kind as UntranslatedIstioKind, raw["spec"], issues.at("spec"));
  const spec = isPlainObject(raw["spec"]) ? stripNulls(raw["spec"]) : {};
  return { apiVersion: raw["apiVersion"], kind, metadata, spec } as InputObject;
}

/**
 * The structural check of a kind that is read but not translated yet: `spec` is a map and each
 * known field has its JSON type (refused otherwise, as Istio's CRD schema would). An unknown
 * field is a warning: nothing reads it yet, and a field newer than this table must not refuse
 * the object.
 */
function checkSpecShape(kind: UntranslatedIstioKind, spec: unknown, issues: Issues): void {
  if (spec === undefined || spec === null) return;
  if (!isPlainObject(spec)) {
    issues.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  const fields = SPEC_FIELDS[kind];
  for (const [name, value] of Object.entries(spec)) {
    const want = fields[name];
    if (!want) {
      issues.at(name).warning(`unknown field "${name}" in ${kind}; known fields: ${Object.keys(fields).join(", ")}`);
      continue;
    }
    if (value !== null && !hasType(value, want)) issues.at(name).error(`expected ${EXPECTED[want]}, got ${describe(value)}`);
  }
}

const EXPECTED: Readonly<Record<SpecFieldType, string>> = { array: "a list", object: "a map", string: "a string", integer: "an integer" };

function hasType(v: unknown, t: SpecFieldType): boolean {
  switch (t) {
    case "array":
      return Array.isArray(v);
    case "object":
      return isPlainObject(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
  }
}
