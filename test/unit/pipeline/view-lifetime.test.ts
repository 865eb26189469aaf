// A built view whose last proxy left is kept for a while (keepViewMs): a proxy of the same view that
// connects meanwhile gets it as it is, not built again (a probe proxy before its fleet, a restarting
// pod). It goes when its time is up or at the next build, which would otherwise rebuild it for no one.
// Told apart by the snapshot object: a view built again makes a new one.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import type { NodeInfo } from "../../../src/xds/snapshot.js";
import { serviceDocs, startControlPlane, storedObjects } from "../../support/control-plane.js";

const MESH = meshInputFrom(storedObjects(serviceDocs("reviews", "default", "10.96.0.20", "10.244.0.11")));
const KEEP_MS = 30_000;
const PROBE: NodeInfo = { id: "sidecar~10.244.1.1~probe-1.default~default.svc.cluster.local", cluster: "probe", metadata: { LABELS: { app: "probe" } } };
// Another pod whose labels no configuration selects: the same view as the probe.
const FLEET: NodeInfo = { id: "sidecar~10.244.1.2~fleet-1.default~default.svc.cluster.local", cluster: "fleet", metadata: { LABELS: { app: "fleet" } } };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A control plane whose probe proxy connected, got its view built, and left. */
function probeLeft(opts?: Parameters<typeof startControlPlane>[0]) {
  const started = startControlPlane(opts);
  started.cp.update(MESH, "all");
  const probe = started.connect(PROBE);
  const built = started.cache.get(probe)!;
  started.cp.deactivate(probe);
  return { ...started, probe, built };
}

describe("a view whose last proxy left", () => {
  it("is kept built for a proxy of the same view that connects within keepViewMs", () => {
    const { cache, connect, probe, built } = probeLeft({ keepViewMs: KEEP_MS });
    expect(cache.get(probe)).toBeUndefined();
    vi.advanceTimersByTime(KEEP_MS - 1);
    const fleet = connect(FLEET);
    expect(cache.get(fleet)).toBe(built);
    // Back in use: its timer no longer drops it.
    vi.advanceTimersByTime(KEEP_MS);
    expect(cache.get(connect(PROBE))).toBe(built);
  });

  it("is dropped when keepViewMs is over", () => {
    const { cache, connect, built } = probeLeft({ keepViewMs: KEEP_MS });
    vi.advanceTimersByTime(KEEP_MS);
    const again = cache.get(connect(FLEET))!;
    expect(again).not.toBe(built);
    expect(again.versions).toEqual(built.versions);
  });

  it("is dropped by the next build, not built again for no one", () => {
    const { cp, cache, connect, built } = probeLeft({ keepViewMs: KEEP_MS });
    const stats = cp.update(MESH, "all");
    expect(stats).toMatchObject({ views: 0, classes: 0, outboundTranslations: 0, ownTranslations: 0 });
    expect(cache.get(connect(FLEET))).not.toBe(built);
  });

  it("is dropped at once without keepViewMs", () => {
    const { cache, connect, built } = probeLeft();
    expect(cache.get(connect(FLEET))).not.toBe(built);
  });
});
