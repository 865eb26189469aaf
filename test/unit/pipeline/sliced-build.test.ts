// A server builds the views its proxies wait for across turns of the event loop (ControlPlane's
// sliceMs), not in the turn that binds a stream. What a proxy gets must not change for it: the
// same snapshot as a view built at once, from the input current when it is done, even when builds
// or departures come between the steps; and nothing is set before the work is done.
import { describe, expect, it } from "vitest";
import type { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import type { NodeInfo, Snapshot } from "../../../src/xds/snapshot.js";
import { PUSH_ORDER } from "../../../src/xds/type-urls.js";
import { serviceDocs, startControlPlane, storedObjects } from "../../support/control-plane.js";

function service(name: string, ns: string, n: number, timeout = n + 1): string {
  return `${serviceDocs(name, ns, `10.96.1.${n}`, `10.244.1.${n}`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}]
  http: [{ timeout: ${timeout}s, route: [{ destination: { host: ${name} } }] }]
`;
}

const SERVICES = 30;
function mesh(timeoutOf0 = 1): ReturnType<typeof meshInputFrom> {
  const docs = Array.from({ length: SERVICES }, (_, i) => service(`svc-${i}`, i % 2 === 0 ? "default" : "shop", i, i === 0 ? timeoutOf0 : i + 1));
  return meshInputFrom(storedObjects(...docs));
}

function pod(app: string, ns: string, n: number): NodeInfo {
  const labels = { app, version: `v${n}`, "pod-template-hash": `h${n}` };
  return { id: `sidecar~10.244.9.${n}~${app}-h${n}.${ns}~${ns}.svc.cluster.local`, cluster: app, metadata: { LABELS: labels } };
}

const controlPlane = (sliceMs?: number): ReturnType<typeof startControlPlane> => startControlPlane(sliceMs === undefined ? {} : { sliceMs });

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function untilBuilt(cp: ControlPlane): Promise<number> {
  let turns = 0;
  while ((cp.buildWork?.pending ?? 0) > 0 && turns < 10_000) {
    await turn();
    turns++;
  }
  return turns;
}

const versions = (s: Snapshot | undefined): Record<string, string | undefined> => Object.fromEntries(PUSH_ORDER.map((t) => [t, s?.versions.get(t)]));

/** What a control plane that builds at once gives `node` for `input`. */
function atOnce(input: ReturnType<typeof meshInputFrom>, node: NodeInfo): Snapshot {
  const { cp, cache, connect } = controlPlane();
  cp.update(input, "all");
  return cache.get(connect(node))!;
}

describe("views built across turns", () => {
  it("set nothing in the binding turn, and then what a build at once gives, in many small steps", async () => {
    const { cp, cache, connect } = controlPlane(0);
    cp.update(mesh(), "all");
    const nodes = [pod("svc-0", "default", 0), pod("svc-2", "default", 2), pod("svc-1", "shop", 1)];
    const keys = nodes.map(connect);
    for (const k of keys) expect(cache.get(k)).toBeUndefined();
    expect(cp.buildWork?.waitingViews).toBe(3);
    const turns = await untilBuilt(cp);
    // sliceMs 0: one step per turn. Each view's translation is one step, each resource another.
    expect(turns).toBeGreaterThan(2 * SERVICES);
    expect(cp.buildWork?.steps).toBeGreaterThan(2 * SERVICES);
    nodes.forEach((n, i) => expect(versions(cache.get(keys[i]!))).toEqual(versions(atOnce(mesh(), n))));
  });

  it("give a proxy of a built view its snapshot at once", async () => {
    const { cp, cache, connect } = controlPlane(0);
    cp.update(mesh(), "all");
    connect(pod("svc-0", "default", 0));
    await untilBuilt(cp);
    // Another pod of the same Service with other (unselected) labels: another class, the same view.
    const key = connect({ ...pod("svc-0", "default", 7) });
    expect(versions(cache.get(key))).toEqual(versions(atOnce(mesh(), pod("svc-0", "default", 7))));
  });

  it("end on the newest input when builds come between their steps", async () => {
    const { cp, cache, connect } = controlPlane(0);
    cp.update(mesh(1), "all");
    const node = pod("svc-0", "default", 0);
    const key = connect(node);
    let timeout = 1;
    for (let i = 0; i < 8; i++) {
      await turn();
      await turn();
      cp.update(mesh(++timeout), "all");
    }
    await untilBuilt(cp);
    expect(versions(cache.get(key))).toEqual(versions(atOnce(mesh(timeout), node)));
    expect(versions(cache.get(key))).not.toEqual(versions(atOnce(mesh(1), node)));
  });

  it("build the views of proxies that connected before the first build in turns too", async () => {
    const { cp, cache, connect } = controlPlane(0);
    const node = pod("svc-1", "shop", 1);
    const key = connect(node);
    cp.update(mesh(), "all");
    expect(cache.get(key)).toBeUndefined();
    await untilBuilt(cp);
    expect(versions(cache.get(key))).toEqual(versions(atOnce(mesh(), node)));
  });

  it("drop a view whose proxies left before it was built", async () => {
    const { cp, cache, connect } = controlPlane(0);
    cp.update(mesh(), "all");
    const gone = connect(pod("svc-0", "default", 0));
    const stays = connect(pod("svc-1", "shop", 1));
    await turn();
    cp.deactivate(gone);
    await untilBuilt(cp);
    expect(cache.get(gone)).toBeUndefined();
    expect(versions(cache.get(stays))).toEqual(versions(atOnce(mesh(), pod("svc-1", "shop", 1))));
    expect(cp.buildWork?.waitingViews).toBe(0);
  });
});
