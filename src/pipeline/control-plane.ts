/**
 * Wiring only: store snapshot → mesh model → per-view translation → encoded snapshots in the
 * xDS cache. Views (proxy classes) are built when their first proxy connects and rebuilt on
 * every change; endpoint-only changes take the EDS fast path.
 */
import type { Logger } from "pino";
import type { Diagnostic } from "../api/diagnostics.js";
import { formatDiagnostic, uniqueDiagnostics } from "../api/diagnostics.js";
import type { InputKind } from "../api/objects.js";
import { analysisFindings, analyzeMesh, withSource, type Analysis, type SourceLookup } from "../analyze/analyze.js";
import { buildMeshState, rebuildEndpoints, type MeshBuild } from "../model/build.js";
import type { MeshInput } from "../model/input.js";
import type { MeshModel } from "../model/ir.js";
import { parseProxy, viewKey, type ProxyView } from "../model/proxy.js";
import type { ProxyResources } from "../translate/sidecar.js";
import { translateSidecar } from "../translate/sidecar.js";
import { snapshotFrom } from "../xds/encode.js";
import { encodeProxyResources } from "./encode-view.js";
import { groupTargets, refreshEndpoints, type EdsTargets } from "./eds-fast-path.js";
import type { SnapshotCache } from "../xds/snapshot-cache.js";
import type { NodeInfo, ResourceMap, ViewProvider } from "../xds/snapshot.js";
import { TYPE_URL, type TypeUrl } from "../xds/type-urls.js";

/** Kinds whose changes can only alter endpoints (labels and readiness), never clusters or routes. */
// Node labels give endpoints their locality and topology labels, and nothing else.
const ENDPOINT_KINDS: ReadonlySet<InputKind> = new Set<InputKind>(["EndpointSlice", "Pod", "Node"]);

/**
 * A view keeps its encoded resources and what the EDS fast path needs, not the translated JSON:
 * with many views of a big mesh that JSON would be most of the heap (config dumps recompute it).
 */
interface View {
  readonly proxy: ProxyView;
  maps?: ReadonlyMap<TypeUrl, ResourceMap>;
  eds?: EdsTargets;
  diagnostics: readonly Diagnostic[];
}

export interface ControlPlaneOptions {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly domain?: string;
}

export interface BuildStats {
  readonly views: number;
  readonly fastPath: boolean;
  readonly seconds: number;
}

export class ControlPlane implements ViewProvider {
  private readonly views = new Map<string, View>();
  private build: MeshBuild | undefined;
  private analysis: Analysis | undefined;
  private sourceOf: SourceLookup = () => undefined;
  private inputDiagnostics: readonly Diagnostic[] = [];
  private meshDiagnostics: readonly Diagnostic[] = [];
  private reported = new Set<string>();
  private readonly listeners = new Set<(stats: BuildStats) => void>();

  constructor(private readonly opts: ControlPlaneOptions) {}

  /** True once the first complete input has been applied (nothing is served before). */
  get ready(): boolean {
    return this.build !== undefined;
  }

  viewKey(node: NodeInfo): { key: string } | { error: string } {
    const parsed = parseProxy(node);
    if ("error" in parsed) return parsed;
    if (parsed.proxy.type !== "sidecar") return { error: `node id "${node.id}": only sidecar proxies are served so far` };
    return { key: viewKey(parsed.proxy) };
  }

  activate(key: string, node: NodeInfo): void {
    const parsed = parseProxy(node);
    if ("error" in parsed) return;
    const view: View = { proxy: parsed.proxy, diagnostics: [] };
    this.views.set(key, view);
    if (this.build) this.publish(key, view, this.build.mesh);
  }

  deactivate(key: string): void {
    this.views.delete(key);
    this.opts.cache.delete(key);
  }

  /**
   * Apply a new input snapshot. `changed` lists the kinds that differ from the last one; when they
   * are all endpoint kinds, only ClusterLoadAssignments are rebuilt.
   */
  update(input: MeshInput, changed: ReadonlySet<InputKind> | "all", extra: { diagnostics?: readonly Diagnostic[]; sourceOf?: SourceLookup } = {}): BuildStats {
    const started = performance.now();
    if (extra.sourceOf) this.sourceOf = extra.sourceOf;
    if (extra.diagnostics) this.inputDiagnostics = extra.diagnostics;
    const previous = this.build;
    const fastPath = previous !== undefined && changed !== "all" && changed.size > 0 && [...changed].every((k) => ENDPOINT_KINDS.has(k));
    const build = fastPath ? rebuildEndpoints(previous, input) : buildMeshState(input, this.opts.domain);
    this.build = build;
    this.analysis = analyzeMesh(build.mesh, fastPath ? this.analysis : undefined);
    this.meshDiagnostics = [...build.mesh.diagnostics.map((d) => this.locate(d)), ...analysisFindings(this.analysis, this.sourceOf)];
    for (const [key, view] of this.views) this.publish(key, view, build.mesh, build.changedHosts);
    this.reportNewDiagnostics();
    const stats = { views: this.views.size, fastPath, seconds: (performance.now() - started) / 1000 };
    for (const l of this.listeners) l(stats);
    return stats;
  }

  onBuild(listener: (stats: BuildStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every current finding: input errors, model and analyzer findings, per-view translation notes. */
  diagnostics(): Diagnostic[] {
    return uniqueDiagnostics([...this.inputDiagnostics, ...this.meshDiagnostics, ...[...this.views.values()].flatMap((v) => v.diagnostics).map((d) => this.locate(d))]);
  }

  /** The translated resources (Envoy JSON) a view currently gets, translated again on demand. */
  viewResources(key: string): ProxyResources | undefined {
    const view = this.views.get(key);
    return view?.maps && this.build ? translateSidecar(this.build.mesh, view.proxy) : undefined;
  }

  private locate(d: Diagnostic): Diagnostic {
    return withSource(d, this.sourceOf);
  }

  /**
   * Translate and encode a view. `changedHosts`: since the last publish only the endpoints of these
   * services changed; then only their ClusterLoadAssignments are rebuilt (EDS fast path).
   */
  private publish(key: string, view: View, mesh: MeshModel, changedHosts?: ReadonlySet<string>): void {
    const prev = view.maps;
    let maps: Map<TypeUrl, ResourceMap>;
    if (changedHosts && prev && view.eds) {
      maps = new Map(prev);
      maps.set(TYPE_URL.endpoint, refreshEndpoints(view.eds, changedHosts, mesh, prev.get(TYPE_URL.endpoint)!));
    } else {
      const resources = translateSidecar(mesh, view.proxy);
      maps = encodeProxyResources(resources, prev);
      view.eds = groupTargets(resources.edsTargets);
      view.diagnostics = resources.diagnostics;
    }
    view.maps = maps;
    this.opts.cache.set(key, snapshotFrom(maps));
  }

  /** Log each finding once, when it first appears; fixed ones are forgotten so a relapse is logged again. */
  private reportNewDiagnostics(): void {
    const current = new Set<string>();
    for (const d of this.diagnostics()) {
      const line = formatDiagnostic(d);
      current.add(line);
      if (this.reported.has(line)) continue;
      const fields = { code: d.code, object: d.object, path: d.path, source: d.source };
      if (d.severity === "error") this.opts.logger.error(fields, line);
      else if (d.severity === "warning") this.opts.logger.warn(fields, line);
      else this.opts.logger.info(fields, line);
    }
    this.reported = current;
  }
}
