/**
 * A sidecar: its outbound side (what the application reaches through it), its inbound side (how
 * captured connections reach the application), and the clusters every sidecar has for traffic
 * outside the registry.
 *
 * The two sides are translated apart because they depend on different things: the outbound side
 * on the proxy's namespace and on the few labels outbound configuration reads (outboundLabels),
 * the inbound side on the workload itself (the Services that select it, its policies). Every pod
 * of every Deployment of a namespace shares one outbound side; the pipeline translates it once and
 * composes it with each workload's small inbound side.
 */
import { uniqueDiagnostics, type Diagnostic } from "../../api/diagnostics.js";
import type { MeshModel } from "../../model/ir.js";
import type { ProxyView } from "../../model/proxy.js";
import { buildInboundSideScope, buildOutboundScope } from "../../model/scope.js";
import { withAccessLogs } from "../access-log.js";
import { blackHoleCluster, passthroughCluster } from "../cluster.js";
import { edsTargetEndpoints } from "../shared-endpoints.js";
import { byResourceName, type ClusterJson, type ClusterLoadAssignmentJson, type ListenerJson } from "../envoy.js";
import type { EdsTarget, ProxyTranslation } from "../proxy.js";
import { inbound } from "./inbound.js";
import { outbound } from "./outbound.js";

/** What a sidecar's inbound side adds: its own clusters and listeners (no EDS, routes or secrets). */
export interface InboundTranslation {
  /** Sorted by name. */
  readonly clusters: readonly ClusterJson[];
  /** Sorted by name. */
  readonly listeners: readonly ListenerJson[];
  readonly diagnostics: readonly Diagnostic[];
}

export function translateSidecar(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  return composeSidecar(translateSidecarOutbound(mesh, proxy), translateSidecarInbound(mesh, proxy));
}

/**
 * The outbound side, with the clusters for traffic outside the registry. It reads `proxy`'s labels
 * only through outboundLabels: a view projected through that selection gets the same result.
 */
export function translateSidecarOutbound(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const out = outbound(buildOutboundScope(mesh, proxy));
  // Read now, so that what the translation read of the model is seen (pipeline/mesh-reads.ts); the
  // CLAs are made when first asked for: a pipeline whose EDS fast path already holds them for
  // these endpoints never asks (a route edit after an endpoint change walks no EDS target).
  const endpoints = mesh.endpoints;
  let clas: readonly ClusterLoadAssignmentJson[] | undefined;
  return {
    clusters: derived(out.clusters, [], () => [...out.clusters, blackHoleCluster(), passthroughCluster()].sort(byResourceName)),
    get endpoints() {
      return (clas ??= clasOf(out.edsTargets, endpoints));
    },
    // Access logs go on every listener's connection managers and TCP proxies.
    listeners: derived(out.listeners, [mesh.telemetries, mesh.meshConfig, proxy], () => withAccessLogs(out.listeners, mesh, proxy)),
    routes: [...out.routes].sort(byResourceName),
    secrets: derived(out.secrets, [], () => [...out.secrets.values()].sort(byResourceName)),
    diagnostics: out.diagnostics,
    edsTargets: out.edsTargets,
  };
}

/** Per list the outbound side kept (outbound.ts), what was last made of it, from what else. */
const derivedFrom = new WeakMap<object, { readonly inputs: readonly unknown[]; readonly value: unknown }>();

/** `make()`, or last time's result for the same `source` and `inputs`: a list made of a kept list is kept too, and found by identity when encoded. */
function derived<T>(source: object, inputs: readonly unknown[], make: () => T): T {
  const known = derivedFrom.get(source);
  if (known && known.inputs.length === inputs.length && known.inputs.every((x, i) => x === inputs[i])) return known.value as T;
  const value = make();
  derivedFrom.set(source, { inputs, value });
  return value;
}

/**
 * Per EDS target list the outbound side kept, the CLAs last made of it over one endpoints model,
 * both held weakly: a list the encoder still holds is found again by identity, but the memo keeps
 * neither alive. The EDS fast path keeps a view's CLAs current without asking here, so a strong
 * memo held each target's first CLA (its encoded bytes with it) and the endpoints model of its
 * first build beside the current ones: growth for every service whose endpoints changed since.
 */
const clasMade = new WeakMap<
  readonly EdsTarget[],
  { readonly endpoints: WeakRef<MeshModel["endpoints"]>; readonly clas: WeakRef<readonly ClusterLoadAssignmentJson[]> }
>();

function clasOf(targets: readonly EdsTarget[], endpoints: MeshModel["endpoints"]): readonly ClusterLoadAssignmentJson[] {
  const known = clasMade.get(targets);
  const kept = known?.endpoints.deref() === endpoints ? known?.clas.deref() : undefined;
  if (kept) return kept;
  const clas = targets.map((t) => edsTargetEndpoints(t, endpoints));
  clasMade.set(targets, { endpoints: new WeakRef(endpoints), clas: new WeakRef(clas) });
  return clas;
}

export function translateSidecarInbound(mesh: MeshModel, proxy: ProxyView): InboundTranslation {
  const inb = inbound(buildInboundSideScope(mesh, proxy));
  return {
    clusters: [...inb.clusters].sort(byResourceName),
    listeners: [...withAccessLogs(inb.listeners, mesh, proxy)].sort(byResourceName),
    diagnostics: inb.diagnostics,
  };
}

/** One sidecar's resources from its two sides: each list stays sorted by name. */
export function composeSidecar(out: ProxyTranslation, inb: InboundTranslation): ProxyTranslation {
  const twins = outboundTwins(inb.listeners, (name) => out.listeners.some((l) => l.name === name));
  return {
    ...out,
    clusters: mergeByName(out.clusters, inb.clusters),
    listeners: mergeByName(
      out.listeners.filter((l) => !twins.names.has(l.name!)),
      inb.listeners,
    ),
    // A Secret's problem is found again for every cluster that names it.
    diagnostics: uniqueDiagnostics([...out.diagnostics, ...inb.diagnostics, ...twins.diagnostics]),
  };
}

function mergeByName<T extends { name?: string }>(a: readonly T[], b: readonly T[]): readonly T[] {
  return b.length === 0 ? a : [...a, ...b].sort(byResourceName);
}

/**
 * A Sidecar ingress port bound on 0.0.0.0 has the name of the outbound listener for the same port
 * (`0.0.0.0_<port>`); Envoy takes one listener per name, and the socket the user asked for wins.
 * `inbound` sorted by name; `outboundHas` tells whether the outbound side has a listener of a name.
 */
export function outboundTwins(
  inbound: readonly ListenerJson[],
  outboundHas: (name: string) => boolean,
): { names: ReadonlySet<string>; diagnostics: Diagnostic[] } {
  const names = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  for (const l of inbound) {
    if (!outboundHas(l.name!)) continue;
    names.add(l.name!);
    diagnostics.push({
      severity: "warning",
      code: "MP0123",
      message: `listener ${l.name} is a Sidecar ingress port bound on this proxy; the outbound listener of that name is left out, so captured outbound connections to port ${l.address?.socketAddress?.portValue} are not routed to services`,
    });
  }
  return { names, diagnostics };
}
