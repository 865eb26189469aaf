/**
 * Application probes once inbound traffic is captured. The kubelet probes from outside the pod,
 * so a probe to the application's port would enter Envoy's inbound listener and pass or fail on
 * mesh policy (a tcpSocket probe would always pass: Envoy accepts the connection) rather than on
 * the application. As Istio rewrites httpGet, tcpSocket and grpc probes to its agent's
 * `/app-health/<container>/<livez|readyz|startupz>` on 15020, meshpilot rewrites them to the same
 * paths on a static Envoy listener (port 15020, excluded from capture). There is no agent to dial
 * the application, so Envoy does it: an httpGet path is forwarded to the original path on
 * 127.0.0.1:<port>; a tcpSocket or grpc path is answered by Envoy's health_check filter from the
 * active health check (TCP connect, or gRPC Health/Check with the probe's service) of a loopback
 * cluster for that port. Envoy's own traffic is not captured, so either way the probe reaches the
 * application directly.
 */
import type { PodContainer, Probe } from "./pod.js";

export type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";
const PROBE_PATHS: Readonly<Record<ProbeKind, string>> = { livenessProbe: "livez", readinessProbe: "readyz", startupProbe: "startupz" };
export const PROBE_KINDS: readonly ProbeKind[] = ["livenessProbe", "readinessProbe", "startupProbe"];

/** One route of the app-health listener: an httpGet forwarded, or a tcpSocket/grpc check answered. */
export type AppProbeRoute =
  | {
      readonly check: "http";
      /** The path the kubelet calls on the probe port: `/app-health/<container>/<kind>`. */
      readonly path: string;
      /** Where Envoy sends it: the application's port on loopback. */
      readonly port: number;
      readonly tls: boolean;
      /** The original path (with its query), `/` when none was set. */
      readonly originalPath: string;
    }
  | {
      readonly check: "tcp" | "grpc";
      readonly path: string;
      readonly port: number;
      /** gRPC health service name (grpc probes; empty: the server as a whole). */
      readonly service?: string;
      /** The probe's timeoutSeconds (Kubernetes default 1): the health check's timeout. */
      readonly timeoutSeconds: number;
    };

/**
 * A probe to replace. httpGet probes keep everything but their handler (`httpGet` replaced);
 * tcpSocket and grpc probes are replaced whole, their handler swapped for the httpGet (`probe`).
 */
export interface ProbeRewrite {
  readonly container: number;
  readonly kind: ProbeKind;
  readonly httpGet: Record<string, unknown>;
  readonly probe?: Record<string, unknown>;
}

export interface ProbePlan {
  readonly routes: readonly AppProbeRoute[];
  readonly rewrites: readonly ProbeRewrite[];
  /** Probes left as they are that capture changes, said to the user as admission warnings. */
  readonly warnings: readonly string[];
}

function resolvePort(c: PodContainer, port: number | string): number | undefined {
  if (typeof port === "number") return port >= 1 && port <= 65535 ? port : undefined;
  if (/^\d+$/.test(port)) return resolvePort(c, Number(port));
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export function planProbes(containers: readonly PodContainer[], probePort: number, rewrite: boolean): ProbePlan {
  const routes: AppProbeRoute[] = [];
  const rewrites: ProbeRewrite[] = [];
  const warnings: string[] = [];
  containers.forEach((c, index) => {
    for (const kind of PROBE_KINDS) {
      const probe: Probe | undefined = c[kind];
      if (!probe) continue;
      const where = `container ${c.name} ${kind}`;
      const path = `/app-health/${c.name}/${PROBE_PATHS[kind]}`;
      const socket = probe.tcpSocket !== undefined ? "tcpSocket" : probe.grpc !== undefined ? "grpc" : undefined;
      if (socket) {
        if (!rewrite) {
          warnings.push(`${where}: ${socket} probe not rewritten (rewriteAppHTTPProbers false); captured, it tests the sidecar`);
          continue;
        }
        const action = (probe[socket] ?? {}) as { port?: number | string; host?: string; service?: string };
        if (typeof action.host === "string" && action.host !== "") continue; // probes another address, not this pod
        const port = action.port === undefined ? undefined : resolvePort(c, action.port);
        if (port === undefined) {
          warnings.push(`${where}: port ${JSON.stringify(action.port)} is not a container port; probe left as it is`);
          continue;
        }
        const timeoutSeconds = typeof probe["timeoutSeconds"] === "number" && probe["timeoutSeconds"] > 0 ? probe["timeoutSeconds"] : 1;
        routes.push({
          check: socket === "tcpSocket" ? "tcp" : "grpc",
          path,
          port,
          ...(socket === "grpc" && typeof action.service === "string" && action.service !== "" ? { service: action.service } : {}),
          timeoutSeconds,
        });
        const httpGet = { path, port: probePort, scheme: "HTTP" };
        const { [socket]: _replaced, ...rest } = probe;
        rewrites.push({ container: index, kind, httpGet, probe: { ...rest, httpGet } });
        continue;
      }
      const get = probe.httpGet;
      if (!get || !rewrite) continue;
      if (get.host !== undefined && get.host !== "") continue; // probes another address, not this pod
      const port = resolvePort(c, get.port);
      if (port === undefined) {
        warnings.push(`${where}: port ${JSON.stringify(get.port)} is not a container port; probe left as it is`);
        continue;
      }
      const scheme = (get.scheme ?? "HTTP").toUpperCase();
      routes.push({
        check: "http",
        path,
        port,
        tls: scheme === "HTTPS",
        originalPath: get.path && get.path !== "" ? (get.path.startsWith("/") ? get.path : `/${get.path}`) : "/",
      });
      rewrites.push({
        container: index,
        kind,
        httpGet: { path, port: probePort, scheme: "HTTP", ...(get.httpHeaders ? { httpHeaders: get.httpHeaders } : {}) },
      });
    }
  });
  return { routes, rewrites, warnings };
}
