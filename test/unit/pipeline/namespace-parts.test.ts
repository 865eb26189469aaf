// The outbound parts of sidecars in different namespaces share what they resolve alike: each
// namespace's part resolved every service's routes and made its virtual hosts (and their JSON)
// anew, although only the virtual hosts of its own namespace's services differ (short-name
// domains). With workload proxies spread over four namespaces that was four copies of every
// virtual host's routes and JSON (about 4 MiB per namespace at 1000 services).
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import {
  destinationRule,
  endpointSlice,
  ENDPOINTS_PER_SERVICE,
  namespace,
  namespaceOf,
  pod,
  service,
  virtualService,
} from "../../../src/loadgen/mesh-objects.js";
import { buildMeshState } from "../../../src/model/build.js";
import { parseProxy, proxyView, sharedView } from "../../../src/model/proxy.js";
import { outboundLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import type { VirtualHostJson } from "../../../src/translate/envoy.js";
import { translateShared } from "../../../src/translate/proxy.js";
import { benchNode } from "../../bench/mesh.js";

const N = 12;

function objects(): StoredObject<InputObject>[] {
  const out: StoredObject<InputObject>[] = [];
  for (let k = 0; k < 4; k++) out.push({ object: namespace(k) });
  for (let i = 0; i < N; i++) {
    out.push({ object: service(i) });
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push({ object: pod(i, j) });
    out.push({ object: endpointSlice(i, "full") }, { object: virtualService(i, N, "full") }, { object: destinationRule(i, "full") });
  }
  return out;
}

/** The virtual hosts of route configuration 8080 of workload proxy `k`'s outbound part, by service host. */
function virtualHostsOf(mesh: ReturnType<typeof buildMeshState>["mesh"], k: number): Map<string, VirtualHostJson> {
  const parsed = parseProxy(benchNode(k, "workloads", N));
  if ("error" in parsed) throw new Error(parsed.error);
  const part = sharedView(proxyView(parsed.proxy, new Map()), outboundLabels(mesh));
  const rc = translateShared(mesh, part).routes.find((r) => r.name === "8080");
  return new Map(
    (rc?.virtualHosts ?? []).filter((vh) => vh.name !== undefined && !vh.domains?.includes("*")).map((vh) => [vh.name!.replace(/:8080$/, ""), vh]),
  );
}

describe("outbound parts of different namespaces", () => {
  it("share the virtual hosts they make alike, by identity, and keep their own where they differ", () => {
    const { mesh } = buildMeshState(meshInputFrom(objects()));
    // Proxies 0 and 1: pods of svc-0 (namespace bench-0) and svc-1 (bench-1).
    const a = virtualHostsOf(mesh, 0);
    const b = virtualHostsOf(mesh, 1);
    expect(a.size).toBe(N);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (let i = 0; i < N; i++) {
      const host = `svc-${i}.${namespaceOf(i)}.svc.cluster.local`;
      const x = a.get(host)!;
      const y = b.get(host)!;
      if (namespaceOf(i) === "bench-0" || namespaceOf(i) === "bench-1") {
        // Its own namespace's proxies reach it by its short name too.
        expect(x).not.toBe(y);
        expect(x.domains).not.toEqual(y.domains);
      } else {
        expect(x).toBe(y);
      }
    }
  });

  it("share their EDS recipes (and so their ClusterLoadAssignments), by identity", () => {
    const { mesh } = buildMeshState(meshInputFrom(objects()));
    const [a, b] = [0, 1].map((k) => {
      const parsed = parseProxy(benchNode(k, "workloads", N));
      if ("error" in parsed) throw new Error(parsed.error);
      return translateShared(mesh, sharedView(proxyView(parsed.proxy, new Map()), outboundLabels(mesh)));
    });
    expect(a!.edsTargets.length).toBeGreaterThan(N);
    expect(b!.edsTargets.length).toBe(a!.edsTargets.length);
    b!.edsTargets.forEach((t, i) => expect(t).toBe(a!.edsTargets[i]));
    b!.endpoints.forEach((cla, i) => expect(cla).toBe(a!.endpoints[i]));
  });

  it("two parts made apart for one namespace share every virtual host", () => {
    const { mesh } = buildMeshState(meshInputFrom(objects()));
    const first = virtualHostsOf(mesh, 2);
    const again = virtualHostsOf(mesh, 6); // another pod of a bench-2 service: the same outbound part's content
    for (const [host, vh] of first) expect(again.get(host)).toBe(vh);
  });
});
