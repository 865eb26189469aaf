// What a load proxy says when it is not in sync (LoadProxy.diagnosis, EnvoyFlow.waitingFor): the
// server's stream error as gRPC code and message, what it still waits for, the last nonce of each
// type. Against the real server (real-server.ts), so the texts are the ones a bench run reports.
import { afterEach, describe, expect, it } from "vitest";
import { DeltaProxy } from "../../../src/loadgen/delta-proxy.js";
import { ENVOY_VERSION, istioNode, proxyWorkload } from "../../../src/loadgen/node.js";
import { until } from "../../support/wait.js";
import { startServer, type Running } from "./real-server.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

const node = istioNode(proxyWorkload(0, { mode: "identical", namespace: "bench-0", name: "lg", groups: 1 }), ENVOY_VERSION);

describe("a load proxy's diagnosis", () => {
  it("a stream the server refuses: the gRPC code and the server's message, and that nothing arrived", async () => {
    const r = (running = await startServer(2));
    const p = new DeltaProxy({ address: r.address, index: 7, node: { ...node, id: "not-a-sidecar-id" }, reconnect: false });
    r.track(p);
    await until(() => p.error !== undefined, "the stream refused", 10_000);
    const d = p.diagnosis();
    expect(d).toMatch(/^proxy 7: stream (error|ended) \(?\d+: /);
    expect(d).toContain("not-a-sidecar-id");
    expect(d).toContain("waiting for CDS: no response");
    expect(d).toContain("no response received");
  });

  it("a proxy held out of sync by a cluster the server never sends: which one, and the last nonce of each type it got", async () => {
    const r = (running = await startServer(2));
    const missing = "outbound|9999||gone.bench-0.svc.cluster.local";
    const expectClusters = new Set([...r.mesh.expectedClusters(), missing]);
    const p = new DeltaProxy({ address: r.address, index: 3, node, expectClusters, reconnect: false });
    r.track(p);
    await until(() => p.lastNonce.vhds !== undefined, "the proxy's virtual hosts", 10_000);
    await until(() => p.waitingFor().length === 1, "everything but the absent cluster", 10_000);
    expect(p.synced).toBe(false);
    const d = p.diagnosis();
    expect(d).toContain("proxy 3: no stream error");
    expect(d).toContain(`waiting for CDS: 1 of 3 expected clusters absent (${missing})`);
    expect(d).toMatch(/last nonces: cds \S+, eds \S+, lds \S+, rds \S+, vhds \S+$/);
  });
});
