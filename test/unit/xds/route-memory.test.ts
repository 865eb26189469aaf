// What an inline route configuration keeps of its virtual hosts once assembled. Each VHDS virtual
// host keeps the few bytes that turn it back into a field of the inline form (its inline name and
// a length) for as long as it lives. Cut out of Node's shared Buffer pool, each of those pinned an
// 8 KiB slab full of the garbage made meanwhile: a VirtualService edit re-assembles its route
// configuration (for SotW streams, config dumps, the push history), so every edited virtual host
// kept a slab until its next edit, and a soak's memory grew edit after edit.
// And what an inline route configuration that nobody read keeps: it is put together when first
// read (VHDS streams never read it), and until then it must hold its parts, not the maps of the
// build before it (which held the one before, and so on: one link per edit).
import { expect, it } from "vitest";
import { encodeRoutes, type EncodedRoutes } from "../../../src/xds/route-delivery.js";
import { arrayBuffersAfterGc, nextTurn } from "../../support/gc.js";

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

it("an inline route configuration not yet read does not keep the maps of the builds before it", async () => {
  const weights = Array.from({ length: 20 }, () => 50);
  let current: EncodedRoutes = encodeRoutes(routes(weights));
  const first = new WeakRef(current.routes);
  const released = { count: 0 };
  const registry = new FinalizationRegistry<void>(() => released.count++);
  const EDITS = 10;
  for (let i = 0; i < EDITS; i++) {
    registry.register(current.routes);
    weights[i] = 60;
    current = encodeRoutes(routes(weights), current); // no stream reads the inline form
  }
  // Finalizers run in tasks of their own after a collection, not all in the next turn on a busy
  // machine: a few rounds, bounded; what is still reachable is never counted however many.
  for (let round = 0; round < 10 && (released.count < EDITS || first.deref() !== undefined); round++) {
    await nextTurn();
    arrayBuffersAfterGc();
    await nextTurn();
  }
  // Every map but the current one is garbage: the current route configuration needs only its parts.
  expect(first.deref()).toBeUndefined();
  expect(released.count).toBe(EDITS);
  expect(current.routes.get("80")!.body.length).toBeGreaterThan(0);
});
