// Sidecar resources: Istio's precedence among several, what each egress host form imports, and
// the view key holding a Sidecar's workloadSelector labels (and nothing else of the proxy's).
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView, viewKey } from "../../../src/model/proxy.js";
import { buildProxyScope } from "../../../src/model/scope.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { sidecarFor } from "../../../src/model/sidecar-scope.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const svc = (name: string, ns: string, ip: string, port: number) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { clusterIP: ${ip}, ports: [{ name: http, port: ${port} }] }
---`;
const sidecar = (name: string, ns: string, created: string, spec: string) => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${ns}, creationTimestamp: "${created}" }
spec: ${spec}
---`;
const SERVICES = [
  svc("a", "shop", "10.96.0.1", 80),
  svc("b", "shop", "10.96.0.2", 81),
  svc("c", "lab", "10.96.0.3", 80),
  svc("d", "istio-system", "10.96.0.4", 82),
].join("");

function meshOf(extra: string, rootNamespace?: string): MeshModel {
  const m = buildMesh(meshInputFrom(validObjects(SERVICES + extra)));
  return rootNamespace ? { ...m, meshConfig: { outboundTrafficPolicy: { mode: "ALLOW_ANY" }, rootNamespace } } : m;
}

function scopeOf(m: MeshModel, ns: string, labels: Record<string, string> = {}) {
  const parsed = parseProxy({ id: `sidecar~10.244.0.9~p.${ns}~${ns}.svc.cluster.local`, metadata: { LABELS: labels } });
  if ("error" in parsed) throw new Error(parsed.error);
  return buildProxyScope(m, proxyView(parsed.proxy, selectedLabels(m)));
}
const hosts = (s: ReturnType<typeof scopeOf>) => s.services.map((x) => x.service.hostname.split(".").slice(0, 2).join("."));
const ports = (s: ReturnType<typeof scopeOf>) =>
  s.ports.map((p) => `${p.port}:${[...p.http.map((h) => h.name), ...p.tcp.map((t) => t.service.name)].join(",")}`);

describe("Sidecar scope", () => {
  it("without a Sidecar, a proxy sees every service", () => {
    expect(hosts(scopeOf(meshOf(""), "shop"))).toEqual(["a.shop", "b.shop", "c.lab", "d.istio-system"]);
  });

  it("imports by egress host form: ./*, ns/*, */host, wildcard names, ~/*", () => {
    const of = (h: string) => hosts(scopeOf(meshOf(sidecar("s", "shop", "", `{ egress: [{ hosts: ${JSON.stringify(h.split(" "))} }] }`)), "shop"));
    expect(of("./*")).toEqual(["a.shop", "b.shop"]);
    expect(of("lab/*")).toEqual(["c.lab"]);
    expect(of("*/c.lab.svc.cluster.local")).toEqual(["c.lab"]);
    expect(of("*/*.istio-system.svc.cluster.local ./a.shop.svc.cluster.local")).toEqual(["a.shop", "d.istio-system"]);
    expect(of("~/*")).toEqual([]);
    // A name that is not the service's FQDN imports nothing (Istio matches names as written).
    expect(of("./a")).toEqual([]);
  });

  it("reports a short-name egress host that names no registry host, with the FQDN meant (MP0125)", () => {
    const findings = (h: string, extra = "") =>
      meshOf(extra + sidecar("s", "shop", "", `{ egress: [{ hosts: ${JSON.stringify(h.split(" "))} }] }`))
        .diagnostics.filter((d) => d.code === "MP0125")
        .map((d) => `${d.path} ${d.message.slice(d.message.indexOf(";") + 2)}`);
    expect(findings("./a */c lab/zzz ./*")).toEqual([
      'spec.egress[0].hosts[0] write "./a.shop.svc.cluster.local"',
      'spec.egress[0].hosts[1] write "*/c.lab.svc.cluster.local"',
      'spec.egress[0].hosts[2] no service or ServiceEntry host is named "zzz"',
    ]);
    // A ServiceEntry host written as a short name is a registry host of that literal name: imported, not reported.
    const entry = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: legacy, namespace: shop }
spec: { hosts: [legacy], addresses: [240.0.0.1], resolution: STATIC, endpoints: [{ address: 10.1.0.1 }], ports: [{ number: 7000, name: http, protocol: HTTP }] }
---`;
    expect(findings("./legacy", entry)).toEqual([]);
    expect(hosts(scopeOf(meshOf(entry + sidecar("s", "shop", "", `{ egress: [{ hosts: ["./legacy"] }] }`)), "shop"))).toEqual(["legacy"]);
  });

  it("follows Istio's precedence: workload-selected, then namespace-wide, then the root namespace's", () => {
    const extra =
      sidecar("root", "istio-system", "2026-01-01T00:00:00Z", `{ egress: [{ hosts: ["./*"] }] }`) +
      sidecar("ns", "shop", "2026-01-02T00:00:00Z", `{ egress: [{ hosts: ["lab/*"] }] }`) +
      sidecar("sel", "shop", "2026-01-03T00:00:00Z", `{ workloadSelector: { labels: { app: web } }, egress: [{ hosts: ["istio-system/*"] }] }`) +
      sidecar("sel-newer", "shop", "2026-01-04T00:00:00Z", `{ workloadSelector: { labels: { tier: front } }, egress: [{ hosts: ["./*"] }] }`);
    const m = meshOf(extra);
    expect(hosts(scopeOf(m, "shop", { app: "web", tier: "front" }))).toEqual(["d.istio-system"]);
    expect(hosts(scopeOf(m, "shop", { tier: "front" }))).toEqual(["a.shop", "b.shop"]);
    expect(hosts(scopeOf(m, "shop", { app: "db" }))).toEqual(["c.lab"]);
    // The root namespace's Sidecar: its ./* is the proxy's own namespace.
    expect(hosts(scopeOf(m, "lab"))).toEqual(["c.lab"]);
    expect(scopeOf(m, "lab").sidecar).toEqual({ kind: "Sidecar", namespace: "istio-system", name: "root" });
    // Another root namespace: istio-system's Sidecar is an ordinary namespace's, lab is unscoped.
    expect(hosts(scopeOf(meshOf(extra, "mesh-root"), "lab"))).toEqual(["a.shop", "b.shop", "c.lab", "d.istio-system"]);
    // Workload-selected Sidecars of the root namespace are no default for other namespaces.
    expect(
      sidecarFor(
        m.sidecars!.filter((s) => s.name === "sel"),
        "lab",
        { app: "web" },
        "shop",
      ),
    ).toBeUndefined();
  });

  it("egress.port locks a port to its hosts; the catch-all governs the others", () => {
    const m = meshOf(sidecar("s", "shop", "", `{ egress: [{ port: { number: 80, protocol: HTTP }, hosts: ["lab/*"] }, { hosts: ["./*"] }] }`));
    const s = scopeOf(m, "shop");
    expect(ports(s)).toEqual(["80:c", "81:b"]);
    expect(hosts(s)).toEqual(["a.shop", "b.shop", "c.lab"]);
    // Without a catch-all only the listed ports exist.
    const only = scopeOf(meshOf(sidecar("s", "shop", "", `{ egress: [{ port: { number: 82, protocol: HTTP }, hosts: ["*/*"] }] }`)), "shop");
    expect(ports(only)).toEqual(["82:d"]);
  });

  it("captureMode NONE binds the egress port to a real socket", () => {
    const s = scopeOf(
      meshOf(sidecar("s", "shop", "", `{ egress: [{ port: { number: 80, protocol: HTTP }, captureMode: NONE, hosts: ["./*"] }, { hosts: ["./*"] }] }`)),
      "shop",
    );
    expect(s.ports.map((p) => [p.port, p.bound])).toEqual([
      [80, "127.0.0.1"],
      [81, undefined],
    ]);
  });

  it("the Sidecar's outboundTrafficPolicy overrides the mesh's; an empty one means REGISTRY_ONLY", () => {
    expect(scopeOf(meshOf(sidecar("s", "shop", "", `{ outboundTrafficPolicy: {} }`)), "shop").outboundTrafficPolicy).toBe("REGISTRY_ONLY");
    expect(scopeOf(meshOf(sidecar("s", "shop", "", `{ outboundTrafficPolicy: { mode: ALLOW_ANY } }`)), "lab").outboundTrafficPolicy).toBe("ALLOW_ANY");
  });

  it("the view key holds the labels Sidecar selectors read, and only those", () => {
    const m = meshOf(sidecar("sel", "shop", "", `{ workloadSelector: { labels: { app: web } }, egress: [{ hosts: ["./*"] }] }`));
    const key = (labels: Record<string, string>) => {
      const parsed = parseProxy({ id: "sidecar~10.0.0.1~p.shop~shop.svc.cluster.local", metadata: { LABELS: labels } });
      if ("error" in parsed) throw new Error(parsed.error);
      return viewKey(proxyView(parsed.proxy, selectedLabels(m)));
    };
    expect(key({ app: "web", hash: "1" })).toBe(key({ app: "web", hash: "2" }));
    expect(key({ app: "web" })).not.toBe(key({ app: "db" }));
    expect(key({ app: "db" })).toBe(key({ app: "api" }));
  });
});

describe("Sidecar conflicts", () => {
  it("reports two workload-selecting Sidecars that select one pod (IST0110) and two selector-less ones (IST0111)", () => {
    const pod = `
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: shop, labels: { app: web, tier: front } }
status: { phase: Running, podIP: 10.244.0.5 }
---`;
    const m = meshOf(
      pod +
        sidecar("by-app", "shop", "2026-01-01T00:00:00Z", `{ workloadSelector: { labels: { app: web } }, egress: [{ hosts: ["./*"] }] }`) +
        sidecar("by-tier", "shop", "2026-01-02T00:00:00Z", `{ workloadSelector: { labels: { tier: front } }, egress: [{ hosts: ["./*"] }] }`) +
        sidecar("other", "shop", "2026-01-03T00:00:00Z", `{ workloadSelector: { labels: { tier: back } }, egress: [{ hosts: ["./*"] }] }`) +
        sidecar("a", "lab", "2026-01-01T00:00:00Z", `{ egress: [{ hosts: ["./*"] }] }`) +
        sidecar("b", "lab", "2026-01-02T00:00:00Z", `{ egress: [{ hosts: ["./*"] }] }`),
    );
    expect(m.diagnostics.filter((d) => d.code.startsWith("IST01")).map((d) => `${d.code} ${d.object?.namespace}/${d.object?.name}`)).toEqual([
      "IST0111 lab/b",
      "IST0110 shop/by-tier",
    ]);
  });
});

describe("Sidecar parts not translated yet", () => {
  it("are reported per field, never ignored silently", () => {
    const m = meshOf(
      sidecar(
        "s",
        "shop",
        "",
        `{ ingress: [{ port: { number: 9000, protocol: HTTP } }, { port: { number: 9443, protocol: HTTPS }, tls: { mode: SIMPLE, serverCertificate: /c, privateKey: /k } }], inboundConnectionPool: { tcp: { maxConnections: 5 } }, outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: { host: egress.example.com, port: { number: 443 } } }, egress: [{ port: { number: 80, protocol: HTTP }, bind: 10.0.0.1, hosts: ["./*"] }, { port: { number: 0, protocol: HTTP }, bind: "unix:///s", hosts: ["./*"] }, { hosts: ["./*"] }] }`,
      ),
    );
    expect(m.diagnostics.filter((d) => d.code === "MP0010").map((d) => d.path)).toEqual(["spec.ingress[1].tls", "spec.egress[0].bind", "spec.egress[1].bind"]);
  });
});

describe("Sidecar outboundTrafficPolicy.egressProxy", () => {
  const egress = (proxy: string, extra = "") =>
    meshOf(
      svc("egress", "istio-system", "10.96.0.9", 80) +
        extra +
        sidecar("s", "shop", "", `{ egress: [{ hosts: ["./*", "istio-system/*"] }], outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: ${proxy} } }`),
    );
  it("names the cluster Istio routes unknown traffic to, port and subset included", () => {
    const m = egress("{ host: egress.istio-system.svc.cluster.local, subset: v1, port: { number: 80 } }");
    expect(scopeOf(m, "shop").egressProxyCluster).toBe("outbound|80|v1|egress.istio-system.svc.cluster.local");
    expect(m.diagnostics.filter((d) => d.code === "MP0010")).toEqual([]);
    // Other namespaces are not governed by this Sidecar: their unknown traffic passes through.
    expect(scopeOf(m, "lab").egressProxyCluster).toBeUndefined();
  });
  it("is reported when the proxy has no such cluster (MP0126), and unknown traffic then fails as in Istio", () => {
    const m = egress("{ host: egress.elsewhere.svc.cluster.local, port: { number: 80 } }");
    const parsed = parseProxy({ id: "sidecar~10.244.0.9~p.shop~shop.svc.cluster.local" });
    if ("error" in parsed) throw new Error(parsed.error);
    const out = translateProxy(m, proxyView(parsed.proxy, selectedLabels(m)));
    expect(out.diagnostics.filter((d) => d.code === "MP0126").map((d) => d.path)).toEqual(["spec.outboundTrafficPolicy.egressProxy"]);
  });
});
