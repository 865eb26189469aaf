/**
 * The running process of `meshpilot serve`: config sources → store → debounce → control plane →
 * ADS server, plus the debug HTTP server and, with Kubernetes, status writing. Also used
 * in-process by tests and the demo (`startServer`).
 */
import type { Server } from "node:http";
import type { Logger } from "pino";
import { formatObjectRef, type Diagnostic } from "../api/diagnostics.js";
import { UNTRANSLATED_KINDS } from "../api/kinds.js";
import { objectKey, type InputKind } from "../api/objects.js";
import type { SourceLookup } from "../analyze/analyze.js";
import { notTranslatedFindings } from "../analyze/not-translated.js";
import { startDebugServer } from "../debug/http.js";
import { PushHistory } from "../debug/history.js";
import { Metrics } from "../debug/metrics.js";
import { ControlPlane } from "../pipeline/control-plane.js";
import { BUILD_SLICE_MS } from "../pipeline/sliced-work.js";
import { Debouncer } from "../debounce.js";
import { meshInputOf } from "../pipeline/mesh-input.js";
import { FileSource } from "../sources/file/file-source.js";
import type { KubeSource } from "../sources/kube/kube-source.js";
import type { LeaderElector } from "../sources/kube-status/leader.js";
import type { StatusWriter } from "../sources/kube-status/status-writer.js";
import type { SourceUpdate } from "../sources/source-update.js";
import type { ChangeSet } from "../store/change-set.js";
import { Store } from "../store/store.js";
import { SnapshotCache } from "../xds/snapshot-cache.js";
import { XdsServer } from "../xds/server.js";
import { Inputs } from "./inputs.js";
import { DEFAULT_MESH_CONFIG, DEFAULT_TRUST_DOMAIN, type MeshConfig } from "../model/mesh-config.js";
import type { KubeServeOptions } from "./kube.js";
import { Readiness } from "./readiness.js";
import type { RunningWebhook, WebhookOptions } from "./webhook.js";
import type { IdentityOptions, RunningIdentity } from "./identity.js";

export type { KubeServeOptions } from "./kube.js";

const FILES = "files";
/** How long a view whose last proxy left stays built (unless a build comes first). */
const KEEP_VIEW_MS = 30_000;
const KUBE = "kube";

export interface ServeOptions {
  /** Mesh-wide settings (default: Istio's defaults). */
  readonly meshConfig?: MeshConfig;
  readonly configDir?: string;
  readonly xdsAddress: string;
  readonly debugAddress: string;
  readonly logger: Logger;
  /** Quiet period and cap for coalescing config changes. */
  readonly debounceMs?: number;
  readonly debounceMaxMs?: number;
  /** Read Services, EndpointSlices, Pods, Namespaces and Istio objects from Kubernetes too. */
  readonly kube?: KubeServeOptions;
  /** Serve the sidecar injection webhook (with `kube`: namespace labels, shared CA, caBundle upkeep). */
  readonly inject?: Omit<WebhookOptions, "logger" | "kubeConfig" | "onReview">;
  /** Pushes kept by /debug/history (default 100). */
  readonly historySize?: number;
  /**
   * Development only: the plaintext xDS port also sends Secrets (credentialName private keys) to
   * anyone who connects. Off by default, as in istiod.
   */
  readonly allowPlaintextSecrets?: boolean;
  /** The mesh CA and the secure port (15012); without it neither runs. */
  readonly identity?: IdentityOptions;
}

export interface RunningServer {
  readonly xdsPort: number;
  /** The secure port (TLS, CA and authenticated ADS), when `identity` was given. */
  readonly secureXdsPort?: number;
  readonly identity?: RunningIdentity;
  readonly debugPort: number;
  readonly controlPlane: ControlPlane;
  readonly xds: XdsServer;
  readonly metrics: Metrics;
  readonly history: PushHistory;
  /** The input objects as applied (read-only use: tests that follow what the server holds). */
  readonly store: Store;
  /** The Kubernetes source, when `kube` was given. */
  readonly kube?: KubeSource;
  readonly leader?: LeaderElector;
  readonly statusWriter?: StatusWriter;
  readonly webhook?: RunningWebhook;
  stop(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.logger;
  const store = new Store();
  const cache = new SnapshotCache();
  const metrics = new Metrics();
  const meshConfig = servedMeshConfig(opts);
  // Views are built across turns of the event loop: proxies reconnecting at once must not stall it.
  // A view whose proxies all left is kept a while: a probe proxy before its fleet, or a restarting
  // pod, finds it built.
  // What a build owes after its push (findings, bookkeeping) waits until its streams were served.
  const controlPlane = new ControlPlane({
    cache,
    logger: log,
    meshConfig,
    sliceMs: BUILD_SLICE_MS,
    keepViewMs: KEEP_VIEW_MS,
    afterPush: (task) => xds.afterPush(task),
  });
  if (opts.allowPlaintextSecrets) {
    log.warn(
      { xdsAddress: opts.xdsAddress },
      "INSECURE: --allow-plaintext-secrets is set: the plaintext xDS port sends Secrets, private keys included, to any client that connects. For local development only; never use it where others can reach the port",
    );
  }
  // The Kubernetes client, the CA and the webhook are loaded only when used: a server of a config
  // directory starts without them (start-up CPU and memory, issue 12 item 3).
  const kubeClient = opts.kube ? await import("../sources/kube/client.js") : undefined;
  const kubeConfig = opts.kube && kubeClient ? (opts.kube.kubeConfig ?? kubeClient.loadKubeConfig(opts.kube.kubeconfigPath)) : undefined;
  // The CA signs in the trust domain the translated config pins (SANs, authorization principals).
  const trustDomain = meshConfig.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const identityModule = opts.identity ? await import("./identity.js") : undefined;
  const identity =
    opts.identity && identityModule
      ? await identityModule.startIdentity(opts.identity, trustDomain, log, kubeConfig && kubeClient ? new kubeClient.KubeClient(kubeConfig) : undefined)
      : undefined;
  const xds = new XdsServer({
    cache,
    views: controlPlane,
    logger: log,
    observer: metrics.observer(),
    plaintextSecrets: opts.allowPlaintextSecrets ?? false,
    ...(identity ? { secure: identity.secure } : {}),
  });
  metrics.watchPushes(() => xds.pushStats);
  metrics.watchBuilds(() => controlPlane.buildWork);
  const history = new PushHistory(opts.historySize);
  const inputs = new Inputs(store, [FILES, KUBE]);
  const readiness = new Readiness([...(opts.configDir !== undefined ? [FILES] : []), ...(opts.kube ? [KUBE] : [])]);
  // Nothing is built (so nothing is served) before every source has its complete initial state.
  let serving = false;

  const sourceOf: SourceLookup = (ref) => (ref.name ? store.snapshot().get(objectKey(ref.kind as InputKind, ref.namespace, ref.name))?.source : undefined);
  const rebuild = (kinds: ReadonlySet<InputKind> | "all", objects: readonly string[] = []): void => {
    const snapshot = store.snapshot();
    const diagnostics = inputs.diagnostics;
    // Objects of kinds that are read but not translated yet are reported with the input's findings.
    const reported = [...diagnostics, ...notTranslatedFindings(UNTRANSLATED_KINDS.flatMap((k) => [...snapshot.of(k).values()]))];
    const stats = controlPlane.update(meshInputOf(snapshot), kinds, { diagnostics: reported, sourceOf });
    if (identity?.rootPublisher && (kinds === "all" || kinds.has("Namespace"))) {
      identity.rootPublisher.setNamespaces([...snapshot.of("Namespace").values()].map((n) => n.object.metadata.name));
    }
    metrics.buildTime.observe({ path: stats.fastPath ? "eds" : "full" }, stats.seconds);
    if (stats.changes.length > 0) {
      const at = new Date();
      // Recorded once the change was pushed, with the proxies it was pushed to: at 2000 proxies
      // its diffs took 1–30 ms, and listing the proxies by key ~0.5 ms, all of it before the
      // first stream was written.
      xds.afterPush(() => {
        const byKey = xds.proxiesByKey();
        history.record({ objects, fastPath: stats.fastPath }, stats.changes, (k) => byKey.get(k) ?? [], at);
      });
    }
    metrics.rejectedConfigs.set(diagnostics.filter((d) => d.severity === "error").length);
    log.debug({ views: stats.views, fastPath: stats.fastPath, seconds: stats.seconds }, "config pushed");
  };
  const debouncer = new Debouncer<ChangeSet | undefined>(
    (batch) => {
      if (!serving) return; // the first full build includes these changes
      const kinds = new Set<InputKind>();
      const objects = new Set<string>();
      for (const cs of batch) {
        for (const k of cs?.kinds ?? []) kinds.add(k);
        for (const k of cs?.keys ?? []) objects.add(k);
      }
      rebuild(kinds, [...objects].sort());
    },
    opts.debounceMs ?? 100,
    opts.debounceMaxMs ?? 1000,
  );

  /** Applies one source update and schedules a rebuild when it changed anything. */
  const ingest = (sourceName: string, u: SourceUpdate, logFields: object): void => {
    const { change, diagnosticsChanged, added } = inputs.ingest(sourceName, u);
    // Said once, when it appears: an edit refused in a burst of edits may be gone from
    // /debug/diagnostics a moment later, when the next edit replaces the file.
    for (const d of added) logFinding(log, d);
    if (u.initial) return;
    // A fixed or new input error changes what is reported even when no object changed.
    if (change || diagnosticsChanged) debouncer.push(change);
    if (change) log.info({ ...logFields, kinds: [...change.kinds], revision: change.revision }, "config changed");
  };

  const xdsPort = await xds.listen(opts.xdsAddress);
  const secureXdsPort = opts.identity ? await xds.listenSecure(opts.identity.secureXdsAddress) : undefined;
  const debug = await startDebugServer(opts.debugAddress, {
    controlPlane,
    metrics,
    syncStatus: () => xds.syncStatus(),
    history,
    sourcesReady: () => readiness.ready,
    degraded: () => readiness.degraded,
    logger: log,
  });

  const webhookModule = opts.inject ? await import("./webhook.js") : undefined;
  const webhook =
    opts.inject && webhookModule
      ? await webhookModule.startWebhook({
          ...opts.inject,
          logger: log,
          onReview: (r) => metrics.injection(r),
          ...(kubeConfig ? { kubeConfig } : {}),
        })
      : undefined;

  let files: FileSource | undefined;
  if (opts.configDir !== undefined) {
    files = new FileSource({
      dir: opts.configDir,
      onUpdate: (u) => ingest(FILES, u, { files: u.files }),
      onError: (err) => log.error({ err }, "config directory source failed"),
    });
    await files.start();
    readiness.done(FILES);
  }

  const startServing = (): void => {
    serving = true;
    rebuild("all");
    log.info(
      { xdsPort, debugPort: debug.port, configDir: opts.configDir, kubernetes: opts.kube !== undefined, objects: store.snapshot().size },
      "meshpilot ready",
    );
  };
  const kubeModule = opts.kube ? await import("./kube.js") : undefined;
  const kube =
    opts.kube && kubeModule
      ? kubeModule.startKube(
          {
            ...opts.kube,
            ...(kubeConfig ? { kubeConfig } : {}),
            // Deployed gateways run the same proxy image, and reach meshpilot where sidecars do.
            ...(opts.kube.gatewayProxy === undefined && opts.inject?.settings ? { gatewayProxy: opts.inject.settings } : {}),
          },
          {
            log,
            controlPlane,
            onUpdate: (u) => ingest(KUBE, u, { source: KUBE }),
            onSynced: (source) => {
              readiness.done(KUBE);
              log.info({ objects: source.objects().length }, "Kubernetes informers synced");
              startServing();
            },
            serving: () => serving,
          },
        )
      : undefined;
  if (kube && kubeModule) readiness.degradedWhen(KUBE, () => kubeModule.describeKubeHealth(kube.source.health()));
  else startServing();

  return {
    xdsPort,
    ...(secureXdsPort !== undefined ? { secureXdsPort } : {}),
    ...(identity ? { identity } : {}),
    debugPort: debug.port,
    controlPlane,
    xds,
    metrics,
    history,
    store,
    ...(kube ? { kube: kube.source } : {}),
    ...(kube?.leader ? { leader: kube.leader } : {}),
    ...(kube?.statusWriter ? { statusWriter: kube.statusWriter } : {}),
    ...(webhook ? { webhook } : {}),
    async stop() {
      debouncer.stop();
      await webhook?.stop();
      await kube?.stop();
      await files?.stop();
      await closeHttp(debug.server);
      await xds.close();
      identity?.stop();
    },
  };
}

function logFinding(log: Logger, d: Diagnostic): void {
  const fields = {
    code: d.code,
    ...(d.object ? { object: formatObjectRef(d.object) } : {}),
    ...(d.path ? { path: d.path } : {}),
    ...(d.source?.file ? { file: d.source.file } : {}),
    ...(d.source?.line !== undefined ? { line: d.source.line } : {}),
    reason: d.message,
  };
  if (d.severity === "info") log.info(fields, "config input note");
  else log.warn(fields, d.severity === "error" ? "config input error" : "config input warning");
}

/**
 * The mesh config as served. Workload certificates exist only with the mesh CA, which hands them
 * to proxies on the secure port (`default`/`ROOTCA` over SDS): only then do auto mTLS and
 * PERMISSIVE's mTLS chains have something to present (STRICT and ISTIO_MUTUAL stay either way,
 * failing as configured without it).
 */
export function servedMeshConfig(opts: Pick<ServeOptions, "meshConfig" | "identity">): MeshConfig {
  return { ...(opts.meshConfig ?? DEFAULT_MESH_CONFIG), workloadCertificates: opts.identity !== undefined };
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
