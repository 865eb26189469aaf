// What an inline route configuration keeps of its virtual hosts once assembled. Each VHDS virtual
// host keeps the few bytes that turn it back into a field of the inline form (its inline name and
// a length) for as long as it lives. Cut out of Node's shared Buffer pool, each of those pinned an
// 8 KiB slab full of the garbage made meanwhile: a VirtualService edit re-assembles its route
// configuration (for SotW streams, config dumps, the push history), so every edited virtual host
// kept a slab until its next edit, and a soak's memory grew edit after edit.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { encodeRoutes, type EncodedRoutes } from "../../../src/xds/route-delivery.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function arrayBuffersAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

const HOSTS = 400;

function routes(weights: readonly number[]) {
  return [
    {
      name: "80",
      virtualHosts: weights.map((w, i) => ({
        name: `svc-${i}.bench.svc.cluster.local:80`,
        domains: [`svc-${i}.bench.svc.cluster.local`],
        routes: [
          {
            match: { prefix: "/" },
            route: {
              weightedClusters: {
                clusters: [
                  { name: `outbound|80|v1|svc-${i}.bench.svc.cluster.local`, weight: w },
                  { name: `outbound|80|v2|svc-${i}.bench.svc.cluster.local`, weight: 100 - w },
                ],
              },
            },
          },
        ],
      })),
    },
  ];
}

it("an edit keeps a few bytes per virtual host it changed, not a slab of other buffers' garbage", () => {
  const weights = Array.from({ length: HOSTS }, () => 50);
  let current: EncodedRoutes = encodeRoutes(routes(weights));
  let garbage = current.routes.get("80")!.body.length;
  const before = arrayBuffersAfterGc() - current.routes.get("80")!.body.length;
  for (let i = 0; i < HOSTS; i++) {
    weights[i] = 60; // one VirtualService edit, one virtual host changed
    current = encodeRoutes(routes(weights), current);
    // The inline form read (a SotW stream, a config dump) between the short-lived small buffers of
    // everything else the server does meanwhile.
    garbage += current.routes.get("80")!.body.length;
    for (let j = 0; j < 40; j++) garbage += Buffer.from(`temporary ${i} ${j} ${"x".repeat(100)}`).length;
  }
  const inline = current.routes.get("80")!.body.length;
  const perEdit = (arrayBuffersAfterGc() - before - inline) / HOSTS;
  expect(garbage).toBeGreaterThan(0);
  expect(current.virtualHosts.size).toBe(HOSTS);
  // The edited virtual host's own body (~200 bytes) and its inline field's head: 8 KiB if a slab.
  expect(perEdit).toBeLessThan(1024);
});
