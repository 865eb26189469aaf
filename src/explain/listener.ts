/**
 * Which listener and filter chain take a connection, by Envoy's rules:
 * - a captured connection arrives at the listener with `use_original_dst` (virtualOutbound), which
 *   hands it to the listener bound (or not bound) to exactly its original destination IP:port, else to
 *   one on the wildcard address and that port, else keeps it;
 * - filter chain selection narrows step by step (destination port, destination IP by longest prefix,
 *   server name, transport protocol, application protocols, source), at each step keeping only the
 *   most specific criterion that matches and never going back to a less specific one; when nothing
 *   remains, the default filter chain takes the connection, or it is closed.
 */
import type { FilterChainJson, ListenerJson } from "../translate/envoy.js";

type FilterChainMatchJson = NonNullable<FilterChainJson["filterChainMatch"]>;

export interface Connection {
  /** The original destination; undefined when it is not known (a host outside the registry). */
  readonly destinationIp?: string;
  readonly destinationPort: number;
  readonly sourceIp?: string;
  readonly tls: boolean;
  /** SNI of a TLS connection. */
  readonly serverName?: string;
  /** What the HTTP inspector would detect in a plaintext connection. */
  readonly httpProtocol?: "http/1.1" | "h2c";
}

export interface ListenerChoice {
  readonly listener?: ListenerJson;
  /** How the connection reached it, in words. */
  readonly steps: readonly string[];
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

const addressOf = (l: ListenerJson) => l.address?.socketAddress;

/** The listener that ends up with a connection to `conn`, and how it got there. */
export function chooseListener(listeners: readonly ListenerJson[], conn: Connection): ListenerChoice {
  const steps: string[] = [];
  const dst = `${conn.destinationIp ?? "<outside the registry>"}:${conn.destinationPort}`;
  const onPort = (l: ListenerJson) => Number(addressOf(l)?.portValue ?? -1) === conn.destinationPort;
  const capturing = listeners.find((l) => l.useOriginalDst === true);
  if (!capturing) {
    // No interception: the application (or a client of a gateway) connects to a bound listener itself.
    const bound = listeners.filter((l) => l.bindToPort !== false && onPort(l));
    const exact = bound.find((l) => addressOf(l)?.address === conn.destinationIp);
    const chosen = exact ?? bound.find((l) => WILDCARDS.has(addressOf(l)?.address ?? "")) ?? bound[0];
    if (!chosen) {
      steps.push(`the proxy captures no traffic (no listener with use_original_dst) and listens on no port ${conn.destinationPort}: the connection is refused`);
      return { steps };
    }
    const a = addressOf(chosen)!;
    steps.push(
      `the proxy captures no traffic (no listener with use_original_dst): the client connects to listener ${chosen.name} on ${a.address}:${a.portValue} itself`,
    );
    return { listener: chosen, steps };
  }
  const ca = addressOf(capturing);
  steps.push(`iptables redirects the connection to ${dst} to listener ${capturing.name} (${ca?.address}:${ca?.portValue}, use_original_dst)`);
  const others = listeners.filter((l) => l !== capturing && onPort(l));
  const exact = conn.destinationIp ? others.find((l) => addressOf(l)?.address === conn.destinationIp) : undefined;
  if (exact) {
    steps.push(`handed to listener ${exact.name}: its address is exactly the original destination ${dst}`);
    return { listener: exact, steps };
  }
  const wildcard = others.find((l) => WILDCARDS.has(addressOf(l)?.address ?? ""));
  if (wildcard) {
    steps.push(`handed to listener ${wildcard.name}: no listener has the address ${dst}, and it listens on port ${conn.destinationPort} of every address`);
    return { listener: wildcard, steps };
  }
  steps.push(`no listener for ${dst} or for port ${conn.destinationPort}: ${capturing.name} handles the connection with its own filter chains`);
  return { listener: capturing, steps };
}

export interface ChainChoice {
  readonly chain?: FilterChainJson;
  readonly isDefault: boolean;
  readonly steps: readonly string[];
}

interface Candidate {
  readonly chain: FilterChainJson;
  readonly match: FilterChainMatchJson;
}

/** The filter chain that takes the connection. */
export function chooseFilterChain(listener: ListenerJson, conn: Connection): ChainChoice {
  const steps: string[] = [];
  const detected = detectedProtocols(listener, conn);
  steps.push(
    `connection as the listener filters see it: transport ${detected.transport}${detected.serverName ? `, server name ${detected.serverName}` : ""}${detected.alpn.length ? `, application protocol ${detected.alpn.join(",")}` : ", no application protocol detected"}`,
  );
  let cands: Candidate[] = (listener.filterChains ?? []).map((chain) => ({ chain, match: chain.filterChainMatch ?? {} }));
  const narrow = (what: string, specific: (c: Candidate) => number | undefined): void => {
    // `specific` says how specifically a chain matches (higher is more specific), 0 when the
    // chain does not constrain this property, undefined when it constrains it and does not match.
    const scored = cands.map((c) => ({ c, s: specific(c) }));
    const best = Math.max(-1, ...scored.map((x) => x.s ?? -1));
    const before = cands.length;
    cands = best < 0 ? [] : scored.filter((x) => x.s === best).map((x) => x.c);
    if (before !== cands.length) steps.push(`${what}: ${cands.length ? cands.map(chainName).join(", ") : "no filter chain"} left`);
  };
  narrow(`destination port ${conn.destinationPort}`, ({ match }) =>
    match.destinationPort === undefined ? 0 : Number(match.destinationPort) === conn.destinationPort ? 1 : undefined,
  );
  narrow(`destination address ${conn.destinationIp ?? "(unknown)"}`, ({ match }) => {
    if (!match.prefixRanges?.length) return 0;
    const lens = match.prefixRanges.filter(
      (r) => conn.destinationIp !== undefined && inCidr(conn.destinationIp, r.addressPrefix ?? "", Number(r.prefixLen ?? 0)),
    );
    return lens.length ? 1 + Math.max(...lens.map((r) => Number(r.prefixLen ?? 0))) : undefined;
  });
  narrow(`server name ${detected.serverName ?? "(none)"}`, ({ match }) => {
    if (!match.serverNames?.length) return 0;
    const sni = detected.serverName?.toLowerCase();
    if (sni === undefined) return undefined;
    if (match.serverNames.some((n) => n.toLowerCase() === sni)) return 100_000;
    const wild = match.serverNames.filter((n) => n.startsWith("*.") && sni.endsWith(n.slice(1).toLowerCase()) && sni.length > n.length - 1);
    return wild.length ? Math.max(...wild.map((n) => n.length)) : undefined;
  });
  narrow(`transport protocol ${detected.transport}`, ({ match }) =>
    match.transportProtocol === undefined || match.transportProtocol === "" ? 0 : match.transportProtocol === detected.transport ? 1 : undefined,
  );
  narrow(`application protocol ${detected.alpn.join(",") || "(none)"}`, ({ match }) =>
    !match.applicationProtocols?.length ? 0 : match.applicationProtocols.some((p) => detected.alpn.includes(p)) ? 1 : undefined,
  );
  narrow(`source address ${conn.sourceIp ?? "(unknown)"}`, ({ match }) => {
    if (!match.sourcePrefixRanges?.length) return 0;
    const lens = match.sourcePrefixRanges.filter((r) => conn.sourceIp !== undefined && inCidr(conn.sourceIp, r.addressPrefix ?? "", Number(r.prefixLen ?? 0)));
    return lens.length ? 1 + Math.max(...lens.map((r) => Number(r.prefixLen ?? 0))) : undefined;
  });
  const chain = cands[0];
  if (chain) {
    steps.push(`filter chain ${chainName(chain)} takes the connection`);
    return { chain: chain.chain, isDefault: false, steps };
  }
  if (listener.defaultFilterChain) {
    steps.push(`no filter chain matches: the default filter chain ${listener.defaultFilterChain.name ?? "(unnamed)"} takes the connection`);
    return { chain: listener.defaultFilterChain, isDefault: true, steps };
  }
  steps.push("no filter chain matches and the listener has no default filter chain: Envoy closes the connection");
  return { isDefault: false, steps };
}

function chainName(c: Candidate): string {
  return describeChain(c.chain);
}

/** A filter chain's name, or its match in brief when it has none. */
export function describeChain(chain: FilterChainJson): string {
  if (chain.name) return chain.name;
  const m = chain.filterChainMatch ?? {};
  const parts = [
    m.destinationPort !== undefined ? `port ${m.destinationPort}` : "",
    m.prefixRanges?.length ? m.prefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen ?? 0}`).join(",") : "",
    m.serverNames?.length ? `SNI ${m.serverNames.join(",")}` : "",
    m.transportProtocol ? m.transportProtocol : "",
    m.applicationProtocols?.length ? m.applicationProtocols.join(",") : "",
  ].filter(Boolean);
  return parts.length ? `[${parts.join("; ")}]` : "[any]";
}

interface Detected {
  readonly transport: string;
  readonly serverName?: string;
  readonly alpn: readonly string[];
}

/** What the listener's own filters (TLS inspector, HTTP inspector) find out about the connection. */
function detectedProtocols(listener: ListenerJson, conn: Connection): Detected {
  const enabled = (name: string) =>
    (listener.listenerFilters ?? []).some((f) => f.name === name && !disabledFor(f.filterDisabled as DisabledPredicate | undefined, conn.destinationPort));
  const tlsInspector = enabled("envoy.filters.listener.tls_inspector");
  const httpInspector = enabled("envoy.filters.listener.http_inspector");
  if (conn.tls) {
    return tlsInspector ? { transport: "tls", ...(conn.serverName ? { serverName: conn.serverName } : {}), alpn: [] } : { transport: "raw_buffer", alpn: [] };
  }
  return { transport: "raw_buffer", alpn: httpInspector && conn.httpProtocol ? [conn.httpProtocol] : [] };
}

interface DisabledPredicate {
  readonly destinationPortRange?: { start?: number; end?: number };
  readonly anyMatch?: boolean;
  readonly notMatch?: DisabledPredicate;
  readonly orMatch?: { rules?: DisabledPredicate[] };
  readonly andMatch?: { rules?: DisabledPredicate[] };
}

function disabledFor(p: DisabledPredicate | undefined, port: number): boolean {
  if (!p) return false;
  if (p.anyMatch) return true;
  if (p.destinationPortRange) return port >= Number(p.destinationPortRange.start ?? 0) && port < Number(p.destinationPortRange.end ?? 0);
  if (p.notMatch) return !disabledFor(p.notMatch, port);
  if (p.orMatch) return (p.orMatch.rules ?? []).some((r) => disabledFor(r, port));
  if (p.andMatch) return (p.andMatch.rules ?? []).every((r) => disabledFor(r, port));
  return false;
}

/** IPv4 or IPv6 text → bits, or undefined. */
function ipBits(ip: string): { v6: boolean; bits: bigint } | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    const parts = ip.split(".").map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, bits: parts.reduce((a, p) => (a << 8n) | BigInt(p), 0n) };
  }
  if (!ip.includes(":")) return undefined;
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { v6: true, bits: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function inCidr(ip: string, prefix: string, len: number): boolean {
  const a = ipBits(ip);
  const b = ipBits(prefix);
  if (!a || !b || a.v6 !== b.v6) return false;
  const width = a.v6 ? 128 : 32;
  const shift = BigInt(width - Math.min(len, width));
  return a.bits >> shift === b.bits >> shift;
}

export function isIp(s: string): boolean {
  return ipBits(s) !== undefined;
}
