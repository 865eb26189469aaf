/**
 * Application HTTP probes once inbound traffic is captured. The kubelet probes from outside the
 * pod, so a probe to the application's port would enter Envoy's inbound listener and pass or
 * fail on mesh policy rather than on the application. As Istio rewrites such probes to its
 * agent's `/app-health/<container>/<livez|readyz|startupz>` on 15020, meshpilot rewrites them to
 * the same paths on a static Envoy listener (port 15020, excluded from capture) whose routes
 * forward each path to the original path on 127.0.0.1:<port>; Envoy's own traffic is not
 * captured, so the probe reaches the application directly.
 */
import type { PodContainer, Probe } from "./pod.js";

export type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";
const PROBE_PATHS: Readonly<Record<ProbeKind, string>> = { livenessProbe: "livez", readinessProbe: "readyz", startupProbe: "startupz" };
export const PROBE_KINDS: readonly ProbeKind[] = ["livenessProbe", "readinessProbe", "startupProbe"];

/** One route of the app-health listener. */
export interface AppProbeRoute {
  /** The path the kubelet calls on the probe port: `/app-health/<container>/<kind>`. */
  readonly path: string;
  /** Where Envoy sends it: the application's port on loopback. */
  readonly port: number;
  readonly tls: boolean;
  /** The original path (with its query), `/` when none was set. */
  readonly originalPath: string;
}

/** A probe to replace: JSON pointer to its httpGet, the new httpGet. */
export interface ProbeRewrite {
  readonly container: number;
  readonly kind: ProbeKind;
  readonly httpGet: Record<string, unknown>;
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
      if (probe.tcpSocket !== undefined || probe.grpc !== undefined) {
        warnings.push(`${where}: ${probe.tcpSocket !== undefined ? "tcpSocket" : "grpc"} probe not rewritten; captured, it tests the sidecar, not the app`);
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
      const path = `/app-health/${c.name}/${PROBE_PATHS[kind]}`;
      const scheme = (get.scheme ?? "HTTP").toUpperCase();
      routes.push({
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
