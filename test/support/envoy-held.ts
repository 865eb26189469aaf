/**
 * What a live Envoy holds of its dynamic xDS config, per type: resource name → the version it was
 * delivered with (delta xDS gives each resource its own version, and Envoy's /config_dump shows it
 * as `version_info`). Warming clusters and listeners count: Envoy has them and declares them in
 * `initial_resource_versions` when it reconnects.
 */
import type { Envoy, Json } from "./envoy.js";

export type HeldType = "cds" | "eds" | "lds" | "rds";
export type Held = Readonly<Record<HeldType, ReadonlyMap<string, string>>> & {
  /** Names of clusters and listeners still warming. */
  readonly warming: ReadonlySet<string>;
};

type Obj = Record<string, Json>;
const list = (v: Json | undefined): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const str = (o: Json | undefined, key: string): string => String((o as Obj | undefined)?.[key] ?? "");

export async function heldConfig(envoy: Envoy): Promise<Held> {
  const dump = (await envoy.configDump(undefined, { includeEds: true })) as { configs?: Obj[] };
  const out = { cds: new Map<string, string>(), eds: new Map<string, string>(), lds: new Map<string, string>(), rds: new Map<string, string>() };
  const warming = new Set<string>();
  for (const c of dump.configs ?? []) {
    const t = String(c["@type"]);
    if (t.endsWith(".ClustersConfigDump")) {
      for (const e of list(c["dynamic_active_clusters"])) out.cds.set(str(e["cluster"], "name"), str(e, "version_info"));
      for (const e of list(c["dynamic_warming_clusters"])) {
        out.cds.set(str(e["cluster"], "name"), str(e, "version_info"));
        warming.add(str(e["cluster"], "name"));
      }
    } else if (t.endsWith(".EndpointsConfigDump")) {
      for (const e of list(c["dynamic_endpoint_configs"])) out.eds.set(str(e["endpoint_config"], "cluster_name"), str(e, "version_info"));
    } else if (t.endsWith(".ListenersConfigDump")) {
      for (const e of list(c["dynamic_listeners"])) {
        const st = (e["warming_state"] ?? e["active_state"]) as Obj | undefined;
        if (!st) continue;
        out.lds.set(str(e, "name"), str(st, "version_info"));
        if (e["warming_state"]) warming.add(str(e, "name"));
      }
    } else if (t.endsWith(".RoutesConfigDump")) {
      for (const e of list(c["dynamic_route_configs"])) out.rds.set(str(e["route_config"], "name"), str(e, "version_info"));
    }
  }
  return { ...out, warming };
}

/** Per type: how many resources `after` has at a version `before` lacks (new or changed), and how many names of `before` are gone. */
export function heldDiff(before: Held, after: Held): Record<HeldType, { changed: number; removed: number }> {
  const one = (b: ReadonlyMap<string, string>, a: ReadonlyMap<string, string>) => {
    let changed = 0;
    for (const [name, v] of a) if (b.get(name) !== v) changed++;
    let removed = 0;
    for (const name of b.keys()) if (!a.has(name)) removed++;
    return { changed, removed };
  };
  return { cds: one(before.cds, after.cds), eds: one(before.eds, after.eds), lds: one(before.lds, after.lds), rds: one(before.rds, after.rds) };
}

/** Sizes per type, for messages. */
export function heldSizes(h: Held): Record<HeldType | "warming", number> {
  return { cds: h.cds.size, eds: h.eds.size, lds: h.lds.size, rds: h.rds.size, warming: h.warming.size };
}
