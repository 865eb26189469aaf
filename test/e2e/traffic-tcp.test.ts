/**
 * A VirtualService `tcp` route through a real Envoy: connections to a TCP service are split by
 * weight between two subsets (each connection is one draw, so the split is checked with a
 * binomial band).
 */
import net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { binomialBand } from "../support/backend.js";
import { eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

function startTcpBackend(host: string, port: number, version: string): Promise<{ count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    s.end(`${version}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () =>
      resolve({
        count: () => n,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

function readOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let data = "";
    s.setTimeout(5000, () => s.destroy(new Error("tcp read timed out")));
    s.on("data", (c) => (data += c.toString()));
    s.on("end", () => resolve(data.trim()));
    s.on("close", () => resolve(data.trim()));
    s.on("error", reject);
  });
}

let mesh: TrafficMesh;
const servers: Array<{ count: () => number; close: () => Promise<void> }> = [];

beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "tcp",
    services: [
      {
        name: "db",
        portName: "tcp-db",
        workloads: [
          { version: "primary", backend: false },
          { version: "replica", backend: false },
        ],
      },
    ],
    istio: () => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: default }
spec:
  host: db
  subsets:
    - { name: primary, labels: { version: primary } }
    - { name: replica, labels: { version: replica } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: [db]
  tcp:
    - route:
        - destination: { host: db, subset: primary }
          weight: 75
        - destination: { host: db, subset: replica }
          weight: 25
`,
  });
  servers.push(await startTcpBackend(mesh.ip("db", "primary"), mesh.port("db"), "primary"));
  servers.push(await startTcpBackend(mesh.ip("db", "replica"), mesh.port("db"), "replica"));
  await eventually(async () => ["primary", "replica"].includes(await readOnce(mesh.port("db"))), "a TCP connection through Envoy");
});
afterAll(async () => {
  await mesh?.stop();
  await Promise.all(servers.map((s) => s.close()));
});

it("splits connections by weight", async () => {
  const n = 200;
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const v = await readOnce(mesh.port("db"));
    counts[v] = (counts[v] ?? 0) + 1;
  }
  expect((counts["primary"] ?? 0) + (counts["replica"] ?? 0)).toBe(n);
  const band = binomialBand(n, 0.25);
  expect(counts["replica"]).toBeGreaterThanOrEqual(band.lo);
  expect(counts["replica"]).toBeLessThanOrEqual(band.hi);
  expect(band.lo).toBeGreaterThan(0);
});
