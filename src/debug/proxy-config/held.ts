// A proxy's config as one shape, whichever side it comes from: meshpilot's intent (its own
// /debug/config_dump, or an offline translation put in that form) or what a live Envoy holds
// (admin /config_dump?include_eds, snake_case). Every resource goes through the generated Envoy
// schemas (fromJson, then toJson) so both sides are canonical proto-JSON and compare field by
// field. Key material never survives: private keys are replaced, whatever the source sent.
import { fromBinary, fromJson, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { envoyRegistry, envoySchema } from "../../xds/registry.js";
import { CONFIG_TYPES, type ConfigType } from "./config-types.js";

export type JsonObject = { [k: string]: JsonValue };

export { CONFIG_TYPES, type ConfigType } from "./config-types.js";

export interface HeldResource {
  readonly name: string;
  /** `version_info` as the dump gives it ("" if none). */
  readonly version: string;
  /** Canonical proto-JSON (camelCase), key material redacted. */
  readonly json: JsonObject;
  /** Envoy's state of a cluster or listener; "active" for the rest. */
  readonly state: "active" | "warming" | "draining";
}

export type Held = Readonly<Record<ConfigType, readonly HeldResource[]>>;

/** The message of each type, looked up when first used (the registry is built on demand). */
const MESSAGE: Readonly<Record<ConfigType, string>> = {
  clusters: "envoy.config.cluster.v3.Cluster",
  listeners: "envoy.config.listener.v3.Listener",
  routes: "envoy.config.route.v3.RouteConfiguration",
  endpoints: "envoy.config.endpoint.v3.ClusterLoadAssignment",
  secrets: "envoy.extensions.transport_sockets.tls.v3.Secret",
};
const schemaOf = (type: ConfigType): DescMessage => envoySchema(MESSAGE[type]);

export const REDACTED = "[redacted]";

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A field by its proto name or its JSON name (Envoy's admin uses the first, our dump the second). */
function field(o: unknown, protoName: string): unknown {
  if (typeof o !== "object" || o === null) return undefined;
  const r = o as Record<string, unknown>;
  return r[protoName] ?? r[camel(protoName)];
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The resource in canonical JSON, or its own JSON if a schema cannot read it (named in `problems`). */
function canonical(type: ConfigType, raw: unknown, problems: string[]): JsonObject {
  const schema = schemaOf(type);
  try {
    const msg = fromJson(schema, raw as JsonValue, { registry: envoyRegistry, ignoreUnknownFields: true });
    return toJson(schema, msg, { registry: envoyRegistry }) as JsonObject;
  } catch (e) {
    problems.push(`${type}: ${(e as Error).message}`);
    return raw as JsonObject;
  }
}

/** An encoded resource (an xDS `Any` value) as canonical JSON, key material redacted. */
export function decodeResource(type: ConfigType, body: Uint8Array): JsonObject {
  const schema = schemaOf(type);
  const json = toJson(schema, fromBinary(schema, body), { registry: envoyRegistry }) as JsonObject;
  return type === "secrets" ? redact(json) : json;
}

/** Replace every private key, wherever a TLS certificate carries one. */
function redact(json: JsonObject): JsonObject {
  const tls = json["tlsCertificate"] as JsonObject | undefined;
  if (!tls || tls["privateKey"] === undefined) return json;
  return { ...json, tlsCertificate: { ...tls, privateKey: { inlineString: REDACTED } } };
}

function nameOf(type: ConfigType, json: JsonObject): string {
  return String((type === "endpoints" ? json["clusterName"] : json["name"]) ?? "");
}

/**
 * A route configuration Envoy got by VHDS (src/xds/route-delivery.ts) as it would look delivered
 * whole: its VHDS virtual hosts are named `<route configuration>/<virtual host>` in Envoy, and it
 * names `vhds`. Virtual host order does not matter to Envoy (it matches by domain); compare.ts
 * compares them by name.
 */
function composed(rc: unknown): unknown {
  const vhds = field(rc, "vhds");
  if (vhds === undefined) return rc;
  const r = rc as Record<string, unknown>;
  const prefix = `${String(r["name"] ?? "")}/`;
  const hosts = list(field(rc, "virtual_hosts")).map((v) => {
    const name = field(v, "name");
    return typeof name === "string" && name.startsWith(prefix) ? { ...(v as object), name: name.slice(prefix.length) } : v;
  });
  const { vhds: _a, virtual_hosts: _b, virtualHosts: _c, ...rest } = r;
  return { ...rest, virtualHosts: hosts };
}

const byName = (a: HeldResource, b: HeldResource): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Read a config dump (Envoy admin form, or meshpilot's /debug/config_dump). `problems` lists
 * resources that could not be read as their Envoy type (kept as they came).
 */
export function fromConfigDump(dump: unknown): { held: Held; problems: string[] } {
  const problems: string[] = [];
  const out: Record<ConfigType, HeldResource[]> = { clusters: [], listeners: [], routes: [], endpoints: [], secrets: [] };
  const add = (type: ConfigType, raw: unknown, version: unknown, state: HeldResource["state"]): void => {
    if (raw === undefined) return;
    const json = type === "secrets" ? redact(canonical(type, raw, problems)) : canonical(type, raw, problems);
    out[type].push({ name: nameOf(type, json), version: typeof version === "string" ? version : "", json, state });
  };
  for (const cfg of list(field(dump, "configs"))) {
    const t = String(field(cfg, "@type") ?? "");
    if (t.endsWith(".ClustersConfigDump")) {
      for (const c of list(field(cfg, "dynamic_active_clusters"))) add("clusters", field(c, "cluster"), field(c, "version_info"), "active");
      for (const c of list(field(cfg, "dynamic_warming_clusters"))) add("clusters", field(c, "cluster"), field(c, "version_info"), "warming");
    } else if (t.endsWith(".ListenersConfigDump")) {
      for (const l of list(field(cfg, "dynamic_listeners"))) {
        const active = field(l, "active_state");
        const warming = field(l, "warming_state");
        const draining = field(l, "draining_state");
        const [st, state] = active ? [active, "active" as const] : warming ? [warming, "warming" as const] : [draining, "draining" as const];
        if (st) add("listeners", field(st, "listener"), field(st, "version_info"), state);
      }
    } else if (t.endsWith(".RoutesConfigDump")) {
      for (const r of list(field(cfg, "dynamic_route_configs"))) add("routes", composed(field(r, "route_config")), field(r, "version_info"), "active");
    } else if (t.endsWith(".EndpointsConfigDump")) {
      for (const e of list(field(cfg, "dynamic_endpoint_configs"))) add("endpoints", field(e, "endpoint_config"), field(e, "version_info"), "active");
    } else if (t.endsWith(".SecretsConfigDump")) {
      for (const s of list(field(cfg, "dynamic_active_secrets"))) add("secrets", field(s, "secret"), field(s, "version_info"), "active");
      for (const s of list(field(cfg, "dynamic_warming_secrets"))) add("secrets", field(s, "secret"), field(s, "version_info"), "warming");
    }
  }
  // Envoy's dump lists a host set for every dynamic cluster; only EDS clusters get theirs over xDS.
  const notEds = new Set(out.clusters.filter((c) => c.json["type"] !== "EDS").map((c) => c.name));
  out.endpoints = out.endpoints.filter((e) => !notEds.has(e.name));
  for (const t of CONFIG_TYPES) out[t].sort(byName);
  return { held: out, problems };
}
