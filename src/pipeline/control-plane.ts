/**
 * Wiring only: store snapshot → mesh model → per-view translation → encoded snapshots in the
 * xDS cache. Views are built when their first proxy connects and rebuilt on every change;
 * endpoint-only changes take the EDS fast path.
 *
 * Two levels of keys. The xDS server groups streams by node class (nodeClassKey: every label);
 * a class never changes key. Classes map onto views (viewKey: only the labels configuration
 * selects on), and all classes of a view are given its one Snapshot object. When the selection
 * changes, classes move to other views on that build: each class's cache entry is set to its new
 * view's snapshot, so its streams get the difference, in make-before-break order, like any change.
 *
 * A view is composed of a shared part and its own. Views whose proxies' labels agree through the
 * outbound selection (outboundLabels) share one outbound translation, translated and encoded once
 * per build however many views hold it; each view adds its own inbound side (the Services that
 * select the workload, its policies), which is small. A gateway's view is all shared part.
 */
import type { Logger } from "pino";
import type { Diagnostic } from "../api/diagnostics.js";
import { formatDiagnostic, uniqueDiagnostics } from "../api/diagnostics.js";
import type { InputKind } from "../api/objects.js";
import { analysisFindings, analyzeMesh, withSource, type Analysis, type SourceLookup } from "../analyze/analyze.js";
import type { MeshConfig } from "../model/mesh-config.js";
import { buildMeshState, rebuildEndpoints, type MeshBuild } from "../model/build.js";
import { prepareEndpointChanges } from "../model/endpoints.js";
import type { MeshInput } from "../model/input.js";
import type { MeshModel, ServiceModel } from "../model/ir.js";
import { DEFAULT_DOMAIN } from "../model/names.js";
import { nodeClassKey, parseProxy, proxyView, sharedView, viewKey, type ProxyNode, type ProxyView } from "../model/proxy.js";
import { outboundLabels, projectLabels, selectedLabels, selectionText, type LabelSelection } from "../model/selected-labels.js";
import {
  outboundTwins,
  translateOwn,
  translateProxy,
  translateShared,
  type EdsTarget,
  type ProxyResources,
  type ProxyTranslation,
} from "../translate/proxy.js";
import { snapshotFrom, typeVersion } from "../xds/encode.js";
import { TypeTable } from "../xds/type-table.js";
import { composedMap, composeMaps, encodeOwn, OWN_TYPES, type Composed, type TypeMaps } from "./compose-view.js";
import { encodeProxyResources, encodeSteps } from "./encode-view.js";
import { SlicedWork, type SlicedWorkStats } from "./sliced-work.js";
import { groupTargets, refreshEndpoints, type EdsTargets } from "./eds-fast-path.js";
import { EncodeCache } from "../xds/encode-cache.js";
import type { ListenerJson } from "../translate/envoy.js";
import { readingMesh, sameReads, SharedReads, withRead, type MeshReads } from "./mesh-reads.js";
import type { SnapshotCache } from "../xds/snapshot-cache.js";
import type { NodeInfo, ResourceMap, Snapshot, ViewProvider } from "../xds/snapshot.js";
import { PUSH_ORDER, TYPE_URL, type TypeUrl } from "../xds/type-urls.js";

/** Kinds whose changes can only alter endpoints (labels and readiness), never clusters or routes. */
// Node labels give endpoints their locality and topology labels, and nothing else.
const ENDPOINT_KINDS: ReadonlySet<InputKind> = new Set<InputKind>(["EndpointSlice", "Pod", "Node"]);

/**
 * What several views hold alike: a sidecar's outbound side, or a gateway's whole config. It keeps
 * its encoded resources and what the EDS fast path needs, not the translated JSON: with many views
 * of a big mesh that JSON would be most of the heap (config dumps recompute it).
 */
interface SharedPart {
  /** Its key in the parts map. */
  readonly key: string;
  readonly proxy: ProxyView;
  maps?: TypeMaps;
  eds?: EdsTargets;
  /** The EDS recipes `eds` groups. */
  edsFrom?: readonly EdsTarget[];
  /** The model's endpoints its EDS map was last made or refreshed for. */
  edsOf?: MeshModel["endpoints"];
  diagnostics: readonly Diagnostic[];
  /** The build (generation) it was last translated or refreshed for. */
  generation: number;
  /** The keys of the views composed from it. */
  readonly views: Set<string>;
  /** Translated, and being encoded across turns, for this build (sliced builds only). */
  translated?: { readonly generation: number; readonly resources: ProxyTranslation; readonly reads: MeshReads };
  /** What its last translation read of the model: when a build's model holds the same objects there, it is kept. */
  reads?: MeshReads;
  /**
   * Its maps before and after its last refresh, and the types whose map changed: a view composed
   * of `from` whose own part stands takes the step by replacing those types alone, without
   * composing its every type again (with a view per workload, an endpoint change is such a step
   * for a thousand views).
   */
  step?: PartStep;
}

interface PartStep {
  readonly from: TypeMaps;
  readonly to: TypeMaps;
  readonly types: readonly TypeUrl[];
  /** The change of the views that took it holding nothing of their own in its types: the same for each. */
  change?: ViewChange["maps"];
}

/** What a view keeps of its own part's translation (not the JSON): its findings and listener names. */
interface OwnNotes {
  readonly diagnostics: readonly Diagnostic[];
  readonly listeners: readonly ListenerJson[];
}

interface View {
  readonly proxy: ProxyView;
  /** The key of its SharedPart. */
  part: string;
  /** Its own part, encoded, and what its maps were composed of. */
  own?: TypeMaps;
  composed?: Composed;
  maps?: TypeMaps;
  snapshot?: Snapshot;
  /** Findings of its own part (the shared part's are the part's). */
  diagnostics: readonly Diagnostic[];
  /** What its own part's last translation read of the model, and what is kept of it. */
  ownReads?: MeshReads;
  ownNotes?: OwnNotes;
  /** What its findings were worked out from: its own notes and its part's listeners. */
  twinsOf?: { readonly notes: OwnNotes; readonly listeners: ResourceMap | undefined };
  /** The node classes (xDS keys) served by this view. */
  readonly classes: Set<string>;
}

/** Connected proxies that look alike (one xDS key), and the view they currently get. */
interface NodeClass {
  readonly node: ProxyNode;
  view: string | undefined;
}

export interface ControlPlaneOptions {
  readonly cache: SnapshotCache;
  readonly logger: Logger;
  readonly domain?: string;
  /** Mesh-wide settings (Istio's MeshConfig subset meshpilot honours). */
  readonly meshConfig?: MeshConfig;
  /**
   * Build the views proxies wait for (the first of a class, or all of them when proxies connected
   * before the first build) across turns of the event loop of about this many milliseconds
   * (sliced-work.ts), instead of in the turn that binds the stream: a 1000-service view takes
   * seconds to translate and encode. Their first snapshot is set when done. Undefined: at once.
   */
  readonly sliceMs?: number;
  /**
   * How long a built view whose last proxy left is kept for a proxy of the same view to come back
   * to (a probe proxy before its fleet, a pod restarting) without building it again. The next build
   * drops it anyway: rebuilding it would serve no one. Undefined or 0: dropped at once.
   */
  readonly keepViewMs?: number;
  /**
   * Runs what a build owes after its push (the analyzer's findings, logging new findings,
   * dropping encoded resources no view holds): the xDS server's afterPush, so that none of it
   * comes between a change and the first response written. Undefined: at the end of `update`.
   */
  readonly afterPush?: (task: () => void) => void;
}

/**
 * The resource maps of one view, or of views that changed alike (took their shared part's step),
 * before and after a build, for the types whose version changed.
 */
export interface ViewChange {
  /** The node classes (xDS keys) of the view or views: their proxies get the change. */
  readonly classes: readonly string[];
  readonly maps: ReadonlyMap<TypeUrl, { readonly from: ResourceMap; readonly to: ResourceMap }>;
}

export interface BuildStats {
  /** Distinct translations (views), however many node classes share them. */
  readonly views: number;
  /** Node classes (xDS keys) served. */
  readonly classes: number;
  readonly fastPath: boolean;
  readonly seconds: number;
  /** What changed in views (views built for the first time are not listed); views that changed alike share one. */
  readonly changes: readonly ViewChange[];
  /** Shared parts (a sidecar outbound side per outbound key, a gateway's view) the views are composed of. */
  readonly outboundKeys: number;
  /** Shared parts translated by this build (the EDS fast path refreshes them instead: 0). */
  readonly outboundTranslations: number;
  /** Views whose own part (a sidecar's inbound side) this build translated. */
  readonly ownTranslations: number;
  /**
   * Views whose every type was composed from their two parts again; the others took their shared
   * part's step (the types it changed) or stood. An endpoint change composes none.
   */
  readonly composedViews: number;
}

/** The analysis a build owes (ControlPlane.settle works it out). */
interface PendingAnalysis {
  readonly mesh: MeshModel;
  readonly pods: MeshInput["pods"];
  /** Every build since the last analysis changed endpoints only: the last one is its `previous`. */
  readonly incremental: boolean;
}

/** Work counters for tests: what ran, and when. */
export interface SettleStats {
  /** analyzeMesh runs. */
  readonly analyses: number;
  /** Times the work owed after a push was done. */
  readonly settles: number;
}

export class ControlPlane implements ViewProvider {
  private readonly views = new Map<string, View>();
  private readonly parts = new Map<string, SharedPart>();
  /** Counts builds: a shared part is translated at most once per build, however many views hold it. */
  private generation = 0;
  private counts = { outbound: 0, own: 0, composed: 0 };
  private readonly classes = new Map<string, NodeClass>();
  /** What the views hold, by content: a resource several views hold alike is encoded once. */
  private readonly encoded = new EncodeCache();
  /** What views' own parts read of the model, one record for views that read alike. */
  private readonly ownReads = new SharedReads();
  private selection: LabelSelection = new Map();
  private outboundSelection: LabelSelection = new Map();
  private selectionText = selectionsText(this.selection, this.outboundSelection);
  private build: MeshBuild | undefined;
  private analysis: Analysis | undefined;
  /** The latest build's analysis, when it was not worked out yet (it is after the push, or when asked for). */
  private pendingAnalysis: PendingAnalysis | undefined;
  /** The types whose encoded resources are to be retained after the push ("all" after a full build). */
  private readonly unretained = new Set<TypeUrl>();
  private settleQueued = false;
  private settleCounts = { analyses: 0, settles: 0 };
  private sourceOf: SourceLookup = () => undefined;
  private inputDiagnostics: readonly Diagnostic[] = [];
  /** The model's findings and the analyzer's (worked out with the analysis). */
  private meshDiagnostics: readonly Diagnostic[] = [];
  private reported = new Set<string>();
  private readonly listeners = new Set<(stats: BuildStats) => void>();
  /** Sliced builds (opts.sliceMs): the work, and the views waiting for their first snapshot. */
  private readonly work: SlicedWork | undefined;
  private readonly waiting = new Set<string>();
  private building = false;
  /** Built views no proxy holds any more, kept until their timer (opts.keepViewMs) or the next build. */
  private readonly idle = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: ControlPlaneOptions) {
    if (opts.sliceMs !== undefined) this.work = new SlicedWork(opts.sliceMs, (err) => opts.logger.error({ err }, "building a view failed"));
  }

  /** Sliced builds' counters (undefined when views are built at once), and the views waiting. */
  get buildWork(): (SlicedWorkStats & { readonly waitingViews: number }) | undefined {
    return this.work && { ...this.work.stats, waitingViews: this.waiting.size };
  }

  /** True once the first complete input has been applied (nothing is served before). */
  get ready(): boolean {
    return this.build !== undefined;
  }

  viewKey(node: NodeInfo): { key: string; namespace: string } | { error: string } {
    const parsed = parseProxy(node);
    if ("error" in parsed) return parsed;
    return { key: nodeClassKey(parsed.proxy), namespace: parsed.proxy.namespace };
  }

  activate(key: string, node: NodeInfo): void {
    const parsed = parseProxy(node);
    if ("error" in parsed) return;
    const cls: NodeClass = { node: parsed.proxy, view: undefined };
    this.classes.set(key, cls);
    if (!this.build) return;
    const view = this.place(key, cls);
    if (!view.snapshot && this.work) return this.buildLater(cls.view!);
    if (!view.snapshot) this.publish(view, this.build.mesh);
    this.opts.cache.set(key, view.snapshot!);
  }

  deactivate(key: string): void {
    const cls = this.classes.get(key);
    this.classes.delete(key);
    if (cls) this.leave(key, cls);
    this.opts.cache.delete(key);
  }

  /** The view a class gets under the current selection (created, untranslated, if new). */
  private place(key: string, cls: NodeClass): View {
    const proxy = proxyView(cls.node, this.selection);
    const vk = viewKey(proxy);
    if (cls.view !== vk) {
      this.leave(key, cls);
      cls.view = vk;
    }
    let view = this.views.get(vk);
    const idle = this.idle.get(vk);
    if (idle !== undefined) {
      clearTimeout(idle);
      this.idle.delete(vk);
    }
    if (!view) {
      view = { proxy, part: "", diagnostics: [], classes: new Set() };
      this.views.set(vk, view);
      this.attach(vk, view);
    }
    view.classes.add(key);
    return view;
  }

  private leave(key: string, cls: NodeClass): void {
    if (cls.view === undefined) return;
    const vk = cls.view;
    const view = this.views.get(vk);
    cls.view = undefined;
    view?.classes.delete(key);
    if (view?.classes.size !== 0) return;
    const keepMs = this.opts.keepViewMs ?? 0;
    if (keepMs > 0 && view.snapshot && !this.idle.has(vk)) {
      this.idle.set(vk, setTimeout(() => this.dropIdle(vk), keepMs).unref());
      return;
    }
    this.views.delete(vk);
    this.detach(vk, view);
  }

  /** Drop a kept view (one vk, or all of them) unless a proxy came back to it. */
  private dropIdle(only?: string): void {
    for (const [vk, timer] of this.idle) {
      if (only !== undefined && vk !== only) continue;
      clearTimeout(timer);
      this.idle.delete(vk);
      const view = this.views.get(vk);
      if (!view || view.classes.size > 0) continue;
      this.views.delete(vk);
      this.detach(vk, view);
    }
  }

  /** Join the view to the shared part of its outbound key (created, untranslated, if new). */
  private attach(vk: string, view: View): void {
    const shared = sharedView(view.proxy, this.outboundSelection);
    const pk = viewKey(shared);
    if (view.part === pk) return;
    this.detach(vk, view);
    let part = this.parts.get(pk);
    if (!part) {
      part = { key: pk, proxy: shared, diagnostics: [], generation: -1, views: new Set() };
      this.parts.set(pk, part);
    }
    // The part's own key string: a thousand views of a part then hold one copy of it, not one each.
    view.part = part.key;
    part.views.add(vk);
  }

  private detach(vk: string, view: View): void {
    const part = this.parts.get(view.part);
    part?.views.delete(vk);
    if (part?.views.size === 0) this.parts.delete(view.part);
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
    // A full build reuses what the last one built from the same input objects (model/keep.ts).
    const rebuilt = fastPath ? rebuildEndpoints(previous, input) : buildMeshState(input, this.opts.domain, this.opts.meshConfig, previous);
    // A headless Service's endpoints are also listeners (one per address): those views translate again.
    const build =
      fastPath && [...(rebuilt.changedHosts ?? [])].some((h) => rebuilt.mesh.services.get(h)?.clusterIP === "None")
        ? { ...rebuilt, changedHosts: undefined }
        : rebuilt;
    const endpointsOnly = build.changedHosts !== undefined;
    this.build = build;
    this.generation++;
    this.counts = { outbound: 0, own: 0, composed: 0 };
    // Findings never change what is served: worked out after the push (settle), or when asked for.
    this.pendingAnalysis = { mesh: build.mesh, pods: input.pods, incremental: fastPath && (this.pendingAnalysis?.incremental ?? true) };
    // Endpoints select no proxy: the fast path keeps the selection (and every class in its view),
    // unless pods' named ports changed, which can split views.
    if (!endpointsOnly) this.regroup(selectedLabels(build.mesh), outboundLabels(build.mesh));
    // Kept views (and views a regroup emptied) would be built again for no proxy.
    this.dropIdle();
    // Every view first, then the classes: a class moving between views finds its new one built.
    const changes: ViewChange[] = [];
    // The classes of the views that took one step alike, listed in one change: a change object and
    // a class list per view per change outlived the push they wait for (the history reads them after it).
    const alike = new Map<ViewChange["maps"], string[]>();
    for (const [vk, view] of this.views) {
      // Never built: its proxies wait for it anyway; built in turns, not in this one.
      if (!view.snapshot && this.work) {
        this.buildLater(vk);
        continue;
      }
      const previous = view.snapshot;
      const before = previous ? view.maps : undefined;
      const versions = previous?.versions;
      const step = this.publish(view, build.mesh, build.changedHosts);
      if (!before || !versions || !view.maps || view.snapshot === previous) continue;
      // Every view that took its part's step with nothing of its own in the step's types changed alike.
      if (!step) {
        const maps = changedMaps(before, versions, view.maps, view.snapshot!.versions);
        if (maps.size > 0) changes.push({ classes: [...view.classes], maps });
        continue;
      }
      const maps = (step.change ??= changedMaps(before, versions, view.maps, view.snapshot!.versions));
      if (maps.size === 0) continue;
      const classes = alike.get(maps);
      if (classes) for (const k of view.classes) classes.push(k);
      else {
        const list = [...view.classes];
        alike.set(maps, list);
        changes.push({ classes: list, maps });
      }
    }
    // A class whose view stood (a workload's view after an edit elsewhere) already has its snapshot.
    for (const view of this.views.values())
      for (const key of view.classes) if (view.snapshot && this.opts.cache.get(key) !== view.snapshot) this.opts.cache.set(key, view.snapshot);
    for (const t of endpointsOnly ? [TYPE_URL.endpoint] : PUSH_ORDER) this.unretained.add(t);
    this.settleLater();
    const stats: BuildStats = {
      views: this.views.size,
      classes: this.classes.size,
      fastPath,
      seconds: (performance.now() - started) / 1000,
      changes,
      outboundKeys: this.parts.size,
      outboundTranslations: this.counts.outbound,
      ownTranslations: this.counts.own,
      composedViews: this.counts.composed,
    };
    for (const l of this.listeners) l(stats);
    return stats;
  }

  onBuild(listener: (stats: BuildStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the Gateway API conversion of the current build wants in status, and the gateways to deploy. */
  gatewayApi(): MeshModel["gatewayApi"] {
    return this.build?.mesh.gatewayApi;
  }

  /** Every current finding: input errors, model and analyzer findings, per-view translation notes. */
  diagnostics(): Diagnostic[] {
    this.analyze();
    // Every build asks (to log new findings): a view per workload adds no array of its own here.
    const found: Diagnostic[] = [...this.inputDiagnostics, ...this.meshDiagnostics];
    for (const p of this.parts.values()) for (const d of p.diagnostics) found.push(this.locate(d));
    for (const v of this.views.values()) if (v.classes.size > 0) for (const d of v.diagnostics) found.push(this.locate(d));
    return uniqueDiagnostics(found);
  }

  /** The translated resources (Envoy JSON) a node class (xDS key) currently gets, translated again on demand. */
  viewResources(key: string): ProxyResources | undefined {
    const vk = this.classes.get(key)?.view;
    const view = vk === undefined ? undefined : this.views.get(vk);
    return view?.maps && this.build ? translateProxy(this.build.mesh, view.proxy) : undefined;
  }

  /** The services of the current build, by FQDN (none before the first build). */
  services(): ReadonlyMap<string, ServiceModel> {
    return this.build?.mesh.services ?? new Map();
  }

  /**
   * What a sidecar in `namespace` with no labels gets from the current build: translated now,
   * neither kept nor pushed (the live view shows each service's routes as its own namespace sees them).
   */
  namespaceResources(namespace: string): ProxyResources | undefined {
    if (!this.build) return undefined;
    return translateProxy(this.build.mesh, {
      type: "sidecar",
      namespace,
      dnsDomain: this.opts.domain ?? DEFAULT_DOMAIN,
      interceptionMode: "REDIRECT",
      labels: projectLabels({}, this.selection),
    });
  }

  /**
   * When the labels configuration selects on changed, move every class to its view under the new
   * selection, and every view to its shared part under the new outbound selection.
   */
  private regroup(selection: LabelSelection, outbound: LabelSelection): void {
    const text = selectionsText(selection, outbound);
    if (text === this.selectionText && [...this.classes.values()].every((c) => c.view !== undefined)) return;
    this.selection = selection;
    this.outboundSelection = outbound;
    this.selectionText = text;
    for (const [key, cls] of this.classes) this.place(key, cls);
    for (const [vk, view] of this.views) this.attach(vk, view);
  }

  private locate(d: Diagnostic): Diagnostic {
    return withSource(d, this.sourceOf);
  }

  /**
   * Translate and encode a view: its shared part once per build, its own part, and the two
   * composed. `changedHosts`: since the last publish only the endpoints of these services changed;
   * then only their ClusterLoadAssignments are rebuilt (EDS fast path), in the shared part (a
   * view's own part has no endpoints).
   */
  private publish(view: View, mesh: MeshModel, changedHosts?: ReadonlySet<string>): PartStep | undefined {
    const part = this.parts.get(view.part)!;
    this.refresh(part, mesh, changedHosts);
    const shared = part.maps!;
    if (!view.own || !changedHosts) {
      // Translated again only when the model changed where it read (a route edit leaves inbound sides as they are).
      if (!view.own || !view.ownNotes || !view.ownReads || !this.ownReads.same(view.ownReads, mesh)) {
        const { value: own, reads } = readingMesh(mesh, (m) => translateOwn(m, view.proxy));
        this.counts.own++;
        view.own = encodeOwn(own, view.own, this.encoded);
        view.ownReads = this.ownReads.intern(reads);
        view.ownNotes = { diagnostics: own.diagnostics, listeners: own.listeners.map((l) => ({ name: l.name, address: l.address })) };
      }
      const listeners = shared.get(TYPE_URL.listener);
      const notes = view.ownNotes;
      // Worked out again only when its own listeners or its part's changed (not on a route edit).
      if (view.twinsOf?.notes !== notes || view.twinsOf.listeners !== listeners) {
        view.diagnostics = [...notes.diagnostics, ...outboundTwins(notes.listeners, (name) => listeners?.has(name) === true).diagnostics];
        view.twinsOf = { notes, listeners };
      }
    }
    const before = view.composed;
    if (before && view.snapshot && before.shared === shared && before.own === view.own) return undefined;
    if (before && view.snapshot && before.own === view.own && part.step?.from === before.shared && part.step.to === shared)
      return this.takeStep(view, part.step);
    this.counts.composed++;
    const composed = composeMaps(shared, view.own, before);
    view.composed = composed;
    if (view.snapshot && view.maps && PUSH_ORDER.every((t) => view.maps!.get(t) === composed.maps.get(t))) return undefined;
    view.maps = composed.maps;
    view.snapshot = snapshotFrom(composed.maps);
    return undefined;
  }

  /**
   * Bring a view whose own part stands along its shared part's step: only the types the step
   * changed get new maps and versions (the same maps and versions composing would give). Returns
   * the step when the view holds nothing of its own in those types (it then changed as the part did).
   */
  private takeStep(view: View, step: PartStep): PartStep | undefined {
    const before = view.composed!;
    const snapshot = view.snapshot!;
    let maps = TypeTable.from(before.maps);
    let versions = snapshot.versions instanceof TypeTable ? (snapshot.versions as TypeTable<string>) : TypeTable.from(snapshot.versions);
    let plain = true;
    for (const t of step.types) {
      const own = before.own.get(t);
      if (own !== undefined && own.size > 0) plain = false;
      const map = composedMap(step.to.get(t), own);
      maps = maps.with(t, map);
      versions = versions.with(t, typeVersion(map));
    }
    view.composed = { shared: step.to, own: before.own, maps };
    view.maps = maps;
    view.snapshot = { resources: maps, versions, vhdsForm: undefined, wholeForm: undefined };
    return plain ? step : undefined;
  }

  /** Bring a shared part up to this build, once however many views hold it. */
  private refresh(part: SharedPart, mesh: MeshModel, changedHosts?: ReadonlySet<string>): void {
    if (part.generation === this.generation && part.maps) return;
    part.generation = this.generation;
    const prev = part.maps;
    this.refreshMaps(part, mesh, changedHosts);
    const next = part.maps;
    part.step = prev && next && prev !== next ? { from: prev, to: next, types: PUSH_ORDER.filter((t) => prev.get(t) !== next.get(t)) } : undefined;
  }

  private refreshMaps(part: SharedPart, mesh: MeshModel, changedHosts?: ReadonlySet<string>): void {
    const prev = part.maps;
    // Translated for this build by a sliced build (prepare), its resources already encoded.
    const ready = part.translated?.generation === this.generation ? { value: part.translated.resources, reads: part.translated.reads } : undefined;
    part.translated = undefined;
    if (changedHosts && prev && part.eds) {
      const maps = new Map(prev);
      maps.set(TYPE_URL.endpoint, refreshEndpoints(part.eds, changedHosts, mesh, prev.get(TYPE_URL.endpoint)!, this.encoded));
      part.maps = maps;
      part.edsOf = mesh.endpoints;
      // Its resources now follow this model's endpoints; reads naming an older model would keep
      // that model (every endpoint list replaced since, their CLAs and bytes) while endpoints alone churn.
      if (part.reads) part.reads = withRead(part.reads, "endpoints", mesh.endpoints);
      return;
    }
    // Nothing it read of the model changed: its resources stand.
    if (!ready && prev && part.reads && sameReads(part.reads, mesh)) return;
    const { value: resources, reads } = ready ?? readingMesh(mesh, (m) => translateShared(m, part.proxy));
    this.counts.outbound++;
    part.reads = reads;
    // The same EDS recipes over the endpoints its map holds (the fast path kept it current): the
    // map stands, and the translation's ClusterLoadAssignments are never made.
    const eds = prev && part.edsFrom === resources.edsTargets && part.edsOf === mesh.endpoints ? prev.get(TYPE_URL.endpoint) : undefined;
    part.maps = encodeProxyResources(resources, prev, this.encoded, eds);
    part.edsOf = mesh.endpoints;
    // A translation that kept its EDS recipes (a route edit) keeps their grouping.
    if (part.eds === undefined || part.edsFrom !== resources.edsTargets) part.eds = groupTargets(resources.edsTargets);
    part.edsFrom = resources.edsTargets;
    part.diagnostics = resources.diagnostics;
  }

  /** Build view `vk` in turns (its classes get its first snapshot when it is done). */
  private buildLater(vk: string): void {
    this.waiting.add(vk);
    if (this.building) return;
    this.building = true;
    this.work!.add(this.buildWaiting());
  }

  /** One job for every waiting view, in the order they were asked for; a view per step at least. */
  private *buildWaiting(): Generator<void, void, undefined> {
    try {
      // A Set's iteration visits what is added meanwhile.
      for (const vk of this.waiting) {
        this.waiting.delete(vk);
        try {
          yield* this.buildView(vk);
        } catch (err) {
          // A translator bug: its proxies get nothing (as a failed build in the binding turn gave them).
          this.opts.logger.error({ err, view: vk }, "building a view failed");
        }
        yield;
      }
    } finally {
      this.building = false;
    }
  }

  private *buildView(vk: string): Generator<void, void, undefined> {
    const view = this.views.get(vk);
    const current = (): boolean => view !== undefined && this.views.get(vk) === view && this.build !== undefined;
    // A build may come between steps (and give the view its snapshot), or its proxies leave.
    for (let attempt = 1; current() && !view!.snapshot; attempt++) {
      const generation = this.generation;
      // Two builds came between its steps: build it at once, or under churn its proxies could wait forever.
      if (attempt <= 2) yield* this.prepare(view!);
      if (current() && !view!.snapshot && (generation === this.generation || attempt > 2)) this.publish(view!, this.build!.mesh);
    }
    if (current() && view!.snapshot) for (const key of view!.classes) this.opts.cache.set(key, view!.snapshot);
  }

  /**
   * The expensive part of publishing `view` for the first time, a step at a time: its shared part
   * translated (one step: translation is not cut), then its resources encoded one per step into
   * the encode cache, where publish finds them. Stops early when a build comes between steps.
   */
  private *prepare(view: View): Generator<void, void, undefined> {
    const part = this.parts.get(view.part);
    const mesh = this.build?.mesh;
    if (!part || !mesh || (part.generation === this.generation && part.maps)) return;
    if (part.maps && part.reads && sameReads(part.reads, mesh)) return;
    const generation = this.generation;
    if (part.translated?.generation !== generation) {
      const { value, reads } = readingMesh(mesh, (m) => translateShared(m, part.proxy));
      part.translated = { generation, resources: value, reads };
      yield;
    }
    for (const _ of encodeSteps(part.translated!.resources, this.encoded)) {
      if (this.generation !== generation || part.translated?.generation !== generation) return;
      yield;
    }
  }

  /** Counters of the work done after pushes. */
  get settleStats(): SettleStats {
    return { ...this.settleCounts };
  }

  /** Queue the work a build owes after its push, once however many builds come before it runs. */
  private settleLater(): void {
    if (this.settleQueued) return;
    this.settleQueued = true;
    const task = (): void => {
      this.settleQueued = false;
      this.settle();
    };
    if (this.opts.afterPush) this.opts.afterPush(task);
    else task();
  }

  /**
   * What builds owe after their push: the analysis, new findings logged, unheld resources dropped,
   * and what the next endpoint change would otherwise work out first (before its push).
   */
  private settle(): void {
    this.settleCounts.settles++;
    this.analyze();
    this.retainLive();
    this.reportNewDiagnostics();
    if (this.build) prepareEndpointChanges(this.build.endpoints);
  }

  /** Work out the latest build's analysis, if it is owed. */
  private analyze(): void {
    const p = this.pendingAnalysis;
    if (p === undefined) return;
    this.pendingAnalysis = undefined;
    this.settleCounts.analyses++;
    this.analysis = analyzeMesh(p.mesh, p.incremental ? this.analysis : undefined, p.pods);
    this.meshDiagnostics = [...p.mesh.diagnostics.map((d) => this.locate(d)), ...analysisFindings(this.analysis, this.sourceOf)];
  }

  /**
   * Forget what no view holds any more (views dropped since are swept on the next build). A view
   * holds its shared part's resources and its own, nothing else.
   */
  private retainLive(): void {
    if (this.unretained.size === 0) return;
    const live = TypeTable.of<ResourceMap[]>(() => []);
    for (const p of this.parts.values()) for (const [t, map] of p.maps ?? []) live.get(t)?.push(map);
    // One pass over the views, for the types an own part has.
    for (const v of this.views.values())
      for (const t of OWN_TYPES) {
        const map = v.own?.get(t);
        if (map !== undefined) live.get(t)!.push(map);
      }
    for (const t of PUSH_ORDER) if (this.unretained.has(t)) this.encoded.retain(t, live.get(t)!);
    this.unretained.clear();
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

/** Both selections as one text: equal texts, equal views and equal shared parts. */
function selectionsText(selection: LabelSelection, outbound: LabelSelection): string {
  return `${selectionText(selection)}|${selectionText(outbound)}`;
}

/** The maps of the types whose version changed, before and after. */
function changedMaps(before: TypeMaps, versions: ReadonlyMap<TypeUrl, string>, after: TypeMaps, now: ReadonlyMap<TypeUrl, string>): ViewChange["maps"] {
  const maps = new Map<TypeUrl, { from: ResourceMap; to: ResourceMap }>();
  for (const t of PUSH_ORDER) if (versions.get(t) !== now.get(t)) maps.set(t, { from: before.get(t) ?? new Map(), to: after.get(t) ?? new Map() });
  return maps;
}
