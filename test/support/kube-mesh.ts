/**
 * The reviews canary as Kubernetes objects for the real-apiserver tests: a namespace, Services,
 * Pods (status written through the status subresource, as a kubelet would), EndpointSlices (as
 * the EndpointSlice controller would), a DestinationRule and a VirtualService. Each test file
 * gets its own namespace, service port and network namespace for the pod addresses.
 */
import type net from "node:net";
import type { KubeTestClient } from "./kube.js";
import { canBind, randomInt } from "./net.js";
import { NetNs } from "./netns.js";

export interface KubeMeshAddresses {
  readonly port: number;
  readonly productpageIp: string;
  readonly v1Ip: string;
  readonly v2Ip: string;
  readonly v3Ip: string;
}

/**
 * The test "pods": EndpointSlices refuse loopback addresses (127.0.0.0/8), so pods get addresses
 * from 10.253.0.0/16 on the loopback of a network namespace the test creates (never the host's).
 * Backends serve sockets made inside it, Envoys run inside it, and the test process reaches in
 * and out through scripts/netns-bridge.mjs.
 */
export interface KubeMeshNet extends KubeMeshAddresses {
  readonly netns: NetNs;
  /** A server listening at ip:`port` inside the namespace, for a backend's `listening`. */
  listen(ip: string): Promise<net.Server>;
  /** Makes 127.0.0.1:`port` on the host (meshpilot's xDS) answer at the same address inside; returns that address. */
  hostAddress(port: number): Promise<string>;
  /** Deletes the namespace with everything in it and its bridges. */
  release(): Promise<void>;
}

const POD_PREFIX = "10.253.0.1";

/**
 * A namespace with the pod addresses 10.253.0.10–13 and a service port below the ephemeral range.
 * An Envoy inside listens on 127.0.0.1:port (interception NONE); the same port on the host's
 * loopback is bridged to it, so the test asks `http://127.0.0.1:port/` as if it were the app.
 */
export async function pickAddresses(): Promise<KubeMeshNet> {
  const netns = NetNs.create("mp-kube");
  try {
    const ips = { productpageIp: `${POD_PREFIX}0`, v1Ip: `${POD_PREFIX}1`, v2Ip: `${POD_PREFIX}2`, v3Ip: `${POD_PREFIX}3` };
    for (const ip of Object.values(ips)) netns.addAddress(ip);
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = randomInt(20_000, 32_000);
      if (!(await canBind("127.0.0.1", port))) continue;
      const bridged = await netns.bridge({ forward: [{ host: "127.0.0.1", port, listenPort: port }] }).catch((err: Error) => void (lastError = err));
      if (!bridged) continue; // taken meanwhile, most likely
      const toHost = new Map<number, Promise<string>>();
      return {
        ...ips,
        port,
        netns,
        listen: (ip) => netns.listen(ip, port),
        hostAddress: (hostPort) => {
          let address = toHost.get(hostPort);
          if (!address) {
            address = netns
              .bridge({ reverse: [{ host: "127.0.0.1", port: hostPort, to: hostPort }] })
              .then((b) => `${b.reverse[0]!.host}:${b.reverse[0]!.port}`);
            toHost.set(hostPort, address);
          }
          return address;
        },
        release: () => netns.delete(),
      };
    }
    throw new Error(`no free service port found in 50 attempts${lastError ? ` (last bridge error: ${lastError.message})` : ""}`);
  } catch (err) {
    await netns.delete();
    throw err;
  }
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

export function namespace(name: string, labels: Record<string, string> = {}): Obj {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

export function service(ns: string, name: string, port: number): Obj {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { selector: { app: name }, ports: [{ name: "http", port, targetPort: port, protocol: "TCP" }] },
  };
}

export function pod(ns: string, name: string, labels: Record<string, string>, port: number): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: labels["app"] ?? "app", image: "example/placeholder:v1", ports: [{ containerPort: port }] }] },
  };
}

export function podStatus(ip: string, ready = true): object {
  return {
    phase: "Running",
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [
      { type: "Ready", status: ready ? "True" : "False", lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
    ],
  };
}

export function endpointSlice(
  ns: string,
  name: string,
  serviceName: string,
  port: number,
  endpoints: Array<{ ip: string; pod: string; ready?: boolean }>,
): Obj {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, targetRef: { kind: "Pod", name: e.pod, namespace: ns } })),
    ports: [{ name: "http", port, protocol: "TCP" }],
  };
}

export function destinationRule(ns: string, subsets: string[], apiVersion = "networking.istio.io/v1beta1"): Obj {
  return {
    apiVersion,
    kind: "DestinationRule",
    metadata: { name: "reviews", namespace: ns },
    spec: { host: "reviews", subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
  };
}

/** `x-canary: <header>` → that subset; everything else → `fallback` subset. */
export function virtualService(ns: string, header: string, fallback: string, apiVersion = "networking.istio.io/v1alpha3"): Obj {
  return canaryVirtualService(ns, header, [{ destination: { host: "reviews", subset: fallback } }], apiVersion);
}

/** `x-canary: <header>` → that subset; everything else split over subsets by `weights`. */
export function weightedVirtualService(ns: string, header: string, weights: Readonly<Record<string, number>>): Obj {
  const route = Object.entries(weights).map(([subset, weight]) => ({ destination: { host: "reviews", subset }, weight }));
  return canaryVirtualService(ns, header, route, "networking.istio.io/v1");
}

function canaryVirtualService(ns: string, header: string, defaultRoute: object[], apiVersion: string): Obj {
  return {
    apiVersion,
    kind: "VirtualService",
    metadata: { name: "reviews", namespace: ns },
    spec: {
      hosts: ["reviews"],
      http: [
        { name: "canary", match: [{ headers: { "x-canary": { exact: header } } }], route: [{ destination: { host: "reviews", subset: header } }] },
        { name: "default", route: defaultRoute },
      ],
    },
  };
}

/** A Service `name` with one ready Pod `<name>-<version>` at `ip` and its EndpointSlice `<name>-x1`, created through the API. */
export async function createServiceWithPod(c: KubeTestClient, ns: string, name: string, version: string, ip: string, port: number): Promise<void> {
  const p = pod(ns, `${name}-${version}`, { app: name, version }, port);
  await c.apply(service(ns, name, port));
  await c.apply(p);
  await c.patchStatus(p, podStatus(ip));
  await c.apply(endpointSlice(ns, `${name}-x1`, name, port, [{ ip, pod: p.metadata.name }]));
}

/** Deletes what createServiceWithPod made. */
export async function deleteServiceWithPod(c: KubeTestClient, ns: string, name: string, version: string): Promise<void> {
  await c.delete({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns } });
  await c.delete({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: `${name}-x1`, namespace: ns } });
  await c.delete({ apiVersion: "v1", kind: "Pod", metadata: { name: `${name}-${version}`, namespace: ns } });
}

export const PRODUCTPAGE_POD = "productpage-v1";

/** Creates the whole canary through the API, Pod status included. */
export async function createCanary(c: KubeTestClient, ns: string, a: KubeMeshAddresses, nsLabels: Record<string, string> = {}): Promise<void> {
  await c.apply(namespace(ns, nsLabels));
  await c.apply(service(ns, "reviews", a.port));
  await c.apply(service(ns, "productpage", a.port));
  const pods: Array<[string, Record<string, string>, string]> = [
    [PRODUCTPAGE_POD, { app: "productpage", version: "v1" }, a.productpageIp],
    ["reviews-v1", { app: "reviews", version: "v1" }, a.v1Ip],
    ["reviews-v2", { app: "reviews", version: "v2" }, a.v2Ip],
  ];
  for (const [name, labels, ip] of pods) {
    const p = pod(ns, name, labels, a.port);
    await c.apply(p);
    await c.patchStatus(p, podStatus(ip));
  }
  await c.apply(endpointSlice(ns, "productpage-x1", "productpage", a.port, [{ ip: a.productpageIp, pod: PRODUCTPAGE_POD }]));
  await c.apply(
    endpointSlice(ns, "reviews-x1", "reviews", a.port, [
      { ip: a.v1Ip, pod: "reviews-v1" },
      { ip: a.v2Ip, pod: "reviews-v2" },
    ]),
  );
  await c.apply(destinationRule(ns, ["v1", "v2"]));
  await c.apply(virtualService(ns, "v2", "v1"));
}

/** What a real-apiserver test with Envoy starts, stopped in order: Envoy, meshpilot, backends, the cluster; then its network namespace goes. */
export async function stopKubeMesh(parts: {
  readonly envoy?: { stop(): Promise<void> } | undefined;
  readonly server?: { stop(): Promise<void> } | undefined;
  readonly backends: readonly { close(): Promise<void> }[];
  readonly kube?: { stop(): Promise<void> } | undefined;
  readonly addresses?: { release(): Promise<void> } | undefined;
}): Promise<void> {
  await parts.envoy?.stop();
  await parts.server?.stop();
  for (const b of parts.backends) await b.close();
  await parts.kube?.stop();
  await parts.addresses?.release();
}
