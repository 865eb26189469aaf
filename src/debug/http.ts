import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { ControlPlane } from "../pipeline/control-plane.js";
import type { ProxySyncStatus, ShortType } from "../xds/observer.js";
import { configDump } from "./config-dump.js";
import type { PushHistory } from "./history.js";
import { isAsset, serveAsset } from "./live-view/assets.js";
import type { LiveStream } from "./live-view/stream.js";
import type { Metrics } from "./metrics.js";

export interface DebugDeps {
  readonly controlPlane: ControlPlane;
  readonly metrics: Metrics;
  readonly syncStatus: () => readonly ProxySyncStatus[];
  readonly history?: PushHistory;
  /** True once every config source has loaded (and, for Kubernetes, synced). */
  readonly sourcesReady: () => boolean;
  /** Why a ready server serves a possibly stale state (a source lost its backend); empty when all is well. */
  readonly degraded?: () => readonly string[];
  readonly logger: Logger;
}

const SHORT_TYPES: readonly ShortType[] = ["cds", "eds", "lds", "rds", "sds"];

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": type });
  res.end(text);
}

/** Istio's proxyID is `pod.namespace`; accept that or the full node id. */
function findProxy(statuses: readonly ProxySyncStatus[], proxyId: string): ProxySyncStatus | undefined {
  return statuses.find((s) => s.id === proxyId) ?? statuses.find((s) => s.id.split("~")[2] === proxyId);
}

export function debugHandler(deps: DebugDeps): (req: IncomingMessage, res: ServerResponse) => void {
  // The live view (and the explain code it describes routes with) loads when first asked for: a
  // server starts without it (start-up CPU, issue 12 item 3).
  let live: Promise<LiveStream> | undefined;
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const handle = async (): Promise<void> => {
      if (isAsset(url.pathname)) return serveAsset(url.pathname, res);
      switch (url.pathname) {
        case "/":
        case "/ui":
          res.writeHead(302, { location: "/ui/" });
          res.end();
          return;
        case "/ui/state":
          send(res, 200, (await import("./live-view/state.js")).liveState(deps));
          return;
        case "/ui/events":
          live ??= import("./live-view/stream.js").then((m) => new m.LiveStream(deps, deps.logger));
          (await live).attach(req, res);
          return;
        case "/ready":
          if (deps.sourcesReady() && deps.controlPlane.ready) {
            const degraded = deps.degraded?.() ?? [];
            send(res, 200, degraded.length === 0 ? "ready\n" : `ready, degraded:\n${degraded.map((d) => `  ${d}\n`).join("")}`, "text/plain");
          } else send(res, 503, "not ready: config sources are still loading\n", "text/plain");
          return;
        case "/healthz":
          send(res, 200, "ok\n", "text/plain");
          return;
        case "/metrics": {
          const diags = deps.controlPlane.diagnostics();
          for (const sev of ["error", "warning", "info"] as const)
            deps.metrics.diagnostics.set({ severity: sev }, diags.filter((d) => d.severity === sev).length);
          const { text, contentType } = await deps.metrics.exposition();
          send(res, 200, text, contentType);
          return;
        }
        case "/debug/syncz":
          send(res, 200, deps.syncStatus());
          return;
        case "/debug/history": {
          if (!deps.history) return send(res, 404, { error: "this server keeps no push history" });
          const push = url.searchParams.get("push");
          if (push === null) return send(res, 200, { size: deps.history.size, pushes: deps.history.list() });
          const id = Number(push);
          if (!Number.isInteger(id)) return send(res, 400, { error: `push must be a push id (a number), not ${JSON.stringify(push)}` });
          const resource = url.searchParams.get("resource");
          if (resource === null) {
            const record = deps.history.get(id);
            return record ? send(res, 200, record) : send(res, 404, { error: `push ${id} is not in the history (it keeps the last ${deps.history.size})` });
          }
          const type = url.searchParams.get("type");
          if (type !== null && !SHORT_TYPES.includes(type as ShortType)) return send(res, 400, { error: `type must be one of ${SHORT_TYPES.join(", ")}` });
          const diff = deps.history.diff(id, resource, (type as ShortType | null) ?? undefined);
          return "error" in diff ? send(res, 404, diff) : send(res, 200, diff);
        }
        case "/debug/diagnostics":
          send(res, 200, deps.controlPlane.diagnostics());
          return;
        case "/debug/config_dump": {
          const id = url.searchParams.get("proxyID");
          if (!id) return send(res, 400, { error: "query parameter proxyID is required (a node id, or pod.namespace)" });
          const status = findProxy(deps.syncStatus(), id);
          if (!status) return send(res, 404, { error: `no connected proxy with id ${id}` });
          const resources = deps.controlPlane.viewResources(status.viewKey);
          if (!resources) return send(res, 404, { error: `proxy ${id} has no config yet` });
          const v = (t: ShortType) => status.types[t]?.versionSent ?? "";
          send(
            res,
            200,
            configDump(resources, { cds: v("cds"), eds: v("eds"), lds: v("lds"), rds: v("rds"), sds: v("sds") }, url.searchParams.has("include_eds")),
          );
          return;
        }
        default:
          send(res, 404, {
            error: `unknown path ${url.pathname}`,
            paths: [
              "/ui/ (the live view)",
              "/ui/state",
              "/ui/events (Server-Sent Events)",
              "/ready",
              "/healthz",
              "/metrics",
              "/debug/syncz",
              "/debug/config_dump?proxyID=",
              "/debug/diagnostics",
              "/debug/history[?push=ID[&resource=NAME[&type=rds]]]",
            ],
          });
      }
    };
    handle().catch((e: unknown) => {
      deps.logger.error({ err: e, path: url.pathname }, "debug handler failed");
      if (!res.headersSent) send(res, 500, { error: String(e) });
    });
  };
}

export async function startDebugServer(address: string, deps: DebugDeps): Promise<{ server: Server; port: number }> {
  const { host, port } = splitHostPort(address);
  const server = createServer(debugHandler(deps));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`address "${address}" must be HOST:PORT`);
  return { host: m[1]!, port: Number(m[2]) };
}
