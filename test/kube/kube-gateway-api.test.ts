/**
 * Gateway API status through a real kube-apiserver with the release's CRDs (fetched from the Go
 * module proxy by scripts/ensure-gateway-api.mjs) and deploy/'s RBAC (meshpilot runs with its
 * ServiceAccount token): GatewayClass Accepted; Gateway Accepted/Programmed with its address and
 * per-listener conditions and attachedRoutes; a route's parent Accepted/ResolvedRefs, refused with
 * RefNotPermitted across namespaces until a ReferenceGrant allows it; a missing parent and a
 * missing certificate each get their condition while the rest keeps its status. The automated
 * deployment: meshpilot applies the Gateway's Deployment (stock Envoy, router bootstrap) and
 * Service, owned by the Gateway, and the Service's address becomes the Gateway's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/runtime/serve.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { namespace, service } from "../support/kube-mesh.js";
import { serveFromKube } from "../support/kube-server.js";
import { until } from "../support/wait.js";

const GW_NS = "gw-infra";
const APP_NS = "gw-app";
const G = "gateway.networking.k8s.io";

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}
interface AnyStatus {
  conditions?: Cond[];
  addresses?: Array<{ type: string; value: string }>;
  listeners?: Array<{ name: string; attachedRoutes: number; conditions: Cond[] }>;
  parents?: Array<{ parentRef: { name: string }; controllerName: string; conditions: Cond[] }>;
}

const gatewayClass = {
  apiVersion: `${G}/v1`,
  kind: "GatewayClass",
  metadata: { name: "meshpilot" },
  spec: { controllerName: "meshpilot.io/gateway-controller" },
};
const gateway = {
  apiVersion: `${G}/v1`,
  kind: "Gateway",
  metadata: { name: "edge", namespace: GW_NS },
  spec: {
    gatewayClassName: "meshpilot",
    listeners: [
      { name: "http", port: 80, protocol: "HTTP", allowedRoutes: { namespaces: { from: "All" } } },
      { name: "https", port: 443, protocol: "HTTPS", hostname: "secure.example.com", tls: { certificateRefs: [{ name: "no-such-cert" }] } },
    ],
  },
};
// The route lives with the Gateway; its backend is in the app namespace (needs a ReferenceGrant).
const route = {
  apiVersion: `${G}/v1`,
  kind: "HTTPRoute",
  metadata: { name: "bookinfo", namespace: GW_NS },
  spec: {
    parentRefs: [{ name: "edge", sectionName: "http" }],
    hostnames: ["bookinfo.example.com"],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: "/productpage" } }], backendRefs: [{ name: "productpage", namespace: APP_NS, port: 9080 }] }],
  },
};
const orphan = {
  apiVersion: `${G}/v1`,
  kind: "HTTPRoute",
  metadata: { name: "orphan", namespace: APP_NS },
  spec: { parentRefs: [{ name: "gone", namespace: GW_NS }], rules: [{ backendRefs: [{ name: "productpage", port: 9080 }] }] },
};
const grant = {
  apiVersion: `${G}/v1beta1`,
  kind: "ReferenceGrant",
  metadata: { name: "routes-from-infra", namespace: APP_NS },
  spec: { from: [{ group: G, kind: "HTTPRoute", namespace: GW_NS }], to: [{ group: "", kind: "Service" }] },
};

describe.skipIf(kubeTestsSkipped)("Gateway API status with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let server: RunningServer | undefined;
  const lines: string[] = [];
  const logger: Logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });
  const statusOf = async (o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }) =>
    ((await kube.admin.get(o)) as { status?: AnyStatus } | undefined)?.status;
  const cond = (cs: Cond[] | undefined, type: string) => cs?.find((c) => c.type === type);
  const parentConds = async (o: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }) =>
    (await statusOf(o))?.parents?.[0]?.conditions;

  beforeAll(async () => {
    kube = await startKube({ name: "gateway-api" });
    await kube.installCrds();
    await kube.installGatewayApiCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    await kube.admin.apply(namespace(GW_NS));
    await kube.admin.apply(namespace(APP_NS));
    await kube.admin.apply(service(APP_NS, "productpage", 9080));
    for (const o of [gatewayClass, gateway, route, orphan]) await kube.admin.apply(o);
    server = await serveFromKube(kube, { identity: "gateway-api-test", logger, lines });
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await kube?.stop();
  });

  it("accepts the GatewayClass of its controllerName", async () => {
    await until(async () => cond((await statusOf(gatewayClass))?.conditions, "Accepted")?.status === "True", "GatewayClass Accepted", 30_000);
    const c = cond((await statusOf(gatewayClass))?.conditions, "Accepted")!;
    expect(c).toMatchObject({ reason: "Accepted", observedGeneration: 1 });
    expect(c.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("deploys the Gateway: a Deployment of Envoy as a router and a Service, owned by the Gateway", async () => {
    const get = (apiVersion: string, kind: string) => kube.admin.get({ apiVersion, kind, metadata: { name: "edge-meshpilot", namespace: GW_NS } });
    await until(async () => (await get("apps/v1", "Deployment")) !== undefined && (await get("v1", "Service")) !== undefined, "Deployment and Service", 30_000);
    const gw = (await kube.admin.get(gateway)) as unknown as { metadata: { uid: string } };
    const dep = (await get("apps/v1", "Deployment")) as unknown as {
      metadata: { labels: Record<string, string>; ownerReferences: Array<{ kind: string; name: string; uid: string; controller: boolean }> };
      spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ image: string; args: string[] }> } } };
    };
    expect(dep.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Gateway", name: "edge", uid: gw.metadata.uid, controller: true })]);
    expect(dep.spec.template.metadata.labels["gateway.networking.k8s.io/gateway-name"]).toBe("edge");
    const container = dep.spec.template.spec.containers[0]!;
    expect(container.image).toBe("localhost/meshpilot-envoy:local");
    const bootstrap = JSON.parse(container.args[container.args.indexOf("--config-yaml") + 1]!) as { node: { id: string } };
    expect(bootstrap.node.id).toBe("router~$(INSTANCE_IP)~$(POD_NAME).$(POD_NAMESPACE)~$(POD_NAMESPACE).svc.cluster.local");
    const svc = (await get("v1", "Service")) as unknown as { spec: { type: string; ports: Array<{ port: number }> }; metadata: { ownerReferences: unknown[] } };
    expect(svc.spec.type).toBe("LoadBalancer");
    expect(svc.spec.ports.map((p) => p.port)).toEqual([80, 443]);
    expect(svc.metadata.ownerReferences).toHaveLength(1);
  });

  it("writes the Gateway's Accepted, Programmed, address and listener conditions", async () => {
    await until(async () => cond((await statusOf(gateway))?.conditions, "Programmed")?.status === "True", "Gateway Programmed", 30_000);
    const st = (await statusOf(gateway))!;
    const svc = (await kube.admin.get(service(GW_NS, "edge-meshpilot", 80))) as unknown as { spec: { clusterIP: string } };
    expect(st.addresses).toEqual([{ type: "IPAddress", value: svc.spec.clusterIP }]);
    expect(cond(st.conditions, "Accepted")).toMatchObject({ status: "True", reason: "ListenersNotValid" });
    const http = st.listeners!.find((l) => l.name === "http")!;
    const https = st.listeners!.find((l) => l.name === "https")!;
    expect(cond(http.conditions, "Programmed")?.status).toBe("True");
    expect(cond(https.conditions, "ResolvedRefs")).toMatchObject({ status: "False", reason: "InvalidCertificateRef" });
    expect(cond(https.conditions, "Programmed")).toMatchObject({ status: "False", reason: "Invalid" });
    expect(https.attachedRoutes).toBe(0);
  });

  it("refuses a backend across namespaces without a ReferenceGrant, and resolves it with one", async () => {
    await until(async () => cond(await parentConds(route), "ResolvedRefs")?.reason === "RefNotPermitted", "route RefNotPermitted", 30_000);
    const before = (await parentConds(route))!;
    expect(cond(before, "Accepted")).toMatchObject({ status: "True", reason: "Accepted" });
    expect((await statusOf(route))!.parents![0]!.controllerName).toBe("meshpilot.io/gateway-controller");
    await until(async () => (await statusOf(gateway))?.listeners?.find((l) => l.name === "http")?.attachedRoutes === 1, "attachedRoutes 1", 30_000);

    await kube.admin.apply(grant);
    await until(async () => cond(await parentConds(route), "ResolvedRefs")?.status === "True", "route ResolvedRefs after the grant", 30_000);
    expect(cond(await parentConds(route), "ResolvedRefs")?.reason).toBe("ResolvedRefs");
  });

  it("a route whose parent does not exist is not Accepted (NoMatchingParent)", async () => {
    await until(async () => cond(await parentConds(orphan), "Accepted")?.reason === "NoMatchingParent", "orphan NoMatchingParent", 30_000);
    expect(cond(await parentConds(orphan), "Accepted")?.status).toBe("False");
  });
});
