/**
 * The one registry of input kinds. Every place that needs to know which kinds meshpilot reads
 * derives it from here: parsing (file and Kubernetes sources), the informers (group, versions,
 * plural, list options, what never matters for change detection), status writing, the findings
 * for kinds that are read but not translated yet, and the tests that hold `deploy/` (RBAC, CRDs)
 * and the README to it. Adding a kind is one row here plus its model and translate code.
 */
import { Codes } from "./codes.js";
import type { Issues } from "./issues.js";
import type { ObjectMeta } from "./kube-types.js";
import { SECRET_KEY_LIST } from "./kube-types.js";
import { GATEWAY_API_GROUP, type GatewayApiObject } from "./gateway-api/types.js";
import { validateGatewayApiObject } from "./gateway-api/validate.js";
import type { InputKind, InputObject } from "./objects.js";
import type { NameRule } from "./validate-common.js";
import { validateEndpointSlice } from "./validate-endpointslice.js";
import { validateIstioObject } from "./validate-istio-object.js";
import { validateNamespace, validateNode, validatePod } from "./validate-pod.js";
import { validateSecret } from "./validate-secret.js";
import { validateService } from "./validate-service.js";

/** An object as a Kubernetes API server or a YAML file holds it. */
export type RawObject = Record<string, unknown>;

export type Validator = (raw: RawObject, meta: ObjectMeta, issues: Issues) => InputObject;

/** Whether meshpilot turns a kind into Envoy configuration, and if not, what that means for traffic. */
export type Translation = { readonly translated: true } | { readonly translated: false; readonly effect: string };

export interface KindInfo {
  /** The kind inside meshpilot (store keys, findings): the API's kind, unless two groups share it. */
  readonly kind: InputKind;
  /** The kind as the API and YAML files spell it, when it differs from `kind` (the Gateway API's `Gateway`). */
  readonly apiKind?: string;
  /** API group; "" for the core group. */
  readonly group: string;
  /** Served versions meshpilot accepts, preferred first (the informer watches the first one the server serves). */
  readonly versions: readonly string[];
  readonly plural: string;
  readonly namespaced: boolean;
  readonly nameRule: NameRule;
  readonly validate: Validator;
  /** The code of a validation error that names none. */
  readonly schemaCode: string;
  /**
   * Drops what never matters for the mesh (after the metadata fields every kind drops), so that
   * it cannot cause events: a Pod status heartbeat, a Node's conditions, our own status writes.
   */
  readonly relevant?: (raw: RawObject) => RawObject;
  /** Query parameters of the informer's list and watch (a field selector). */
  readonly listQuery?: Readonly<Record<string, string>>;
  /** Findings about objects of this kind are written into their `status` (the CRD has the subresource). */
  readonly status: boolean;
  /** The shape of that status: Istio's (validation messages) unless the API defines its own conditions. */
  readonly statusFormat?: "gateway-api";
  readonly translation: Translation;
  /** What meshpilot reads it for (README). */
  readonly readFor: string;
}

/** Secrets istiod's informer leaves out too (service account tokens, Helm release records). */
const SECRET_FIELD_SELECTOR = "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1";
const POD_STATUS_FIELDS = ["podIP", "podIPs", "phase"];

const withoutStatus = (raw: RawObject): RawObject => {
  const { status: _status, ...rest } = raw;
  return rest;
};

/** Only labels matter (a Namespace's for discovery selectors, a Node's topology labels); heartbeats must not cause events. */
const labelsOnly = (raw: RawObject): RawObject => {
  const { spec: _spec, status: _status, ...rest } = raw;
  return rest;
};

const TRANSLATED: Translation = { translated: true };
const notYet = (effect: string): Translation => ({ translated: false, effect });
/** Served versions as Istio 1.30's CRDs serve them (v1 stored). */
const ISTIO_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
const SECURITY_VERSIONS = ["v1", "v1beta1"] as const;

function istio<K extends InputKind>(
  kind: K,
  group: string,
  versions: readonly string[],
  plural: string,
  translation: Translation,
  readFor: string,
): KindInfo & { readonly kind: K } {
  return {
    kind,
    group,
    versions,
    plural,
    namespaced: true,
    nameRule: "dns1123-subdomain",
    validate: (raw, meta, issues) => validateIstioObject(kind, raw, meta, issues),
    schemaCode: Codes.IstioSchema,
    relevant: withoutStatus,
    status: true,
    translation,
    readFor,
  };
}

/** Gateway API v1.5, as Istio 1.30 reads it (TLSRoute and ReferenceGrant from v1, TCPRoute from the experimental channel). */
function gatewayApi<K extends GatewayApiObject["kind"]>(
  kind: K,
  versions: readonly string[],
  plural: string,
  readFor: string,
  opts: { readonly apiKind?: string; readonly namespaced?: boolean; readonly status?: boolean } = {},
): KindInfo & { readonly kind: K } {
  const status = opts.status ?? true;
  return {
    kind,
    ...(opts.apiKind ? { apiKind: opts.apiKind } : {}),
    group: GATEWAY_API_GROUP,
    versions,
    plural,
    namespaced: opts.namespaced ?? true,
    nameRule: "dns1123-subdomain",
    validate: (raw, meta, issues) => validateGatewayApiObject(kind, raw, meta, issues),
    schemaCode: Codes.KubeSchema,
    relevant: withoutStatus,
    status,
    ...(status ? { statusFormat: "gateway-api" as const } : {}),
    translation: TRANSLATED,
    readFor,
  };
}

const ROWS: { readonly [K in InputKind]: KindInfo & { readonly kind: K } } = {
  Namespace: {
    kind: "Namespace",
    group: "",
    versions: ["v1"],
    plural: "namespaces",
    namespaced: false,
    nameRule: "dns1123-label",
    validate: validateNamespace,
    schemaCode: Codes.KubeSchema,
    relevant: labelsOnly,
    status: false,
    translation: TRANSLATED,
    readFor: "its labels (discovery selectors)",
  },
  Node: {
    kind: "Node",
    group: "",
    versions: ["v1"],
    plural: "nodes",
    namespaced: false,
    nameRule: "dns1123-subdomain",
    validate: validateNode,
    schemaCode: Codes.KubeSchema,
    relevant: (raw) => {
      const out = labelsOnly(raw);
      const { annotations: _a, ...meta } = (out["metadata"] as RawObject | undefined) ?? {};
      return { ...out, metadata: meta };
    },
    status: false,
    translation: TRANSLATED,
    readFor: "its topology labels (the locality of endpoints)",
  },
  Service: {
    kind: "Service",
    group: "",
    versions: ["v1"],
    plural: "services",
    namespaced: true,
    nameRule: "dns1035-label",
    validate: validateService,
    schemaCode: Codes.KubeSchema,
    status: false,
    translation: TRANSLATED,
    readFor: "the service registry",
  },
  EndpointSlice: {
    kind: "EndpointSlice",
    group: "discovery.k8s.io",
    versions: ["v1"],
    plural: "endpointslices",
    namespaced: true,
    nameRule: "dns1123-subdomain",
    validate: validateEndpointSlice,
    schemaCode: Codes.KubeSchema,
    status: false,
    translation: TRANSLATED,
    readFor: "endpoints",
  },
  Pod: {
    kind: "Pod",
    group: "",
    versions: ["v1"],
    plural: "pods",
    namespaced: true,
    nameRule: "dns1123-subdomain",
    validate: validatePod,
    schemaCode: Codes.KubeSchema,
    relevant: (raw) => {
      const st = raw["status"];
      if (!st || typeof st !== "object") return raw;
      const s = st as RawObject;
      return { ...raw, status: Object.fromEntries(POD_STATUS_FIELDS.filter((f) => s[f] !== undefined).map((f) => [f, s[f]])) };
    },
    status: false,
    translation: TRANSLATED,
    readFor: "the labels, IP and readiness of endpoints",
  },
  Secret: {
    kind: "Secret",
    group: "",
    versions: ["v1"],
    plural: "secrets",
    namespaced: true,
    nameRule: "dns1123-subdomain",
    validate: validateSecret,
    schemaCode: Codes.KubeSchema,
    // Only the credential keys; never annotations (kubectl's last-applied copy holds the data in clear).
    relevant: (raw) => {
      const { annotations: _a, ...meta } = (raw["metadata"] as RawObject | undefined) ?? {};
      const data = raw["data"] && typeof raw["data"] === "object" ? (raw["data"] as RawObject) : {};
      return { ...raw, metadata: meta, data: Object.fromEntries(Object.entries(data).filter(([k]) => SECRET_KEY_LIST.includes(k))) };
    },
    listQuery: { fieldSelector: SECRET_FIELD_SELECTOR },
    status: false,
    translation: TRANSLATED,
    readFor: "the credential keys only, for DestinationRule `credentialName`",
  },
  VirtualService: istio("VirtualService", "networking.istio.io", ISTIO_VERSIONS, "virtualservices", TRANSLATED, "routing"),
  DestinationRule: istio("DestinationRule", "networking.istio.io", ISTIO_VERSIONS, "destinationrules", TRANSLATED, "traffic policies and subsets"),
  Gateway: istio("Gateway", "networking.istio.io", ISTIO_VERSIONS, "gateways", TRANSLATED, "gateway servers (listeners of router proxies)"),
  ServiceEntry: istio("ServiceEntry", "networking.istio.io", ISTIO_VERSIONS, "serviceentries", TRANSLATED, "services outside the registry"),
  Sidecar: istio("Sidecar", "networking.istio.io", ISTIO_VERSIONS, "sidecars", TRANSLATED, "proxy scope"),
  WorkloadEntry: istio(
    "WorkloadEntry",
    "networking.istio.io",
    ISTIO_VERSIONS,
    "workloadentries",
    TRANSLATED,
    "workloads outside Kubernetes (endpoints of the services that select them)",
  ),
  WorkloadGroup: istio(
    "WorkloadGroup",
    "networking.istio.io",
    ISTIO_VERSIONS,
    "workloadgroups",
    notYet("no workload is registered from its template, so its workloads receive no traffic"),
    "templates of workloads outside Kubernetes",
  ),
  EnvoyFilter: istio(
    "EnvoyFilter",
    "networking.istio.io",
    ["v1alpha3"],
    "envoyfilters",
    notYet("its patches are not applied to any proxy's configuration"),
    "patches of Envoy configuration",
  ),
  ProxyConfig: istio(
    "ProxyConfig",
    "networking.istio.io",
    ["v1beta1"],
    "proxyconfigs",
    notYet("proxy settings (concurrency, environment variables, image) are not applied"),
    "proxy settings",
  ),
  PeerAuthentication: istio("PeerAuthentication", "security.istio.io", SECURITY_VERSIONS, "peerauthentications", TRANSLATED, "mTLS mode"),
  AuthorizationPolicy: istio(
    "AuthorizationPolicy",
    "security.istio.io",
    SECURITY_VERSIONS,
    "authorizationpolicies",
    TRANSLATED,
    "access control: Envoy RBAC on the inbound side of sidecars (action CUSTOM reported, not applied)",
  ),
  RequestAuthentication: istio(
    "RequestAuthentication",
    "security.istio.io",
    SECURITY_VERSIONS,
    "requestauthentications",
    TRANSLATED,
    "JWT validation: Envoy's JWT filter on the inbound side of sidecars",
  ),
  Telemetry: istio(
    "Telemetry",
    "telemetry.istio.io",
    ["v1", "v1alpha1"],
    "telemetries",
    TRANSLATED,
    "access logs (Envoy file access logs on sidecars and gateways; tracing, metrics and targetRefs reported, not applied)",
  ),
  WasmPlugin: istio(
    "WasmPlugin",
    "extensions.istio.io",
    ["v1alpha1"],
    "wasmplugins",
    notYet("the plugin is not loaded: requests do not pass through it"),
    "Wasm extensions",
  ),
  GatewayClass: gatewayApi("GatewayClass", ["v1", "v1beta1"], "gatewayclasses", "the Gateway API classes meshpilot serves (by controllerName)", {
    namespaced: false,
  }),
  KubernetesGateway: gatewayApi("KubernetesGateway", ["v1", "v1beta1"], "gateways", "Gateway API gateways (converted to Istio Gateways, deployed)", {
    apiKind: "Gateway",
  }),
  HTTPRoute: gatewayApi("HTTPRoute", ["v1", "v1beta1"], "httproutes", "HTTP routes of Gateways and, with a Service parent, of the mesh"),
  GRPCRoute: gatewayApi("GRPCRoute", ["v1"], "grpcroutes", "gRPC routes"),
  TLSRoute: gatewayApi("TLSRoute", ["v1", "v1alpha3", "v1alpha2"], "tlsroutes", "TLS passthrough routes by SNI"),
  TCPRoute: gatewayApi("TCPRoute", ["v1alpha2"], "tcproutes", "TCP routes"),
  ReferenceGrant: gatewayApi("ReferenceGrant", ["v1", "v1beta1"], "referencegrants", "permission for references across namespaces", { status: false }),
};

/** Every input kind, in the order snapshots list them. */
export const KINDS: readonly KindInfo[] = Object.values(ROWS);
export const INPUT_KINDS: readonly InputKind[] = KINDS.map((k) => k.kind);
/** The kinds that are read but not translated yet (each object gets an MP0010 warning). */
export const UNTRANSLATED_KINDS: readonly InputKind[] = KINDS.filter((k) => !k.translation.translated).map((k) => k.kind);

const BY_KIND: ReadonlyMap<string, KindInfo> = new Map(KINDS.map((k) => [k.kind, k]));

export function kindInfo(kind: string): KindInfo | undefined {
  return BY_KIND.get(kind);
}

/** The kind as the API spells it (`Gateway` for KubernetesGateway). */
export function apiKindOf(info: KindInfo): string {
  return info.apiKind ?? info.kind;
}

/**
 * The registry row of an object as written (`apiVersion`, `kind`): the row of that API kind in
 * the apiVersion's group, else the first row of that API kind (so that a wrong version of a known
 * kind is reported as such).
 */
export function kindOfObject(apiVersion: string, kind: string): KindInfo | undefined {
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  const rows = KINDS.filter((k) => apiKindOf(k) === kind);
  return rows.find((k) => k.group === group) ?? rows[0];
}

export function apiVersion(info: KindInfo, version: string): string {
  return info.group === "" ? version : `${info.group}/${version}`;
}

/** Every apiVersion an object of this kind may carry. */
export function apiVersions(info: KindInfo): string[] {
  return info.versions.map((v) => apiVersion(info, v));
}

/** Metadata fields that never matter for the mesh, on every kind. */
const VOLATILE_METADATA = ["resourceVersion", "managedFields", "selfLink", "generation", "ownerReferences", "finalizers", "deletionGracePeriodSeconds"];

/** An object as the API server holds it, reduced to what can matter for the mesh. */
export function relevantPart(info: KindInfo, raw: RawObject): RawObject {
  const meta = { ...((raw["metadata"] as RawObject | undefined) ?? {}) };
  for (const f of VOLATILE_METADATA) delete meta[f];
  const out: RawObject = { ...raw, metadata: meta };
  return info.relevant ? info.relevant(out) : out;
}
