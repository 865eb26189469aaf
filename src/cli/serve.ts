/**
 * `meshpilot serve`: config sources → store → control plane → ADS server, plus the debug HTTP
 * server. Also used in-process by tests and the demo (`startServer`).
 */
import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Diagnostic } from "../api/diagnostics.js";
import { objectKey, type InputKind } from "../api/objects.js";
import type { SourceLookup } from "../analyze/analyze.js";
import { startDebugServer } from "../debug/http.js";
import { Metrics } from "../debug/metrics.js";
import { ControlPlane } from "../pipeline/control-plane.js";
import { Debouncer } from "../pipeline/debounce.js";
import { meshInputFrom } from "../pipeline/mesh-input.js";
import { FileSource } from "../sources/file/file-source.js";
import { KubeClient, loadKubeConfig } from "../sources/kube/client.js";
import { KubeSource, type KubeSourceOptions } from "../sources/kube/kube-source.js";
import { parseSelector } from "../sources/kube/selectors.js";
import { LeaderElector } from "../sources/kube-status/leader.js";
import { StatusWriter } from "../sources/kube-status/status-writer.js";
import type { ChangeSet } from "../store/change-set.js";
import { Store } from "../store/store.js";
import { SnapshotCache } from "../xds/snapshot-cache.js";
import { XdsServer } from "../xds/server.js";

export interface ServeOptions {
  readonly configDir?: string;
  readonly xdsAddress: string;
  readonly debugAddress: string;
  readonly logger: Logger;
  /** Quiet period and cap for coalescing config changes. */
  readonly debounceMs?: number;
  readonly debounceMaxMs?: number;
  /** Read Services, EndpointSlices, Pods, Namespaces and Istio objects from Kubernetes too. */
  readonly kube?: KubeServeOptions;
}

/** Passed through to the informers as they are (all but watchNamespaces are for tests). */
const TUNING_KEYS = ["watchNamespaces", "watchTimeoutSeconds", "stallGraceMs", "relistIntervalMs", "backoffMaxMs"] as const;
type KubeSourceTuning = Pick<KubeSourceOptions, (typeof TUNING_KEYS)[number]>;

export interface KubeServeOptions extends KubeSourceTuning {
  /** A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account. */
  readonly kubeconfigPath?: string;
  /** An already loaded config (tests); wins over kubeconfigPath. */
  readonly kubeConfig?: KubeConfig;
  /** Label selectors (kubectl syntax) on namespaces; a namespace is in scope when any matches. */
  readonly discoverySelectors?: readonly string[];
  /** Write findings into the Istio objects' status, by the replica holding the Lease; default true. */
  readonly writeStatus?: boolean;
  /** Namespace of the leader Lease; default $POD_NAMESPACE, the service account's namespace, else meshpilot-system. */
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  /** This replica's name in the Lease; default $POD_NAME, else hostname-pid. */
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly leaseRetryPeriodMs?: number;
}

export interface RunningServer {
  readonly xdsPort: number;
  readonly debugPort: number;
  readonly controlPlane: ControlPlane;
  readonly xds: XdsServer;
  readonly metrics: Metrics;
  /** The Kubernetes source, when `kube` was given. */
  readonly kube?: KubeSource;
  readonly leader?: LeaderElector;
  readonly statusWriter?: StatusWriter;
  stop(): Promise<void>;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function defaultLeaseNamespace(): string {
  if (process.env["POD_NAMESPACE"]) return process.env["POD_NAMESPACE"];
  try {
    return readFileSync(SA_NAMESPACE_FILE, "utf8").trim() || "meshpilot-system";
  } catch {
    return "meshpilot-system";
  }
}

/** The tuning fields that are set (exactOptionalPropertyTypes: absent, never undefined). */
function tuningOf(k: KubeSourceTuning): KubeSourceTuning {
  return Object.fromEntries(TUNING_KEYS.filter((key) => k[key] !== undefined).map((key) => [key, k[key]])) as KubeSourceTuning;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.logger;
  const store = new Store();
  const cache = new SnapshotCache();
  const metrics = new Metrics();
  const controlPlane = new ControlPlane({ cache, logger: log });
  const xds = new XdsServer({ cache, views: controlPlane, logger: log, observer: metrics.observer() });
  // Input errors per source; each update replaces its source's list.
  const diagnosticsBySource = new Map<"files" | "kube", readonly Diagnostic[]>();
  let sourceDiagnostics: readonly Diagnostic[] = [];
  let filesReady = opts.configDir === undefined;
  let kubeReady = opts.kube === undefined;
  let sourcesReady = filesReady && kubeReady;
  // Nothing is built (so nothing is served) before every source has its complete initial state.
  let serving = false;

  const sourceOf: SourceLookup = (ref) => (ref.name ? store.snapshot().get(objectKey(ref.kind as InputKind, ref.namespace, ref.name))?.source : undefined);
  const rebuild = (kinds: ReadonlySet<InputKind> | "all"): void => {
    const stats = controlPlane.update(meshInputFrom(store.snapshot().objects()), kinds, { diagnostics: sourceDiagnostics, sourceOf });
    metrics.buildTime.observe({ path: stats.fastPath ? "eds" : "full" }, stats.seconds);
    metrics.rejectedConfigs.set(sourceDiagnostics.filter((d) => d.severity === "error").length);
    log.debug({ views: stats.views, fastPath: stats.fastPath, seconds: stats.seconds }, "config pushed");
  };
  const debouncer = new Debouncer<ChangeSet | undefined>(
    (batch) => {
      if (!serving) return; // the first full build includes these changes
      const kinds = new Set<InputKind>();
      for (const cs of batch) for (const k of cs?.kinds ?? []) kinds.add(k);
      rebuild(kinds);
    },
    opts.debounceMs ?? 100,
    opts.debounceMaxMs ?? 1000,
  );

  /** Applies one source update to the store and schedules a rebuild when it changed anything. */
  const ingest = (
    sourceName: "files" | "kube",
    u: { readonly source: string; readonly events: Parameters<Store["apply"]>[1]; readonly diagnostics: readonly Diagnostic[]; readonly initial: boolean },
    logFields: object,
  ): void => {
    const change = store.apply(u.source, u.events);
    diagnosticsBySource.set(sourceName, u.diagnostics);
    const next = [...(diagnosticsBySource.get("files") ?? []), ...(diagnosticsBySource.get("kube") ?? [])];
    const diagnosticsChanged = JSON.stringify(next) !== JSON.stringify(sourceDiagnostics);
    sourceDiagnostics = next;
    if (u.initial) return;
    // A fixed or new input error changes what is reported even when no object changed.
    if (change || diagnosticsChanged) debouncer.push(change);
    if (change) log.info({ ...logFields, kinds: [...change.kinds], revision: change.revision }, "config changed");
  };

  const xdsPort = await xds.listen(opts.xdsAddress);
  const debug = await startDebugServer(opts.debugAddress, { controlPlane, metrics, syncStatus: () => xds.syncStatus(), sourcesReady: () => sourcesReady, logger: log });

  let files: FileSource | undefined;
  if (opts.configDir !== undefined) {
    files = new FileSource({
      dir: opts.configDir,
      onUpdate: (u) => ingest("files", u, { files: u.files }),
      onError: (err) => log.error({ err }, "config directory source failed"),
    });
    await files.start();
    filesReady = true;
    sourcesReady = filesReady && kubeReady;
  }

  let kube: KubeSource | undefined;
  let leader: LeaderElector | undefined;
  let statusWriter: StatusWriter | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  const startServing = (): void => {
    serving = true;
    rebuild("all");
    log.info({ xdsPort, debugPort: debug.port, configDir: opts.configDir, kubernetes: opts.kube !== undefined, objects: store.snapshot().size }, "meshpilot ready");
  };
  if (opts.kube) {
    const k = opts.kube;
    const client = new KubeClient(k.kubeConfig ?? loadKubeConfig(k.kubeconfigPath));
    const source = new KubeSource({
      client,
      logger: log,
      ...tuningOf(k),
      discoverySelectors: (k.discoverySelectors ?? []).map(parseSelector),
      onUpdate: (u) => ingest("kube", u, { source: "kube" }),
    });
    kube = source;
    log.info({ server: client.server, watchNamespaces: k.watchNamespaces, discoverySelectors: k.discoverySelectors }, "starting Kubernetes informers");
    source.start();
    source.synced.then(
      () => {
        kubeReady = true;
        sourcesReady = filesReady && kubeReady;
        log.info({ objects: source.objects().length }, "Kubernetes informers synced");
        startServing();
      },
      (err: unknown) => log.error({ err }, "Kubernetes source failed to start"),
    );
    if (k.writeStatus !== false) {
      const elector = new LeaderElector({
        client,
        namespace: k.leaseNamespace ?? defaultLeaseNamespace(),
        name: k.leaseName ?? "meshpilot-status-leader",
        identity: k.identity ?? process.env["POD_NAME"] ?? `${hostname()}-${process.pid}`,
        ...(k.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: k.leaseDurationSeconds } : {}),
        ...(k.leaseRetryPeriodMs !== undefined ? { retryPeriodMs: k.leaseRetryPeriodMs } : {}),
        logger: log,
        onChange: (isLeader) => {
          if (isLeader) statusWriter?.trigger();
        },
      });
      leader = elector;
      statusWriter = new StatusWriter({
        client,
        objects: () => source.istioObjects(),
        diagnostics: () => controlPlane.diagnostics(),
        isLeader: () => elector.isLeader && source.isSynced && serving,
        logger: log,
      });
      controlPlane.onBuild(() => statusWriter?.trigger());
      source.onChange(() => statusWriter?.trigger());
      statusTimer = setInterval(() => statusWriter?.trigger(), 30_000);
      elector.start();
    }
  } else {
    startServing();
  }

  return {
    xdsPort,
    debugPort: debug.port,
    controlPlane,
    xds,
    metrics,
    ...(kube ? { kube } : {}),
    ...(leader ? { leader } : {}),
    ...(statusWriter ? { statusWriter } : {}),
    async stop() {
      debouncer.stop();
      if (statusTimer) clearInterval(statusTimer);
      await statusWriter?.stop();
      await leader?.stop();
      await kube?.stop();
      await files?.stop();
      await closeHttp(debug.server);
      await xds.close();
    },
  };
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
