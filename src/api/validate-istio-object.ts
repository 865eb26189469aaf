/**
 * The object-level checks every Istio kind shares (top-level fields, `spec` a map), then the
 * kind's own spec validator where meshpilot has one.
 */
import { stripNulls } from "./equal.js";
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import type { ObjectMeta } from "./kube-types.js";
import type { InputKind, InputObject } from "./objects.js";
import { validateDestinationRuleSpec } from "./validate-destinationrule.js";
import { validateVirtualServiceSpec } from "./validate-virtualservice.js";

type SpecValidator = (spec: unknown, namespace: string, issues: Issues) => void;

const SPEC_VALIDATORS: Partial<Record<InputKind, SpecValidator>> = {
  VirtualService: validateVirtualServiceSpec,
  DestinationRule: validateDestinationRuleSpec,
};

const TOP_LEVEL = ["apiVersion", "kind", "metadata", "spec", "status"];

export function validateIstioObject(kind: InputKind, raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): InputObject {
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) issues.at(k).error(`unknown field "${k}" in ${kind}`);
  SPEC_VALIDATORS[kind]?.(raw["spec"], metadata.namespace ?? "default", issues);
  const spec = isPlainObject(raw["spec"]) ? stripNulls(raw["spec"]) : {};
  return { apiVersion: raw["apiVersion"], kind, metadata, spec } as InputObject;
}
