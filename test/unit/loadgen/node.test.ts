import { describe, expect, it } from "vitest";
import { LoadMesh } from "../../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload, semanticVersion, type FleetShape } from "../../../src/loadgen/node.js";
import { parseProxy } from "../../../src/model/proxy.js";

const shape = (mode: FleetShape["mode"], extra: Partial<FleetShape> = {}): FleetShape => ({ mode, namespace: "team-a", name: "lg", groups: 3, ...extra });

describe("load proxies' nodes", () => {
  it("are Istio sidecar nodes: id, cluster and istio-agent's metadata", () => {
    const n = istioNode(proxyWorkload(258, shape("identical")));
    expect(n.id).toBe("sidecar~10.200.1.2~lg-258.team-a~team-a.svc.cluster.local");
    expect(n.cluster).toBe("lg.team-a");
    expect(n.metadata).toMatchObject({
      NAME: "lg-258",
      NAMESPACE: "team-a",
      LABELS: { app: "lg" },
      INSTANCE_IPS: "10.200.1.2",
      CLUSTER_ID: "Kubernetes",
      ISTIO_VERSION: "1.30.0",
      INTERCEPTION_MODE: "REDIRECT",
      WORKLOAD_NAME: "lg",
      OWNER: "kubernetes://apis/apps/v1/namespaces/team-a/deployments/lg",
    });
  });

  it("gives every proxy its own id and IP", () => {
    const ids = new Set(Array.from({ length: 70_000 }, (_, k) => istioNode(proxyWorkload(k, shape("identical"))).id));
    expect(ids.size).toBe(70_000);
  });

  it("label modes: identical alike, distinct all different, groups of K", () => {
    const labels = (mode: FleetShape["mode"]) => Array.from({ length: 9 }, (_, k) => JSON.stringify(proxyWorkload(k, shape(mode)).labels));
    expect(new Set(labels("identical")).size).toBe(1);
    expect(new Set(labels("distinct")).size).toBe(9);
    expect(new Set(labels("groups")).size).toBe(3);
    expect(proxyWorkload(4, shape("distinct")).labels).toEqual({ app: "lg-4", version: "v1", "pod-template-hash": (0x5d8f00 + 4 * 7919).toString(16) });
  });

  it("workloads: each proxy a pod of one of the mesh's services, labelled as its Service selects", () => {
    const mesh = new LoadMesh({ services: 3, variant: "basic" });
    const f = shape("workloads", { workloadOf: (k) => mesh.workloadOf(k) });
    const w = proxyWorkload(4, f); // service 1, its endpoint 1
    const svc = mesh.serviceObjects(1);
    const pod = svc.find((o) => o.kind === "Pod" && o.metadata.name === w.pod) as { metadata: { labels: Record<string, string> }; status: { podIP: string } };
    expect(pod).toBeDefined();
    expect(pod.status.podIP).toBe(w.ip);
    expect(w.labels).toEqual(pod.metadata.labels);
    const selector = (svc.find((o) => o.kind === "Service") as { spec: { selector: Record<string, string> } }).spec.selector;
    for (const [k, v] of Object.entries(selector)) expect(w.labels[k]).toBe(v);
    // Beyond the mesh's pods: more pods of the services, at addresses no endpoint has.
    const extra = proxyWorkload(3 * 10 + 2, f);
    expect(extra.labels["app"]).toBe("svc-2");
    expect(svc.some((o) => o.kind === "Pod" && (o as { status: { podIP: string } }).status.podIP === extra.ip)).toBe(false);
  });

  it("is read by meshpilot as the sidecar it claims to be", () => {
    const n = istioNode(proxyWorkload(7, shape("distinct")));
    const p = parseProxy({ id: n.id, metadata: n.metadata });
    expect(p).toMatchObject({ proxy: { type: "sidecar", namespace: "team-a", ip: "10.200.0.7", podName: "lg-7", labels: { app: "lg-7" } } });
  });

  it("claims an Envoy version only when given one, as Envoy's SemanticVersion; a malformed one is refused by name", () => {
    const w = proxyWorkload(1, shape("identical"));
    expect(istioNode(w).envoyVersion).toBeUndefined();
    expect(istioNode(w, ENVOY_VERSION).envoyVersion).toBe("1.40.0");
    expect(semanticVersion("1.38.2")).toEqual({ majorNumber: 1, minorNumber: 38, patch: 2 });
    expect(() => istioNode(w, "1.40")).toThrow(/envoy version must be major.minor.patch .* got "1.40"/);
  });
});
