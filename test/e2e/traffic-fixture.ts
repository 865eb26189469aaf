/**
 * A private mesh for the traffic-* behaviour tests: meshpilot in-process (file mode), services
 * whose "pods" are small backends on loopback addresses of their own, and one real Envoy as the
 * client's sidecar in NONE interception mode (outbound listeners bind 127.0.0.1:<service port>).
 *
 * Test files run in parallel, so every mesh picks its own ports (below the ephemeral range) and
 * its own 127.A.B.0/24 for pod IPs. The test gives the Istio objects as YAML built from the
 * addresses the mesh picked (`mesh.port("svc")`).
 *
 *   const mesh = await startTrafficMesh({
 *     name: "matches",
 *     services: [{ name: "web", workloads: [{ version: "v1" }, { version: "v2" }] }],
 *     istio: (m) => `...VirtualService for web...`,
 *   });
 *   await mesh.get("web", "/x", { headers: { "x-user": "a" } });
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { MeshConfig } from "../../src/model/mesh-config.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { httpRequest, startBackend, tally, type Backend, type HttpRequestOptions, type HttpResponse } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { canBind, randomInt } from "../support/net.js";
import { until } from "../support/wait.js";

export interface WorkloadSpec {
  readonly version: string;
  /** Extra pod labels (app=<service> and version=<version> are always set). */
  readonly labels?: Readonly<Record<string, string>>;
  /** false: no backend is started (the test serves the address itself, e.g. with TLS). */
  readonly backend?: boolean;
}

export interface ServiceSpec {
  readonly name: string;
  /** Default: the client's namespace, default. */
  readonly namespace?: string;
  /** Port name, which gives the protocol (default `http`). */
  readonly portName?: string;
  readonly workloads: readonly WorkloadSpec[];
}

export interface TrafficMeshOptions {
  readonly name: string;
  readonly services: readonly ServiceSpec[];
  /** VirtualServices and DestinationRules, given the addresses picked. */
  readonly istio: (m: MeshAddressing) => string;
  /** Labels of the client workload (the Envoy). */
  readonly clientLabels?: Readonly<Record<string, string>>;
  /** The client Envoy's node.locality, `region/zone/subzone`. */
  readonly clientLocality?: string;
  /** Serve Secrets on the plaintext port (`--allow-plaintext-secrets`): the client Envoy connects there. */
  readonly allowPlaintextSecrets?: boolean;
  /** meshpilot's mesh config (what `--mesh-config`, `--access-log` … give `serve`). */
  readonly meshConfig?: MeshConfig;
}

export interface MeshAddressing {
  /** The service port of a service (also its backends' port and Envoy's listener port). */
  port(service: string): number;
  /** The pod IP of a service's workload. */
  ip(service: string, version: string): string;
}

export interface TrafficMesh extends MeshAddressing {
  readonly envoy: Envoy;
  readonly server: RunningServer;
  readonly dir: string;
  /** Backend of a service's workload. */
  backend(service: string, version: string): Backend;
  /** One request through Envoy to `service` (Host: <service>), path given. */
  get(service: string, path: string, opts?: HttpRequestOptions): Promise<HttpResponse>;
  /** `n` requests counted by backend version (`status:<code>` for other answers). */
  tally(service: string, path: string, n: number, opts?: HttpRequestOptions & { concurrency?: number }): Promise<Record<string, number>>;
  resetBackends(): void;
  /** Rewrites the Istio objects and waits until `ready` holds. */
  setIstio(text: string): void;
  /** A counter or gauge of Envoy's, 0 when absent. */
  stat(name: string): Promise<number>;
  /** Cluster name `outbound|<port>|<subset>|<svc>.<namespace>.svc.cluster.local`. */
  cluster(service: string, subset?: string): string;
  stop(): Promise<void>;
}

/** Services, Pods and EndpointSlices of `services` as YAML, at the addresses picked. */
export function yamlFor(services: readonly ServiceSpec[], a: MeshAddressing, clusterIps: Map<string, string>): string {
  const docs: string[] = [];
  for (const s of services) {
    const portName = s.portName ?? "http";
    const ns = s.namespace ?? "default";
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${s.name}, namespace: ${ns} }
spec:
  clusterIP: ${clusterIps.get(s.name)}
  selector: { app: ${s.name} }
  ports: [{ name: ${portName}, port: ${a.port(s.name)}, targetPort: ${a.port(s.name)} }]`);
    const endpoints: string[] = [];
    for (const w of s.workloads) {
      const pod = `${s.name}-${w.version}`;
      const labels = { app: s.name, version: w.version, ...w.labels };
      docs.push(`apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
  namespace: ${ns}
  labels: ${JSON.stringify(labels)}
status: { phase: Running, podIP: ${a.ip(s.name, w.version)}, podIPs: [{ ip: ${a.ip(s.name, w.version)} }] }`);
      endpoints.push(`  - addresses: ["${a.ip(s.name, w.version)}"]
    conditions: { ready: true, serving: true, terminating: false }
    targetRef: { kind: Pod, name: ${pod}, namespace: ${ns} }`);
    }
    docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${s.name}-slice
  namespace: ${ns}
  labels: { kubernetes.io/service-name: ${s.name} }
addressType: IPv4
ports: [{ name: ${portName}, port: ${a.port(s.name)}, protocol: TCP }]
endpoints:
${endpoints.join("\n")}`);
  }
  return docs.join("\n---\n") + "\n";
}

/** Ports base..base+n-1 free on 127.0.0.1 and on every pod IP; a /24 of its own. */
export async function pickAddresses(services: readonly ServiceSpec[]): Promise<{ ports: Map<string, number>; ips: Map<string, string> }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomInt(20_000, 31_900);
    const prefix = `127.${randomInt(100, 250)}.${randomInt(1, 254)}`;
    const ports = new Map<string, number>();
    const ips = new Map<string, string>();
    let host = 10;
    services.forEach((s, i) => {
      ports.set(s.name, base + i);
      for (const w of s.workloads) ips.set(`${s.name}/${w.version}`, `${prefix}.${host++}`);
    });
    const checks: Promise<boolean>[] = [];
    for (const s of services) {
      checks.push(canBind("127.0.0.1", ports.get(s.name)!));
      for (const w of s.workloads) checks.push(canBind(ips.get(`${s.name}/${w.version}`)!, ports.get(s.name)!));
    }
    if ((await Promise.all(checks)).every(Boolean)) return { ports, ips };
  }
  throw new Error("no free ports found in 50 attempts");
}

/** Lookups over what pickAddresses picked. */
export function addressingOf({ ports, ips }: { ports: ReadonlyMap<string, number>; ips: ReadonlyMap<string, string> }): MeshAddressing {
  return {
    port: (s) => {
      const p = ports.get(s);
      if (p === undefined) throw new Error(`no service ${s}`);
      return p;
    },
    ip: (s, v) => {
      const ip = ips.get(`${s}/${v}`);
      if (ip === undefined) throw new Error(`no workload ${s}/${v}`);
      return ip;
    },
  };
}

export async function startTrafficMesh(opts: TrafficMeshOptions): Promise<TrafficMesh> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()?.()).catch(() => undefined);
  };
  try {
    const addressing = addressingOf(await pickAddresses(opts.services));
    const clusterIps = new Map(opts.services.map((s, i) => [s.name, `10.96.200.${i + 1}`]));
    const dir = mkdtempSync(join(tmpdir(), `meshpilot-traffic-${opts.name}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "workloads.yaml"), yamlFor(opts.services, addressing, clusterIps));
    writeFileSync(join(dir, "istio.yaml"), opts.istio(addressing));

    const backends = new Map<string, Backend>();
    for (const s of opts.services) {
      for (const w of s.workloads) {
        if (w.backend === false) continue;
        const b = await startBackend({
          version: w.version,
          name: `${s.name}-${w.version}`,
          host: addressing.ip(s.name, w.version),
          port: addressing.port(s.name),
        });
        cleanups.push(() => b.close());
        backends.set(`${s.name}/${w.version}`, b);
      }
    }

    const logger = pino({ level: "warn" }, { write: () => undefined });
    const server = await startServer({
      configDir: dir,
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      debounceMs: 20,
      debounceMaxMs: 200,
      ...(opts.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}),
      ...(opts.meshConfig ? { meshConfig: opts.meshConfig } : {}),
    });
    cleanups.push(() => server.stop());

    const clientIp = `${addressing.ip(opts.services[0]!.name, opts.services[0]!.workloads[0]!.version).split(".").slice(0, 3).join(".")}.2`;
    const envoy = await startSidecarEnvoy(`traffic-${opts.name}`, {
      nodeId: `sidecar~${clientIp}~client-0.default~default.svc.cluster.local`,
      xdsAddress: `127.0.0.1:${server.xdsPort}`,
      labels: { app: "client", ...opts.clientLabels },
      ...(opts.clientLocality ? { locality: opts.clientLocality } : {}),
      waitReady: false,
    });
    cleanups.push(() => envoy.stop());
    await envoy.waitReady(20_000);
    for (const s of opts.services) {
      const l = `127.0.0.1_${addressing.port(s.name)}`;
      await envoy.waitFor(async () => (await envoy.listenerAddress(l)).port === addressing.port(s.name), { timeoutMs: 20_000, what: `listener ${l}` });
    }

    const url = (s: string, path: string) => `http://127.0.0.1:${addressing.port(s)}${path}`;
    const mesh: TrafficMesh = {
      ...addressing,
      envoy,
      server,
      dir,
      backend: (s, v) => {
        const b = backends.get(`${s}/${v}`);
        if (!b) throw new Error(`no backend ${s}/${v}`);
        return b;
      },
      get: (s, path, o = {}) => httpRequest(url(s, path), { host: s, timeoutMs: 10_000, ...o }),
      tally: (s, path, n, o = {}) => tally(url(s, path), n, { host: s, timeoutMs: 10_000, concurrency: 4, ...o }),
      resetBackends: () => backends.forEach((b) => b.reset()),
      setIstio: (text) => writeFileSync(join(dir, "istio.yaml"), text),
      stat: async (name) => (await envoy.stat(name)) ?? 0,
      cluster: (s, subset) =>
        `outbound|${addressing.port(s)}|${subset ?? ""}|${s}.${opts.services.find((x) => x.name === s)?.namespace ?? "default"}.svc.cluster.local`,
      stop,
    };
    return mesh;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A DestinationRule for `host` in namespace default: `policy` is YAML for its trafficPolicy
 * (indented four spaces), `subsets` are subset names selecting the `version` label of the same name.
 */
export function destinationRuleYaml(host: string, opts: { policy?: string; subsets?: readonly string[] }): string {
  const subsets = opts.subsets?.length ? `  subsets:\n${opts.subsets.map((v) => `    - { name: ${v}, labels: { version: ${v} } }`).join("\n")}\n` : "";
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec:
  host: ${host}
${opts.policy ? `  trafficPolicy:\n${opts.policy}\n` : ""}${subsets}`;
}

/**
 * A VirtualService for `host` in namespace default with one route (named `split`) that splits by
 * subset: `weights` maps subset → weight. `uriRegex`: the route also matches the URI by regex.
 */
export function splitVirtualServiceYaml(host: string, weights: Readonly<Record<string, number>>, opts: { name?: string; uriRegex?: string } = {}): string {
  const match = opts.uriRegex ? `\n      match: [{ uri: { regex: ${JSON.stringify(opts.uriRegex)} } }]` : "";
  const routes = Object.entries(weights).map(([subset, w]) => `        - { destination: { host: ${host}, subset: ${subset} }, weight: ${w} }`);
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${opts.name ?? host}, namespace: default }
spec:
  hosts: [${host}]
  http:
    - name: split${match}
      route:
${routes.join("\n")}
`;
}

/** Polls until `check` holds (bounded). */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  await until(check, what, timeoutMs, 50);
}
