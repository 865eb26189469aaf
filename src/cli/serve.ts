/**
 * `meshpilot serve`: config sources → store → control plane → ADS server, plus the debug HTTP
 * server. Also used in-process by tests and the demo (`startServer`).
 */
import type { Server } from "node:http";
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
}

export interface RunningServer {
  readonly xdsPort: number;
  readonly debugPort: number;
  readonly controlPlane: ControlPlane;
  readonly xds: XdsServer;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.logger;
  const store = new Store();
  const cache = new SnapshotCache();
  const metrics = new Metrics();
  const controlPlane = new ControlPlane({ cache, logger: log });
  const xds = new XdsServer({ cache, views: controlPlane, logger: log, observer: metrics.observer() });
  let sourceDiagnostics: readonly Diagnostic[] = [];
  let sourcesReady = opts.configDir === undefined;

  const sourceOf: SourceLookup = (ref) => (ref.name ? store.snapshot().get(objectKey(ref.kind as InputKind, ref.namespace, ref.name))?.source : undefined);
  const rebuild = (kinds: ReadonlySet<InputKind> | "all"): void => {
    const stats = controlPlane.update(meshInputFrom(store.snapshot().objects()), kinds, { diagnostics: sourceDiagnostics, sourceOf });
    metrics.buildTime.observe({ path: stats.fastPath ? "eds" : "full" }, stats.seconds);
    metrics.rejectedConfigs.set(sourceDiagnostics.filter((d) => d.severity === "error").length);
    log.debug({ views: stats.views, fastPath: stats.fastPath, seconds: stats.seconds }, "config pushed");
  };
  const debouncer = new Debouncer<ChangeSet | undefined>(
    (batch) => {
      const kinds = new Set<InputKind>();
      for (const cs of batch) for (const k of cs?.kinds ?? []) kinds.add(k);
      rebuild(kinds);
    },
    opts.debounceMs ?? 100,
    opts.debounceMaxMs ?? 1000,
  );

  const xdsPort = await xds.listen(opts.xdsAddress);
  const debug = await startDebugServer(opts.debugAddress, { controlPlane, metrics, syncStatus: () => xds.syncStatus(), sourcesReady: () => sourcesReady, logger: log });

  let files: FileSource | undefined;
  if (opts.configDir !== undefined) {
    files = new FileSource({
      dir: opts.configDir,
      onUpdate: (u) => {
        const change = store.apply(u.source, u.events);
        const diagnosticsChanged = JSON.stringify(u.diagnostics) !== JSON.stringify(sourceDiagnostics);
        sourceDiagnostics = u.diagnostics;
        if (u.initial) return;
        // A fixed or new input error changes what is reported even when no object changed.
        if (change || diagnosticsChanged) debouncer.push(change);
        if (change) log.info({ files: u.files, kinds: [...change.kinds], revision: change.revision }, "config changed");
      },
      onError: (err) => log.error({ err }, "config directory source failed"),
    });
    await files.start();
    sourcesReady = true;
  }
  rebuild("all");
  log.info({ xdsPort, debugPort: debug.port, configDir: opts.configDir, objects: store.snapshot().size }, "meshpilot ready");

  return {
    xdsPort,
    debugPort: debug.port,
    controlPlane,
    xds,
    metrics,
    async stop() {
      debouncer.stop();
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
