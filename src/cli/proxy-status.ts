// `meshpilot proxy-status`: every proxy connected to a running meshpilot and, per xDS type,
// whether it holds what was sent (SYNCED), has not answered yet (STALE), refused it (NACKED,
// with Envoy's reason) or was sent nothing (NOT SENT); `--proxy` shows one in detail.
import { stringify as toYaml } from "yaml";
import type { ShortType, SyncState } from "../xds/observer.js";
import { fetchJson } from "./debug-client.js";
import { age, table } from "./table.js";

const TYPES: readonly ShortType[] = ["cds", "lds", "eds", "rds", "sds"];
/** The detail view also lists VHDS, for proxies that take route configurations split by it. */
const DETAIL_TYPES: readonly ShortType[] = ["cds", "lds", "eds", "rds", "vhds", "sds"];

/** `/debug/syncz` as JSON carries it (dates as ISO text). */
interface TypeJson {
  readonly state: SyncState;
  readonly versionSent: string;
  readonly nonceSent: string;
  readonly versionAcked: string;
  readonly nonceAcked: string;
  readonly ackedAt?: string;
  readonly lastNack?: { readonly version: string; readonly nonce: string; readonly message: string; readonly at: string };
  readonly nacks: number;
  readonly wildcard: boolean;
  readonly subscribed: number;
  readonly pending: boolean;
}

export interface ProxyJson {
  readonly id: string;
  readonly cluster: string;
  readonly viewKey: string;
  readonly transport: string;
  readonly connectedSince: string;
  readonly proxyVersion?: string;
  readonly controlPlane?: string;
  readonly types: Partial<Record<ShortType, TypeJson>>;
}

/** Istio's short proxy name (`pod.namespace`), from a `type~ip~pod.ns~domain` node id. */
export function proxyName(id: string): string {
  const parts = id.split("~");
  return parts.length === 4 && parts[2] ? parts[2] : id;
}

/** A connected proxy by full node id or by its short name. */
export function findProxy<P extends { readonly id: string }>(proxies: readonly P[], id: string): P | undefined {
  return proxies.find((p) => p.id === id) ?? proxies.find((p) => proxyName(p.id) === id);
}

export interface ProxyStatusOptions {
  readonly server: string;
  readonly proxy?: string;
  readonly output: string;
  /** For tests: the clock the ages are measured against. */
  readonly now?: Date;
}

export async function proxyStatusCommand(o: ProxyStatusOptions): Promise<string> {
  const proxies = (await fetchJson(o.server, "/debug/syncz")) as ProxyJson[];
  const now = o.now ?? new Date();
  if (o.proxy !== undefined) {
    const p = findProxy(proxies, o.proxy);
    if (!p) throw new Error(`no proxy ${o.proxy} is connected to ${o.server} (connected: ${proxies.map((x) => proxyName(x.id)).join(", ") || "none"})`);
    return o.output === "json" ? JSON.stringify(p, null, 2) + "\n" : o.output === "yaml" ? toYaml(p) : proxyDetail(p, now);
  }
  if (o.output === "json") return JSON.stringify(proxies, null, 2) + "\n";
  if (o.output === "yaml") return toYaml(proxies);
  return proxyTable(proxies, now);
}

function cell(t: TypeJson | undefined, now: Date): string {
  if (!t) return "NOT SENT";
  if (t.state === "SYNCED" && t.ackedAt) return `SYNCED (${age(new Date(t.ackedAt), now)})`;
  return t.state;
}

const STATE_WEIGHT: Readonly<Record<SyncState, number>> = { NACKED: 3, STALE: 2, "NOT SENT": 1, SYNCED: 0 };

/**
 * The RDS column tells whether the proxy holds its routes, however they travel: a proxy that
 * takes VHDS gets a VirtualService edit as virtual hosts, so the worse of RDS and VHDS counts.
 */
function routesState(p: ProxyJson): TypeJson | undefined {
  const rds = p.types.rds;
  const vhds = p.types.vhds;
  if (!rds || !vhds || vhds.state === "NOT SENT") return rds;
  if (STATE_WEIGHT[vhds.state] > STATE_WEIGHT[rds.state]) return vhds;
  if (STATE_WEIGHT[rds.state] > STATE_WEIGHT[vhds.state]) return rds;
  return (vhds.ackedAt ?? "") > (rds.ackedAt ?? "") ? vhds : rds;
}

/** The list view: one row per proxy, like `istioctl proxy-status`, then each NACK's reason. */
export function proxyTable(proxies: readonly ProxyJson[], now: Date): string {
  if (proxies.length === 0) return "No proxies are connected.\n";
  const rows = proxies.map((p) => [
    proxyName(p.id),
    p.cluster || "-",
    p.transport === "delta" ? "DELTA" : "SOTW",
    ...TYPES.map((t) => cell(t === "rds" ? routesState(p) : p.types[t], now)),
    p.controlPlane || "-",
    p.proxyVersion || "-",
  ]);
  let out = table(["NAME", "CLUSTER", "TRANSPORT", "CDS", "LDS", "EDS", "RDS", "SDS", "CONTROL PLANE", "VERSION"], rows);
  const nacks = proxies.flatMap((p) =>
    DETAIL_TYPES.flatMap((t) => {
      const st = p.types[t];
      return st?.state === "NACKED" && st.lastNack ? [`  ${proxyName(p.id)} ${t.toUpperCase()}: ${st.lastNack.message}`] : [];
    }),
  );
  if (nacks.length > 0) out += `\nRejected by the proxy (NACK), kept on its last accepted version:\n${nacks.join("\n")}\n`;
  return out;
}

/** One proxy: versions and nonces per type, the last ACK, and the NACK detail. */
export function proxyDetail(p: ProxyJson, now: Date): string {
  const head = [
    `Proxy:          ${p.id}`,
    `Cluster:        ${p.cluster}`,
    `Transport:      ${p.transport === "delta" ? "DELTA (incremental ADS)" : "SOTW (state-of-the-world ADS)"}`,
    `Connected:      ${p.connectedSince} (${age(new Date(p.connectedSince), now)} ago)`,
    `Envoy version:  ${p.proxyVersion ?? "unknown"}`,
    `Control plane:  ${p.controlPlane ?? ""}`,
    "",
  ].join("\n");
  const rows = DETAIL_TYPES.filter((t) => t !== "vhds" || p.types.vhds).map((t) => {
    const st = p.types[t];
    if (!st) return [t.toUpperCase(), "NOT SENT", "", "", "", "", "", "", ""];
    return [
      t.toUpperCase(),
      st.state + (st.pending ? " (push pending)" : ""),
      st.versionSent,
      st.nonceSent,
      st.versionAcked,
      st.nonceAcked,
      st.ackedAt ? `${age(new Date(st.ackedAt), now)} ago` : "never",
      String(st.nacks),
      st.wildcard ? `*${st.subscribed > 0 ? ` +${st.subscribed}` : ""}` : String(st.subscribed),
    ];
  });
  let out = head + "\n" + table(["TYPE", "STATE", "VERSION SENT", "NONCE SENT", "VERSION ACKED", "NONCE ACKED", "LAST ACK", "NACKS", "SUBSCRIBED"], rows);
  for (const t of DETAIL_TYPES) {
    const n = p.types[t]?.lastNack;
    if (!n) continue;
    const current = p.types[t]?.state === "NACKED";
    out +=
      `\n${t.toUpperCase()} ${current ? "NACK" : "last NACK (since superseded)"} at ${n.at}: version ${n.version || "?"}, nonce ${n.nonce}\n` +
      n.message
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n") +
      "\n";
  }
  return out;
}
