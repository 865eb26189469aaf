/**
 * Fault injection, retries and timeouts through a real Envoy. Rates are asserted with binomial
 * bands; times with margins derived from the configured values (never tight wall-clock bounds).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { binomialBand } from "../support/backend.js";
import { eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const DELAY_MS = 400;
const ABORT_PCT = 30;
const ROUTE_TIMEOUT_MS = 300;
const PER_TRY_MS = 200;

const istio = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc, namespace: default }
spec:
  hosts: [svc]
  http:
    - name: delay
      match: [{ uri: { prefix: /delay } }]
      fault: { delay: { fixedDelay: ${DELAY_MS}ms, percentage: { value: 50 } } }
      route: [{ destination: { host: svc } }]
    - name: abort
      match: [{ uri: { prefix: /abort } }]
      fault: { abort: { httpStatus: 418, percentage: { value: ${ABORT_PCT} } } }
      route: [{ destination: { host: svc } }]
    - name: abort-without-percentage
      match: [{ uri: { prefix: /never-abort } }]
      fault: { abort: { httpStatus: 418 } }
      route: [{ destination: { host: svc } }]
    - name: retry
      match: [{ uri: { prefix: /retry } }]
      retries: { attempts: 3, retryOn: "503" }
      route: [{ destination: { host: svc } }]
    - name: no-retry
      match: [{ uri: { prefix: /once } }]
      retries: { attempts: 0 }
      route: [{ destination: { host: svc } }]
    - name: timeout
      match: [{ uri: { prefix: /timeout } }]
      timeout: ${ROUTE_TIMEOUT_MS}ms
      retries: { attempts: 0 }
      route: [{ destination: { host: svc } }]
    - name: per-try
      match: [{ uri: { prefix: /per-try } }]
      retries: { attempts: 2, perTryTimeout: ${PER_TRY_MS}ms, retryOn: 5xx }
      route: [{ destination: { host: svc } }]
    - route: [{ destination: { host: svc } }]
`;

let mesh: TrafficMesh;
beforeAll(async () => {
  mesh = await startTrafficMesh({ name: "resilience", services: [{ name: "svc", workloads: [{ version: "v1" }] }], istio: () => istio });
  await eventually(
    async () => (await mesh.get("svc", "/once")).status === 200 && (await mesh.stat(`cluster.${mesh.cluster("svc")}.upstream_rq_200`)) > 0,
    "routes in Envoy",
  );
});
afterAll(() => mesh?.stop());
beforeEach(() => mesh.resetBackends());

describe("fault injection", () => {
  it("a 50% fixed delay delays about half the requests by the delay", async () => {
    const n = 60;
    const times: number[] = [];
    for (let i = 0; i < n; i += 6) {
      const batch = await Promise.all(Array.from({ length: 6 }, () => mesh.get("svc", "/delay")));
      for (const r of batch) {
        expect(r.status).toBe(200);
        times.push(r.ms);
      }
    }
    const delayed = times.filter((t) => t >= DELAY_MS * 0.9).length;
    const band = binomialBand(n, 0.5);
    expect(delayed).toBeGreaterThanOrEqual(band.lo);
    expect(delayed).toBeLessThanOrEqual(band.hi);
    // The two groups are well apart: few answers fall between "fast" and "delayed".
    expect(times.filter((t) => t >= DELAY_MS * 0.5 && t < DELAY_MS * 0.9).length).toBeLessThanOrEqual(3);
  });

  it("an abort returns the configured status at the configured rate, without reaching the backend", async () => {
    const n = 300;
    const counts = await mesh.tally("svc", "/abort", n, { concurrency: 6 });
    const aborted = counts["status:418"] ?? 0;
    const band = binomialBand(n, ABORT_PCT / 100);
    expect(aborted).toBeGreaterThanOrEqual(band.lo);
    expect(aborted).toBeLessThanOrEqual(band.hi);
    expect((counts["v1"] ?? 0) + aborted).toBe(n);
    expect(mesh.backend("svc", "v1").count).toBe(n - aborted);
  });

  it("an abort without a percentage never fires (Istio's behaviour)", async () => {
    const counts = await mesh.tally("svc", "/never-abort", 30);
    expect(counts).toEqual({ v1: 30 });
  });
});

describe("retries", () => {
  it("a backend failing its first two attempts succeeds with attempts: 3, and counts every attempt", async () => {
    const b = mesh.backend("svc", "v1");
    b.failNext(2, 503);
    const res = await mesh.get("svc", "/retry");
    expect(res.status).toBe(200);
    expect(b.count).toBe(3);
  });

  it("more failures than attempts give the backend's error back after 1 + attempts tries", async () => {
    const b = mesh.backend("svc", "v1");
    b.failNext(10, 503);
    const res = await mesh.get("svc", "/retry");
    expect(res.status).toBe(503);
    expect(b.count).toBe(4);
  });

  it("attempts: 0 does not retry", async () => {
    const b = mesh.backend("svc", "v1");
    b.failNext(1, 503);
    expect((await mesh.get("svc", "/once")).status).toBe(503);
    expect(b.count).toBe(1);
  });
});

describe("timeouts", () => {
  it("a route timeout answers 504 after about the timeout", async () => {
    const b = mesh.backend("svc", "v1");
    b.setDelay(3000);
    const res = await mesh.get("svc", "/timeout");
    expect(res.status).toBe(504);
    expect(res.body).toBe("upstream request timeout");
    expect(res.ms).toBeGreaterThanOrEqual(ROUTE_TIMEOUT_MS * 0.9);
    expect(res.ms).toBeLessThan(3000);
  });

  it("perTryTimeout cuts each try, retries, then answers 504", async () => {
    const b = mesh.backend("svc", "v1");
    b.setDelay(3000);
    const res = await mesh.get("svc", "/per-try");
    expect(res.status).toBe(504);
    expect(res.ms).toBeGreaterThanOrEqual(3 * PER_TRY_MS * 0.9);
    expect(res.ms).toBeLessThan(3000);
    await eventually(() => b.count === 3, "3 tries at the backend", 5000);
  });
});
