/** `meshpilot explain`'s readable text: one section per stage, the outcome first. */
import type { ClusterInfo } from "./cluster.js";
import type { Explanation } from "./explain.js";
import type { HttpOutcome, RouteTrial } from "./http.js";
import { describeStringMatcher } from "./matchers.js";
import type { RouteMatchJson } from "../translate/envoy.js";

const pct = (n: number): string => `${Number.isInteger(n) ? n : n.toFixed(2)}%`;

/** A route match in a line, close to how a VirtualService states it. */
export function describeMatch(m: RouteMatchJson): string {
  const parts: string[] = [];
  const ci = m.caseSensitive === false ? " (ignoring case)" : "";
  if (m.prefix !== undefined) parts.push(`path prefix ${JSON.stringify(m.prefix)}${ci}`);
  if (m.path !== undefined) parts.push(`path ${JSON.stringify(m.path)}${ci}`);
  if (m.safeRegex?.regex !== undefined) parts.push(`path regex ${JSON.stringify(m.safeRegex.regex)}`);
  if (m.pathSeparatedPrefix !== undefined) parts.push(`path segment prefix ${JSON.stringify(m.pathSeparatedPrefix)}${ci}`);
  for (const h of m.headers ?? []) {
    const inv = h.invertMatch ? "not " : "";
    const what =
      h.presentMatch !== undefined
        ? h.presentMatch
          ? "present"
          : "absent"
        : h.stringMatch
          ? describeStringMatcher(h.stringMatch)
          : h.exactMatch !== undefined
            ? `exact ${JSON.stringify(h.exactMatch)}`
            : "present";
    parts.push(`header ${h.name} ${inv}${what}`);
  }
  for (const qp of m.queryParameters ?? []) parts.push(`query ${qp.name} ${qp.stringMatch ? describeStringMatcher(qp.stringMatch) : "present"}`);
  if (m.runtimeFraction?.defaultValue)
    parts.push(`runtime fraction ${m.runtimeFraction.defaultValue.numerator}/${m.runtimeFraction.defaultValue.denominator ?? "HUNDRED"}`);
  return parts.join(", ") || "every request";
}

function trialLine(t: RouteTrial): string {
  const name = t.name ? ` ${t.name}` : "";
  if (t.matched)
    return `  #${t.index}${name}: ${describeMatch(t.match)} → matches${t.unsupported.length ? ` (assuming ${t.unsupported.join(", ")} hold)` : ""}`;
  const failed = t.checks.filter((c) => !c.ok).map((c) => c.why);
  return `  #${t.index}${name}: ${describeMatch(t.match)} → no: ${failed.join("; ")}`;
}

function httpSection(h: HttpOutcome, out: string[]): void {
  out.push(`Route configuration: ${h.routeConfig ?? "(none)"}`);
  if (h.normalizedPath) out.push(`  path normalized to ${h.normalizedPath} (normalize_path)`);
  if (h.virtualHost) out.push(`Virtual host: ${h.virtualHost.name}, by ${h.virtualHost.matchedBy}`);
  if (h.trials.length) {
    out.push("Routes, in order:");
    for (const t of h.trials) out.push(trialLine(t));
  }
  if (h.route) {
    const o = h.route.origin;
    const from = o ? `${o.kind} ${o.namespace}/${o.name}${o.rule ? ` ${o.rule}` : ""}` : "no Istio object (a default route)";
    out.push(`Route: #${h.route.index}${h.route.name ? ` ${h.route.name}` : ""} from ${from}`);
    out.push(`  match: ${describeMatch(h.route.match)}`);
  }
  const a = h.action;
  if (a.kind === "forward") {
    out.push("Action: forward");
    for (const c of a.clusters) out.push(`  ${a.clusters.length > 1 ? `${pct(c.percent)} (weight ${c.weight}) → ` : "→ "}${c.cluster}`);
    if (a.rewrittenPath) out.push(`  path rewritten to ${a.rewrittenPath}`);
    if (a.hostRewrite) out.push(`  host rewritten to ${a.hostRewrite}`);
    out.push(`  timeout: ${a.timeout === undefined ? "Envoy's default (15s)" : a.timeout === "0s" ? "none" : a.timeout}`);
    if (a.retries)
      out.push(
        `  retries: ${a.retries.numRetries} on ${a.retries.retryOn}${a.retries.retriableStatusCodes ? ` (status ${a.retries.retriableStatusCodes.join(",")})` : ""}${a.retries.perTryTimeout ? `, ${a.retries.perTryTimeout} per try` : ""}`,
      );
    else out.push("  retries: none");
    for (const m of a.mirrors) out.push(`  mirrored to ${m.cluster} (${pct(m.percent)})`);
    for (const hp of a.hashPolicy ?? []) out.push(`  ${hp}`);
    if (a.requestHeadersToAdd.length) out.push(`  request headers added: ${a.requestHeadersToAdd.join("; ")}`);
    if (a.requestHeadersToRemove.length) out.push(`  request headers removed: ${a.requestHeadersToRemove.join(", ")}`);
    if (a.responseHeadersToAdd.length) out.push(`  response headers added: ${a.responseHeadersToAdd.join("; ")}`);
  } else if (a.kind === "redirect") out.push(`Action: redirect ${a.status} to ${a.location}`);
  else if (a.kind === "direct") out.push(`Action: direct response ${a.status}${a.body !== undefined ? ` ${JSON.stringify(a.body)}` : ""}`);
  else out.push(`Action: none — ${a.why}`);
  const f = h.fault;
  if (f) {
    const parts = [
      f.delay ? `delay ${f.delay.fixedDelay} for ${pct(f.delay.percent)}` : "",
      f.abort ? `abort with ${f.abort.httpStatus ?? `gRPC ${f.abort.grpcStatus}`} for ${pct(f.abort.percent)}` : "",
    ].filter(Boolean);
    out.push(`Fault: ${parts.join(", ")}${f.inactive ? ` (inactive: ${f.inactive})` : ""}`);
  }
}

function clusterSection(c: ClusterInfo, out: string[]): void {
  out.push(`Cluster ${c.name}:`);
  if (!c.exists) {
    out.push(`  ${c.note}`);
    return;
  }
  const dr = c.destinationRule;
  out.push(`  ${c.type}, load balancer ${c.lbPolicy}${c.service ? `, service ${c.service}` : ""}${c.subset ? `, subset ${c.subset}` : ""}`);
  out.push(`  policy: ${dr ? `DestinationRule ${dr.namespace}/${dr.name}` : "no DestinationRule (defaults)"}`);
  for (const p of c.policy) out.push(`    ${p}`);
  if (c.endpoints.length) {
    out.push("  endpoints:");
    for (const e of c.endpoints) {
      const w = e.workload;
      const who = w ? ` ${w.pod}.${w.namespace} (app=${w.app}${w.version ? `, version=${w.version}` : ""})` : "";
      out.push(
        `    ${e.eligible ? "*" : " "} ${e.address}${who} ${e.health}${e.locality ? ` locality ${e.locality}` : ""}${e.priority ? ` priority ${e.priority}` : ""}${e.weight !== 1 ? ` weight ${e.weight}` : ""}`,
      );
    }
    out.push("    (* = the load balancer may pick it now)");
  }
  if (c.note) out.push(`  ${c.note}`);
}

export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  const r = e.request;
  const extra = r.headers.filter(([k]) => !k.startsWith(":")).map(([k, v]) => `${k}: ${v}`);
  out.push(
    `Request: ${r.method} ${r.scheme}://${r.headers.find(([k]) => k === ":authority")?.[1] ?? r.host}${r.path}${extra.length ? ` (${extra.join("; ")})` : ""}`,
  );
  out.push(`Proxy: ${e.proxy}`);
  out.push(`Outcome: ${e.outcome}`);
  out.push("");
  out.push(`Destination: ${e.destination.ip ?? "(unknown)"}:${e.destination.port} — ${e.destination.how}`);
  out.push(`Listener: ${e.listener ?? "(none)"}`);
  for (const s of e.listenerSteps) out.push(`  ${s}`);
  out.push(`Filter chain: ${e.filterChain ?? "(none)"}`);
  for (const s of e.filterChainSteps) out.push(`  ${s}`);
  if (e.network) out.push(`Network filter: ${e.network}`);
  if (e.http) httpSection(e.http, out);
  if (e.tcp) for (const t of e.tcp) out.push(`  ${e.tcp.length > 1 ? `${pct(t.percent)} (weight ${t.weight}) → ` : "→ "}${t.cluster}`);
  for (const c of e.clusters) clusterSection(c, out);
  return out.join("\n") + "\n";
}
