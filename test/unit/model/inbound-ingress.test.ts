// A sidecar's inbound ports from a Sidecar's ingress listeners (replacing the Services'), its
// inbound connection pools, and named Service targetPorts resolved against the pod's container
// ports; each checked against values written by hand.
import { describe, expect, it } from "vitest";
import { buildMesh, buildMeshState, rebuildEndpoints } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView, viewKey } from "../../../src/model/proxy.js";
import { buildProxyScope } from "../../../src/model/scope.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop }
spec: { clusterIP: 10.96.0.1, selector: { app: api }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: tcp-x, port: 9443 }] }
---`;
const sidecar = (spec: string) => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: api-sc, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z" }
spec: ${spec}
---`;

function proxyOf(mesh: MeshModel, labels: Record<string, string>, mode = "REDIRECT") {
  const parsed = parseProxy({ id: "sidecar~10.244.0.7~api-1.shop~shop.svc.cluster.local", metadata: { LABELS: labels, INTERCEPTION_MODE: mode } });
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(mesh));
}

function inboundOf(yaml: string, mode = "REDIRECT", labels: Record<string, string> = { app: "api" }) {
  const mesh = buildMesh(meshInputFrom(validObjects(yaml)));
  return buildProxyScope(mesh, proxyOf(mesh, labels, mode)).inbound;
}

describe("Sidecar ingress listeners", () => {
  const INGRESS = sidecar(`{ workloadSelector: { labels: { app: api } }, inboundConnectionPool: { tcp: { maxConnections: 9 } }, ingress: [
    { port: { number: 9080, protocol: HTTP, name: http }, defaultEndpoint: "127.0.0.1:8080", connectionPool: { http: { maxRetries: 1 } } },
    { port: { number: 9443, protocol: TCP, name: tcp }, defaultEndpoint: "0.0.0.0:8443" },
    { port: { number: 7070, protocol: GRPC, name: grpc }, captureMode: NONE, bind: 127.0.0.1, defaultEndpoint: "unix:///run/app.sock" },
    { port: { number: 6060, protocol: HTTP, name: h }, defaultEndpoint: "[::1]:6061" },
    { port: { number: 5050, protocol: TCP, name: t }, captureMode: IPTABLES } ] }`);

  it("replace every port the Services give, each endpoint form read as Istio reads it", () => {
    const { ports } = inboundOf(SERVICE + INGRESS);
    expect(ports.map((p) => [p.targetPort, p.protocol, p.endpoint, p.bound ?? false, p.bind ?? "", p.service.name])).toEqual([
      [5050, "TCP", { kind: "original" }, false, "", "api-sc"],
      [6060, "HTTP", { kind: "loopback", address: "127.0.0.1", port: 6061 }, false, "", "api-sc"],
      [7070, "GRPC", { kind: "unix", path: "/run/app.sock" }, true, "127.0.0.1", "api-sc"],
      [9080, "HTTP", { kind: "loopback", address: "127.0.0.1", port: 8080 }, false, "", "api-sc"],
      // A Service targeting the port (api's 9443) owns it, as Istio's findOrCreateService.
      [9443, "TCP", { kind: "pod", port: 8443 }, false, "", "api"],
    ]);
  });

  it("take the listener's connection pool, else the Sidecar's inboundConnectionPool", () => {
    const { ports } = inboundOf(SERVICE + INGRESS);
    expect(ports.find((p) => p.targetPort === 9080)?.connectionPool).toEqual({ http: { maxRetries: 1 } });
    expect(ports.find((p) => p.targetPort === 9443)?.connectionPool).toEqual({ tcp: { maxConnections: 9 } });
  });

  it("on a proxy without capture: DEFAULT binds, IPTABLES is reported and left out", () => {
    const { ports, diagnostics } = inboundOf(SERVICE + INGRESS, "NONE");
    expect(ports.map((p) => [p.targetPort, p.bound ?? false])).toEqual([
      [6060, true],
      [7070, true],
      [9080, true],
      [9443, true],
    ]);
    expect(diagnostics.map((d) => `${d.code} ${d.path}`)).toEqual(["MP0122 spec.ingress[4].captureMode"]);
  });

  it("give a proxy without capture bound listeners and no virtualInbound", () => {
    const mesh = buildMesh(meshInputFrom(validObjects(SERVICE + INGRESS)));
    const r = translateProxy(mesh, proxyOf(mesh, { app: "api" }, "NONE"));
    const inbound = r.listeners.filter((l) => l.trafficDirection === "INBOUND");
    expect(inbound.map((l) => [l.name, l.address?.socketAddress?.address, l.address?.socketAddress?.portValue])).toEqual([
      ["0.0.0.0_6060", "0.0.0.0", 6060],
      ["0.0.0.0_9080", "0.0.0.0", 9080],
      ["0.0.0.0_9443", "0.0.0.0", 9443],
      ["127.0.0.1_7070", "127.0.0.1", 7070],
    ]);
    expect(r.clusters.map((c) => c.name).filter((n) => n!.startsWith("inbound") || n === "InboundPassthroughCluster")).toEqual([
      "inbound|6060||",
      "inbound|7070||",
      "inbound|9080||",
      "inbound|9443||",
    ]);
  });

  it("a bound ingress port takes its name from the outbound listener of the same port, reported", () => {
    const mesh = buildMesh(
      meshInputFrom(validObjects(SERVICE + sidecar(`{ ingress: [{ port: { number: 80, protocol: HTTP, name: h }, captureMode: NONE }] }`))),
    );
    const r = translateProxy(mesh, proxyOf(mesh, { app: "api" }));
    expect(r.listeners.filter((l) => l.name === "0.0.0.0_80").map((l) => l.trafficDirection)).toEqual(["INBOUND"]);
    expect(r.diagnostics.filter((d) => d.code === "MP0123").length).toBe(1);
  });

  it("without ingress, the Sidecar's inboundConnectionPool applies to the Services' ports", () => {
    const { ports } = inboundOf(SERVICE + sidecar(`{ inboundConnectionPool: { http: { http2MaxRequests: 4 } } }`));
    expect(ports.map((p) => [p.targetPort, p.connectionPool])).toEqual([
      [8080, { http: { http2MaxRequests: 4 } }],
      [9443, { http: { http2MaxRequests: 4 } }],
    ]);
  });

  it("a Sidecar's connection pool sets the inbound cluster's limits", () => {
    const mesh = buildMesh(meshInputFrom(validObjects(SERVICE + sidecar(`{ inboundConnectionPool: { tcp: { maxConnections: 3, connectTimeout: 1.5s } } }`))));
    const c = translateProxy(mesh, proxyOf(mesh, { app: "api" })).clusters.find((x) => x.name === "inbound|8080||")!;
    expect(c.connectTimeout).toBe("1.500s");
    expect(c.circuitBreakers?.thresholds?.[0]?.maxConnections).toBe(3);
  });
});

const NAMED = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.2, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: web }] }
---`;
const pod = (name: string, version: string, port: number) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: { app: web, version: ${version}, pod-template-hash: ${name} } }
spec: { containers: [{ name: app, ports: [{ name: web, containerPort: ${port} }] }] }
status: { podIP: 10.244.0.${port % 200} }
---`;

describe("named targetPorts", () => {
  it("resolve against the container ports of the proxy's pods", () => {
    const ports = (labels: Record<string, string>) => inboundOf(NAMED + pod("a", "v1", 8080), "REDIRECT", labels).ports.map((p) => p.targetPort);
    expect(ports({ app: "web", version: "v1" })).toEqual([8080]);
  });

  it("split views where pods of one Service resolve a name differently", () => {
    const mesh = buildMesh(meshInputFrom(validObjects(NAMED + pod("a", "v1", 8080) + pod("b", "v2", 9090))));
    const v1 = proxyOf(mesh, { app: "web", version: "v1", "pod-template-hash": "a" });
    const v2 = proxyOf(mesh, { app: "web", version: "v2", "pod-template-hash": "b" });
    expect(viewKey(v1)).not.toBe(viewKey(v2));
    expect(buildProxyScope(mesh, v1).inbound.ports.map((p) => p.targetPort)).toEqual([8080]);
    expect(buildProxyScope(mesh, v2).inbound.ports.map((p) => p.targetPort)).toEqual([9090]);
  });

  it("are reported when no container declares the name", () => {
    const { ports, diagnostics } = inboundOf(NAMED, "REDIRECT", { app: "web" });
    expect(ports).toEqual([]);
    expect(diagnostics.map((d) => d.code)).toEqual(["MP0121"]);
  });

  it("make an endpoint-only rebuild translate views again when a pod's named port changes", () => {
    const before = buildMeshState(meshInputFrom(validObjects(NAMED + pod("a", "v1", 8080))));
    const same = rebuildEndpoints(before, meshInputFrom(validObjects(NAMED + pod("a", "v1", 8080))));
    expect(same.changedHosts).toBeDefined();
    const moved = rebuildEndpoints(before, meshInputFrom(validObjects(NAMED + pod("a", "v1", 8081))));
    expect(moved.changedHosts).toBeUndefined();
    expect(moved.mesh.podPorts?.[0]?.ports).toEqual({ web: 8081 });
  });
});
