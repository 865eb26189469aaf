/**
 * meshpilot against a real kube-apiserver + etcd, with a real Envoy: objects created, changed and
 * deleted through the API change what Envoy routes; nothing is served before the informers have
 * synced; the API server going away and coming back loses nothing; a forced relist converges to
 * the same state; a Pod status heartbeat changes nothing; meshpilot runs with the ServiceAccount
 * and RBAC of deploy/ (and is refused anything else); every manifest in deploy/ passes a
 * server-side dry-run apply.
 *
 * The tests in this file share one API server and run in order.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { KubeClient } from "../../src/sources/kube/client.js";
import { KubeSource } from "../../src/sources/kube/kube-source.js";
import { Store } from "../../src/store/store.js";
import { httpRequest, startBackend, tally, type Backend } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { DEPLOY_DIR, kubeTestsSkipped, loadManifests, startKube, startTcpProxy, type KubeCluster, type KubeTestClient } from "../support/kube.js";
import {
  createCanary,
  destinationRule,
  endpointSlice,
  pickAddresses,
  pod,
  podStatus,
  PRODUCTPAGE_POD,
  stopKubeMesh,
  virtualService,
  type KubeMeshNet,
} from "../support/kube-mesh.js";
import { sleep, until } from "../support/wait.js";

const NS = "shop";

describe.skipIf(kubeTestsSkipped)("meshpilot with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let admin: KubeTestClient;
  let saToken: string;
  let a: KubeMeshNet;
  let server: RunningServer | undefined;
  let envoy: Envoy | undefined;
  const backends: Backend[] = [];
  const lines: string[] = [];
  const latencies: Array<{ what: string; ms: number; pollMs?: number }> = [];
  const logger: Logger = pino({ level: "debug", base: { app: "meshpilot" } }, { write: (s: string) => void lines.push(s) });
  const url = () => `http://127.0.0.1:${a.port}/`;
  const ask = (headers: Record<string, string> = {}) => httpRequest(url(), { host: "reviews", headers, timeoutMs: 3000 });
  const versionOf = async (headers: Record<string, string> = {}) => (await ask(headers)).headers["x-backend-version"] ?? "none";

  beforeAll(async () => {
    kube = await startKube({ name: "routing" });
    admin = kube.admin;
    await kube.installCrds();
    await admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    saToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    a = await pickAddresses();
    await createCanary(admin, NS, a);
    for (const [version, host] of [
      ["v1", a.v1Ip],
      ["v2", a.v2Ip],
      ["v3", a.v3Ip],
    ] as const) {
      backends.push(await startBackend({ version, host, port: a.port, listening: await a.listen(host) }));
    }
  }, 1_800_000); // a cold build of the binaries takes ~10 min on 2 cores

  afterAll(async () => {
    await stopKubeMesh({ envoy, server, backends, kube, addresses: a });
  });

  it("every manifest in deploy/ (and deploy/kind/) passes a server-side dry-run apply", async () => {
    const files = [
      ...readdirSync(DEPLOY_DIR).filter((f) => f.endsWith(".yaml")),
      ...readdirSync(join(DEPLOY_DIR, "kind"))
        .filter((f) => f.endsWith(".yaml") && f !== "kind-config.yaml") // kind's own config, not a Kubernetes object
        .map((f) => join("kind", f)),
    ];
    expect(files).toEqual(expect.arrayContaining(["crds.yaml", "meshpilot.yaml", join("kind", "demo.yaml")]));
    const objects = files.flatMap((f) => loadManifests(readFileSync(join(DEPLOY_DIR, f), "utf8")).map((o) => ({ f, o })));
    // A dry run creates nothing, so objects in a new namespace need that namespace for real.
    for (const { o } of objects) if (o.kind === "Namespace") await admin.apply(o);
    for (const { f, o } of objects) {
      const out = await admin.apply(o, { dryRun: true }).catch((err: Error) => {
        throw new Error(`${f}: ${o.kind} ${o.metadata.name}: ${err.message}`);
      });
      expect(out.kind).toBe(o.kind);
    }
    expect(objects.length).toBeGreaterThanOrEqual(20);
  });

  it("the ServiceAccount token of deploy/ may read what meshpilot watches and nothing else", async () => {
    const sa = kube.client(saToken);
    for (const path of [
      "/api/v1/services",
      "/api/v1/pods",
      "/api/v1/namespaces",
      "/api/v1/secrets",
      "/apis/discovery.k8s.io/v1/endpointslices",
      "/apis/networking.istio.io/v1/virtualservices",
      "/apis/networking.istio.io/v1/destinationrules",
    ]) {
      expect((await sa.request("GET", `${path}?limit=1`)).status, path).toBe(200);
    }
    // outside the role: writing Secrets (read only, like istiod), specs, leases in another namespace
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "not-allowed", namespace: NS }, stringData: { x: "y" } };
    expect((await sa.request("POST", `/api/v1/namespaces/${NS}/secrets`, secret)).status).toBe(403);
    expect((await sa.request("GET", "/api/v1/configmaps?limit=1")).status).toBe(403);
    const vs = virtualService(NS, "v2", "v2");
    expect(
      (
        await sa.request("PATCH", `/apis/networking.istio.io/v1alpha3/namespaces/${NS}/virtualservices/reviews?fieldManager=x`, vs, {
          contentType: "application/apply-patch+yaml",
        })
      ).status,
    ).toBe(403);
    expect((await sa.request("DELETE", `/api/v1/namespaces/${NS}/pods/reviews-v1`)).status).toBe(403);
    expect((await sa.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?limit=1")).status).toBe(403);
  });

  it("serves nothing before the informers have synced, then routes by the cluster's config", async () => {
    // The API server is down when meshpilot and Envoy start: Envoy must wait, not get an empty config.
    await kube.stopApiserver();
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      kube: { kubeConfig: kube.kubeConfig(saToken, "meshpilot"), leaseNamespace: "meshpilot-system", backoffMaxMs: 1000, watchTimeoutSeconds: 60 },
    });
    envoy = await startSidecarEnvoy("kube-routing", {
      nodeId: `sidecar~${a.productpageIp}~${PRODUCTPAGE_POD}.${NS}~${NS}.svc.cluster.local`,
      xdsAddress: await a.hostAddress(server.xdsPort),
      netns: a.netns,
      labels: { app: "productpage", version: "v1" },
      sotw: false,
      waitReady: false,
    });
    await sleep(1500);
    const ready = await fetch(`http://127.0.0.1:${server.debugPort}/ready`);
    expect(ready.status).toBe(503);
    const dump = await envoy.configDump("dynamic_listeners");
    expect(JSON.stringify(dump)).not.toContain(`"port_value":${a.port}`);
    expect(server.controlPlane.ready).toBe(false);

    await kube.startApiserver();
    await until(async () => (await fetch(`http://127.0.0.1:${server!.debugPort}/ready`)).status === 200, "/ready", 30_000);
    await envoy.waitReady(20_000);
    await until(async () => (await versionOf()) === "v1", "default route to v1");
    expect(await versionOf({ "x-canary": "v2" })).toBe("v2");
    const counts = await tally(url(), 40, { host: "reviews", concurrency: 4, timeoutMs: 3000 });
    expect(counts).toEqual({ v1: 40 });
  });

  it("a VirtualService change through the API changes the route (any served apiVersion)", async () => {
    const t0 = performance.now();
    await admin.apply(virtualService(NS, "v1", "v2", "networking.istio.io/v1"));
    const ms = await until(async () => (await versionOf()) === "v2", "default route to v2");
    expect(await versionOf({ "x-canary": "v1" })).toBe("v1");
    latencies.push({ what: "VirtualService update", ms: performance.now() - t0, pollMs: ms });
  });

  it("DestinationRule, Pod, EndpointSlice and Service changes through the API reach Envoy", async () => {
    // a new pod v3 with its endpoint and subset; the VS routes x-canary: v3 to it
    const p3 = pod(NS, "reviews-v3", { app: "reviews", version: "v3" }, a.port);
    await admin.apply(p3);
    await admin.patchStatus(p3, podStatus(a.v3Ip));
    await admin.apply(destinationRule(NS, ["v1", "v2", "v3"], "networking.istio.io/v1"));
    await admin.apply(virtualService(NS, "v3", "v2"));
    await admin.apply(endpointSlice(NS, "reviews-x2", "reviews", a.port, [{ ip: a.v3Ip, pod: "reviews-v3" }]));
    await until(async () => (await versionOf({ "x-canary": "v3" })) === "v3", "x-canary: v3 to reach v3");

    // EndpointSlice: v3 not ready → no healthy upstream for subset v3 (EDS fast path)
    const t0 = performance.now();
    await admin.apply(endpointSlice(NS, "reviews-x2", "reviews", a.port, [{ ip: a.v3Ip, pod: "reviews-v3", ready: false }]));
    await until(async () => (await ask({ "x-canary": "v3" })).status === 503, "v3 endpoint to go away");
    latencies.push({ what: "EndpointSlice update", ms: performance.now() - t0 });
    await admin.apply(endpointSlice(NS, "reviews-x2", "reviews", a.port, [{ ip: a.v3Ip, pod: "reviews-v3" }]));
    await until(async () => (await versionOf({ "x-canary": "v3" })) === "v3", "v3 endpoint back");

    // Pod labels: reviews-v3 relabelled version=v2 → it joins subset v2 and leaves v3
    await admin.apply({ ...p3, metadata: { ...p3.metadata, labels: { app: "reviews", version: "v2" } } });
    await until(async () => (await ask({ "x-canary": "v3" })).status === 503, "subset v3 to be empty after the relabel");
    await until(async () => (await tally(url(), 40, { host: "reviews", concurrency: 4, timeoutMs: 3000 }))["v3"] !== undefined, "v3 pod to serve subset v2");

    // EndpointSlice deleted → its endpoints go
    await admin.delete({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: "reviews-x2", namespace: NS } });
    await until(async () => {
      const c = await tally(url(), 30, { host: "reviews", concurrency: 4, timeoutMs: 3000 });
      return c["v3"] === undefined && c["v2"] === 30;
    }, "the deleted slice's endpoint to leave");

    // Service deleted → Envoy's listener for the port goes away (nothing else uses it)
    await admin.delete({ apiVersion: "v1", kind: "Service", metadata: { name: "reviews", namespace: NS } });
    await until(
      async () => (await ask().catch(() => ({ status: 0, headers: {} as Record<string, string> }))).headers["x-backend-version"] === undefined,
      "reviews to stop routing",
    );
    await admin.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "reviews", namespace: NS, labels: { app: "reviews" } },
      spec: { selector: { app: "reviews" }, ports: [{ name: "http", port: a.port, targetPort: a.port, protocol: "TCP" }] },
    });
    await until(async () => (await versionOf()) === "v2", "reviews back after re-creating the Service");

    // VirtualService deleted → default routing over all reviews endpoints (v1 and v2)
    await admin.delete({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews", namespace: NS } });
    await until(async () => {
      const c = await tally(url(), 60, { host: "reviews", concurrency: 4, timeoutMs: 3000 });
      return (c["v1"] ?? 0) > 0 && (c["v2"] ?? 0) > 0;
    }, "round robin over v1 and v2 without the VirtualService");
    await admin.apply(virtualService(NS, "v2", "v1"));
    await until(async () => (await versionOf()) === "v1", "VirtualService back");
  });

  it("a Pod status change that alters neither IP, labels nor readiness causes no change", async () => {
    await sleep(500);
    const rev = server!.kube!.objects().length;
    const builds: number[] = [];
    const off = server!.controlPlane.onBuild(() => builds.push(1));
    const p = pod(NS, "reviews-v1", { app: "reviews", version: "v1" }, a.port);
    for (let i = 0; i < 3; i++) {
      await admin.patchStatus(p, {
        ...podStatus(a.v1Ip),
        conditions: [{ type: "Ready", status: "True", lastProbeTime: new Date(Date.now() + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") }],
        containerStatuses: [],
      });
      await admin.apply({ ...p, metadata: { ...p.metadata, annotations: undefined } });
    }
    await sleep(1000);
    off();
    expect(builds).toEqual([]);
    expect(server!.kube!.objects().length).toBe(rev);
  });

  it("a forced relist converges to the same state without any change", async () => {
    const before = JSON.stringify(
      server!
        .kube!.objects()
        .map((o) => o.object)
        .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    );
    const builds: number[] = [];
    const off = server!.controlPlane.onBuild(() => builds.push(1));
    server!.kube!.relistAll();
    await until(() => Object.values(server!.kube!.stats()).every((s) => s.lists >= 2), "every collection to relist");
    await sleep(500);
    off();
    expect(builds).toEqual([]);
    const after = JSON.stringify(
      server!
        .kube!.objects()
        .map((o) => o.object)
        .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    );
    expect(after).toBe(before);
  });

  it("stopping and restarting the API server loses nothing: Envoy keeps routing, changes made meanwhile arrive", async () => {
    await kube.stopApiserver();
    // Envoy keeps its config while the API is gone
    for (let i = 0; i < 5; i++) {
      expect(await versionOf()).toBe("v1");
      await sleep(200);
    }
    expect((await fetch(`http://127.0.0.1:${server!.debugPort}/ready`)).status).toBe(200);
    await kube.startApiserver();
    // a change after the restart arrives (the informers reconnected)
    await admin.apply(virtualService(NS, "v1", "v2"));
    await until(async () => (await versionOf()) === "v2", "the change after the restart", 40_000);
    expect(lines.join("\n")).toMatch(/kubernetes (watch|list) .* failed; retrying/);
  });

  it("410 Gone on a watch leads to a relist that changes nothing", async () => {
    const stats = () => Object.values(server!.kube!.stats());
    const goneBefore = stats().reduce((n, s) => n + s.gone, 0);
    const listsBefore = stats().reduce((n, s) => n + s.lists, 0);
    const builds: number[] = [];
    const off = server!.controlPlane.onBuild(() => builds.push(1));
    const objectsBefore = server!.kube!.objects();
    server!.kube!.expireWatches("1"); // the API server no longer has version 1: it answers 410
    await until(() => stats().reduce((n, s) => n + s.gone, 0) >= goneBefore + stats().length, "every watch to be answered 410 Gone");
    await until(() => stats().reduce((n, s) => n + s.lists, 0) >= listsBefore + stats().length, "every collection to relist");
    await sleep(300);
    off();
    expect(builds).toEqual([]);
    expect(server!.kube!.objects()).toEqual(objectsBefore);
    expect(await versionOf()).toBe("v2");
  });

  it("a watch that stalls silently is detected; the relist deletes what vanished meanwhile and keeps the rest", async () => {
    // A second, standalone source behind a proxy that can make its streams go silent.
    const proxy = await startTcpProxy(Number(new URL(kube.server).port));
    const store = new Store();
    const source = new KubeSource({
      client: new KubeClient(kube.kubeConfig(saToken, "meshpilot", `https://127.0.0.1:${proxy.port}`)),
      logger: logger,
      watchNamespaces: [NS],
      watchTimeoutSeconds: 2,
      stallGraceMs: 1000,
      onUpdate: (u) => void store.apply(u.source, u.events),
    });
    try {
      source.start();
      await source.synced;
      const keys = () => new Set(store.keysOf("kube"));
      const before = keys();
      expect(before.has(`Pod/${NS}/reviews-v3`)).toBe(true);
      proxy.blackholeExisting();
      // changes the stalled watches never deliver
      await admin.delete({ apiVersion: "v1", kind: "Pod", metadata: { name: "reviews-v3", namespace: NS } });
      await admin.apply(endpointSlice(NS, "reviews-x9", "reviews", a.port, [{ ip: a.v3Ip, pod: "reviews-v1" }]));
      await until(() => Object.values(source.stats()).some((s) => s.stalls > 0), "the stall to be detected", 15_000);
      await until(() => !keys().has(`Pod/${NS}/reviews-v3`) && keys().has(`EndpointSlice/${NS}/reviews-x9`), "the relist to converge", 15_000);
      const after = keys();
      expect([...before].filter((k) => !after.has(k))).toEqual([`Pod/${NS}/reviews-v3`]);
      expect([...after].filter((k) => !before.has(k))).toEqual([`EndpointSlice/${NS}/reviews-x9`]);
      // the same state as meshpilot's own informers, which never stalled
      await until(() => !server!.kube!.objects().some((o) => o.object.metadata.name === "reviews-v3"), "meshpilot to see the delete");
      const mine = server!
        .kube!.objects()
        .filter((o) => o.object.metadata.namespace === NS || (o.object.kind === "Namespace" && o.object.metadata.name === NS));
      expect(
        new Set(mine.map((o) => `${o.object.kind}/${o.object.metadata.namespace ?? ""}/${o.object.metadata.name}`.replace(/^Namespace\/\//, "Namespace//"))),
      ).toEqual(new Set([...after].filter((k) => !k.startsWith("Namespace/") || k === `Namespace//${NS}`)));
    } finally {
      await source.stop();
      await proxy.close();
      await admin.delete({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: "reviews-x9", namespace: NS } });
    }
  });

  afterAll(() => {
    if (latencies.length > 0) writeFileSync(join(kube?.dir ?? ".", "latencies.json"), JSON.stringify(latencies));
    console.log(`[kube-routing] API write → Envoy routing: ${latencies.map((l) => `${l.what} ${Math.round(l.ms)} ms`).join(", ")}`);
  });
});
