// The load generator's delta client as an Envoy that takes VHDS (src/loadgen/flow.ts,
// delta-proxy.ts) against the real server: the control plane translating a generated mesh, the
// xDS server on a loopback port. What it must do is what Envoy 1.40 was seen doing on the wire
// (route-delivery.ts): once a route configuration names VHDS, one VirtualHost request with an
// empty (wildcard) list, sent before the route configuration's ACK; virtual hosts held by the
// route configuration their name starts with; not in sync before they arrived.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import type { DeltaDiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { ChangeWatch } from "../../../src/loadgen/changes.js";
import { CARRIER, markerOf, planChange, slotOf } from "../../../src/loadgen/churn.js";
import { SHORT_OF } from "../../../src/loadgen/counts.js";
import { DeltaProxy } from "../../../src/loadgen/delta-proxy.js";
import { EnvoyFlow, type FlowSender } from "../../../src/loadgen/flow.js";
import type { LoadMesh } from "../../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload, type XdsNode } from "../../../src/loadgen/node.js";
import type { ProxyOptions } from "../../../src/loadgen/proxy.js";
import { WireResource } from "../../../src/loadgen/wire.js";
import { until } from "../../support/wait.js";
import { startServer, type Running } from "./real-server.js";

const SERVICES = 3;

/** A DeltaProxy that records what it writes, in order: `sub <type> [names]` and `ack <type>`. */
// (Kept outside the instance: the constructor sends before a subclass' fields exist.)
const writes = new WeakMap<DeltaProxy, string[]>();
class RecordingProxy extends DeltaProxy {
  get wrote(): string[] {
    return writes.get(this) ?? [];
  }
  protected override send(init: MessageInitShape<typeof DeltaDiscoveryRequestSchema>): void {
    const type = SHORT_OF[init.typeUrl ?? ""] ?? init.typeUrl;
    if (!writes.has(this)) writes.set(this, []);
    writes.get(this)!.push(init.responseNonce ? `ack ${type}` : `sub ${type} [${(init.resourceNamesSubscribe ?? []).join(",")}]`);
    super.send(init);
  }
}

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function start(): Promise<Running> {
  running = await startServer(SERVICES);
  return running;
}

function nodeOf(envoyVersion?: string): XdsNode {
  return istioNode(proxyWorkload(0, { mode: "identical", namespace: "bench-0", name: "lg", groups: 1 }), envoyVersion);
}

let opened = 0;
function open(r: Running, node: XdsNode, extra: Partial<ProxyOptions> = {}): RecordingProxy {
  const p = new RecordingProxy({ address: r.address, index: opened++, node, expectClusters: r.mesh.expectedClusters(), ...extra });
  r.track(p);
  return p;
}

const vhostNames = (mesh: LoadMesh): string[] =>
  Array.from({ length: mesh.shape.services }, (_, i) => `8080/svc-${i}.bench-${i % 4}.svc.cluster.local:8080`).sort();

describe("load proxies over VHDS, against the real server", () => {
  it("an Envoy 1.40 proxy gets its route configuration without virtual hosts, asks for virtual hosts once by wildcard before the ACK, and syncs on them", async () => {
    const r = await start();
    const p = open(r, nodeOf(ENVOY_VERSION));
    await until(() => p.synced || p.error !== undefined, "the proxy in sync", 20_000);
    expect(p.error).toBeUndefined();
    // One VirtualHost request, a wildcard, right after the route configuration arrived and before its ACK.
    expect(p.wrote.filter((w) => w.startsWith("sub vhds"))).toEqual(["sub vhds []"]);
    const vhdsSub = p.wrote.indexOf("sub vhds []");
    expect(p.wrote[vhdsSub + 1]).toBe("ack rds");
    expect(p.wrote.slice(0, vhdsSub).filter((w) => w === "ack rds")).toEqual([]);
    expect(p.wrote).toContain("ack vhds");
    // The virtual hosts, by their VHDS names, one per service, each held by route configuration 8080.
    expect(p.names().rds).toEqual(["8080"]);
    expect(p.names().vhds).toEqual(vhostNames(r.mesh));
    expect(p.syncCounts!.vhds.resources).toBe(SERVICES);
    // The server sees a VHDS stream: the virtual hosts are no longer inside the route configuration.
    const status = r.server.syncStatus()[0]!;
    expect(status.types.vhds).toMatchObject({ wildcard: true });
    const whole = open(r, nodeOf());
    await until(() => whole.synced, "the neutral proxy in sync", 20_000);
    expect(p.syncCounts!.rds.resourceBytes).toBeLessThan(whole.syncCounts!.rds.resourceBytes);
  });

  it("without a claimed Envoy, the proxy gets route configurations whole and asks for no virtual host", async () => {
    const r = await start();
    const p = open(r, nodeOf());
    await until(() => p.synced || p.error !== undefined, "the proxy in sync", 20_000);
    expect(p.error).toBeUndefined();
    expect(p.wrote.some((w) => w.includes("vhds"))).toBe(false);
    expect(p.names().vhds).toEqual([]);
    expect(p.counts.vhds.msgs).toBe(0);
    expect(p.counts.rds.resources).toBe(1);
  });

  it("a VirtualService edit reaches it as the one virtual host it changes, and the change watch finds it there", async () => {
    const r = await start();
    const watch = new ChangeWatch();
    const p = open(r, nodeOf(ENVOY_VERSION), { changes: watch });
    await until(() => p.synced, "the proxy in sync", 20_000);
    p.arm();
    const plan = planChange(1, SERVICES, ["endpoint", "weight"], "vhds-test");
    if (plan.kind !== "weight") throw new Error("change 1 is a weight edit");
    r.mesh.editSplit(plan.service, plan.v1Weight, plan.mark);
    const change = watch.begin(slotOf(plan), plan.kind, CARRIER[plan.kind], markerOf(plan), Date.now());
    r.update(new Set(["VirtualService"]));
    await until(() => p.seen.has(change.id), "the edit at the proxy", 20_000);
    expect(p.sinceArm.vhds.resources).toBe(1);
    expect(p.sinceArm.rds.resources).toBe(0);
    expect(p.names().vhds).toEqual(vhostNames(r.mesh));
  });
});

describe("the VHDS part of Envoy's flow", () => {
  const sent: string[] = [];
  const sender: FlowSender = { subscribe: (t, a, r) => void sent.push(`${t} +[${a.join(",")}] -[${r.join(",")}]`) };
  const res = (name: string, body: Uint8Array = new Uint8Array()): WireResource => WireResource.of(name, body, "1");
  const VHDS_ROUTE = toBinary(RouteConfigurationSchema, create(RouteConfigurationSchema, { vhds: { configSource: {} } }));

  it("drops a virtual host whose route configuration it does not hold, and waits for one of each VHDS route configuration", () => {
    sent.length = 0;
    const f = new EnvoyFlow(sender);
    f.onClusters([], [], false);
    f.onListeners([], [], false);
    f.onVirtualHosts([res("80/a")], []);
    expect(f.names().vhds).toEqual([]);
    f.onRoutes([res("80", VHDS_ROUTE), res("81", VHDS_ROUTE), res("82")]);
    expect(sent.filter((s) => s.startsWith("vhds"))).toEqual(["vhds +[] -[]"]);
    expect(f.synced).toBe(false);
    f.onVirtualHosts([res("80/a"), res("82/x")], []);
    expect(f.synced).toBe(false); // 81 has none yet; 82 is whole
    f.onVirtualHosts([res("81/b")], []);
    expect(f.synced).toBe(true);
    expect(f.names().vhds).toEqual(["80/a", "81/b"]);
    f.onVirtualHosts([], ["80/a"]);
    f.onRoutes([], ["81"]);
    expect(f.names().vhds).toEqual([]);
    f.stop();
  });
});
