/**
 * The Istio kinds meshpilot reads but does not translate yet: kept as validated objects whose
 * `spec` is the user's map, so they can be reported (and, kind by kind, translated later).
 */
import type { ObjectMeta } from "./kube-types.js";

export type UntranslatedIstioKind = "WorkloadGroup" | "EnvoyFilter" | "ProxyConfig" | "WasmPlugin";

/** Translated kinds kept as the user's validated map: their model builders read the spec. */
export type TranslatedMapIstioKind = "Sidecar" | "AuthorizationPolicy" | "RequestAuthentication" | "PeerAuthentication" | "Telemetry";

/** Istio kinds kept as the user's validated map (the untranslated ones, and those model/ reads as a map). */
export type MapIstioKind = UntranslatedIstioKind | TranslatedMapIstioKind;

export interface IstioResource<K extends MapIstioKind> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: Readonly<Record<string, unknown>>;
}

/** One object type per kind (distributes over the union, so `Extract<…, { kind: K }>` works). */
export type UntranslatedIstioObject = UntranslatedIstioKind extends infer K ? (K extends UntranslatedIstioKind ? IstioResource<K> : never) : never;

/** The JSON type of a top-level `spec` field. */
export type SpecFieldType = "array" | "object" | "string" | "integer";

/**
 * The top-level `spec` fields of each kind in Istio 1.30 and their JSON types: the structural
 * check for kinds whose full validation comes with their translation, and the typed part of
 * their CRD schemas in deploy/crds.yaml (a test holds the two together).
 */
export const SPEC_FIELDS: { readonly [K in UntranslatedIstioKind]: Readonly<Record<string, SpecFieldType>> } = {
  WorkloadGroup: { metadata: "object", template: "object", probe: "object" },
  EnvoyFilter: { workloadSelector: "object", targetRefs: "array", configPatches: "array", priority: "integer" },
  ProxyConfig: { selector: "object", concurrency: "integer", environmentVariables: "object", image: "object" },
  WasmPlugin: {
    selector: "object",
    targetRef: "object",
    targetRefs: "array",
    url: "string",
    sha256: "string",
    imagePullPolicy: "string",
    imagePullSecret: "string",
    pluginConfig: "object",
    pluginName: "string",
    phase: "string",
    priority: "integer",
    failStrategy: "string",
    vmConfig: "object",
    match: "array",
    type: "string",
  },
};

/** A Sidecar whose spec passed validate-sidecar.ts. */
export type SidecarObject = IstioResource<"Sidecar">;
/** An AuthorizationPolicy whose spec passed validate-authorization-policy.ts. */
export type AuthorizationPolicyObject = IstioResource<"AuthorizationPolicy">;
/** A RequestAuthentication whose spec passed validate-request-authentication.ts. */
export type RequestAuthenticationObject = IstioResource<"RequestAuthentication">;
/** A PeerAuthentication whose spec passed istio/validate-peer-authentication.ts. */
export type PeerAuthenticationObject = IstioResource<"PeerAuthentication">;
/** A Telemetry whose spec passed istio/validate-telemetry.ts. */
export type TelemetryObject = IstioResource<"Telemetry">;
