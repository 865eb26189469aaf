// The EDS fast path must give exactly what a full rebuild gives, while reusing what did not
// change: each step below changes only EndpointSlices or Pods, and is checked against a fresh
// build of the same input.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { buildMeshState, rebuildEndpoints } from "../../../src/model/build.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { endpointWork } from "../../../src/model/endpoints.js";
import { typeVersionWork } from "../../../src/xds/type-version.js";

/** An EndpointSlice of `service` (port 9080) with the given endpoint lines. */
function slice(service: string, endpoints: readonly string[]): string {
  return `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${service}-1, namespace: default, labels: { kubernetes.io/service-name: ${service} } }
addressType: IPv4
ports: [{ name: http, port: 9080 }]
endpoints:
${endpoints.map((e) => `  - ${e}`).join("\n")}
`;
}

/** The reviews slice: v1's address (by targetRef), v2's (found by IP), and one naming a Pod not known yet. */
const reviewsSlice = (v1Ready: boolean): string =>
  slice("reviews", [
    `{ addresses: [10.244.0.11], conditions: { ready: ${v1Ready} }, targetRef: { kind: Pod, name: reviews-v1, namespace: default } }`,
    "{ addresses: [10.244.0.12], conditions: { ready: true } }",
    "{ addresses: [10.244.0.14], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v3, namespace: default } }",
  ]);

const BASE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.0.21, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1, namespace: default, labels: { app: reviews, version: v1 } }
status: { podIP: 10.244.0.11 }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2, namespace: default, labels: { app: reviews, version: v2 } }
status: { podIP: 10.244.0.12 }
---
apiVersion: v1
kind: Pod
metadata: { name: ratings-1, namespace: default, labels: { app: ratings, version: v1 } }
status: { podIP: 10.244.0.21 }
---${reviewsSlice(true)}---${slice("ratings", ["{ addresses: [10.244.0.21], conditions: { ready: true }, targetRef: { kind: Pod, name: ratings-1, namespace: default } }"])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3 } }] }
`;

const parse = (text: string): StoredObject<InputObject>[] => validObjects(text);

/** `objects` with the object of the same kind/name as each replacement swapped (or added), the rest kept as the same objects. */
function edit(objects: readonly StoredObject<InputObject>[], yaml: string, remove: readonly string[] = []): StoredObject<InputObject>[] {
  const key = (o: StoredObject<InputObject>): string => `${o.object.kind}/${o.object.metadata.name}`;
  const replacements = new Map(parse(yaml).map((o) => [key(o), o]));
  const out = objects.filter((o) => !remove.includes(key(o))).map((o) => replacements.get(key(o)) ?? o);
  for (const [k, o] of replacements) if (!objects.some((x) => key(x) === k)) out.push(o);
  return out;
}

const POD_V3_APPEARS = `
apiVersion: v1
kind: Pod
metadata: { name: reviews-v3, namespace: default, labels: { app: reviews, version: v3 } }
status: { podIP: 10.244.0.14 }
`;
const POD_BY_IP_RELABELLED = `
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2, namespace: default, labels: { app: reviews, version: v3 } }
status: { podIP: 10.244.0.12 }
`;
const RATINGS_POD_RELABELLED = `
apiVersion: v1
kind: Pod
metadata: { name: ratings-1, namespace: default, labels: { app: ratings, version: v2 } }
status: { podIP: 10.244.0.21 }
`;

/** Each step: the new objects, and which services' endpoints it must touch. */
function steps(base: StoredObject<InputObject>[]): { name: string; objects: StoredObject<InputObject>[]; touched: string[] }[] {
  const s1 = edit(base, reviewsSlice(false));
  const s2 = edit(s1, POD_V3_APPEARS);
  const s3 = edit(s2, POD_BY_IP_RELABELLED);
  const s4 = edit(s3, RATINGS_POD_RELABELLED);
  const s5 = edit(s4, "", ["Pod/reviews-v3"]);
  const s6 = edit(s5, "", ["EndpointSlice/ratings-1"]);
  return [
    { name: "a slice changes", objects: s1, touched: ["reviews"] },
    { name: "a Pod named by a targetRef appears", objects: s2, touched: ["reviews"] },
    { name: "a Pod found by IP changes labels", objects: s3, touched: ["reviews"] },
    { name: "another service's Pod changes", objects: s4, touched: ["ratings"] },
    { name: "a Pod is deleted", objects: s5, touched: ["reviews"] },
    { name: "a slice is deleted", objects: s6, touched: ["ratings"] },
  ];
}

const key = (svc: string): string => `${svc}.default.svc.cluster.local|9080`;

/** A control plane built from `objects`, with one sidecar's view active. */
function startWithView(objects: StoredObject<InputObject>[]) {
  const node = { id: "sidecar~10.244.0.9~client.default~default.svc.cluster.local", cluster: "client", metadata: {} };
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  cp.update(meshInputFrom(objects), "all");
  const k = cp.viewKey(node);
  if ("error" in k) throw new Error(k.error);
  cp.activate(k.key, node);
  return { cp, snapshot: () => cache.get(k.key)! };
}

describe("EDS fast path", () => {
  it("rebuilds the endpoints of touched services only, and equals a full build", () => {
    const base = parse(BASE);
    let build = buildMeshState(meshInputFrom(base));
    for (const step of steps(base)) {
      const input = meshInputFrom(step.objects);
      const next = rebuildEndpoints(build, input);
      const full = buildMeshState(input).mesh;
      expect(next.mesh, step.name).toEqual(full);
      for (const svc of ["reviews", "ratings"]) {
        const same = next.mesh.endpoints.get(key(svc)) === build.mesh.endpoints.get(key(svc));
        expect(same, `${step.name}: ${svc} ${step.touched.includes(svc) ? "rebuilt" : "reused"}`).toBe(!step.touched.includes(svc));
      }
      expect(next.mesh.services).toBe(build.mesh.services);
      expect(next.mesh.destinationRules).toBe(build.mesh.destinationRules);
      build = next;
    }
  });

  it("publishes the same snapshot as a full rebuild, re-encoding only the changed ClusterLoadAssignments", () => {
    const base = parse(BASE);
    const fast = startWithView(base);
    for (const step of steps(base)) {
      const before = fast.snapshot();
      const stats = fast.cp.update(meshInputFrom(step.objects), new Set(["EndpointSlice", "Pod"]));
      expect(stats.fastPath).toBe(true);
      const after = fast.snapshot();
      const full = startWithView(step.objects);
      expect(after.versions, step.name).toEqual(full.snapshot().versions);
      expect(full.cp.diagnostics(), step.name).toEqual(fast.cp.diagnostics());
      for (const t of [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route]) expect(after.resources.get(t)).toBe(before.resources.get(t));
      for (const [name, r] of after.resources.get(TYPE_URL.endpoint)!) {
        const touched = step.touched.some((svc) => name.endsWith(`|${svc}.default.svc.cluster.local`));
        if (!touched) expect(r, `${step.name}: ${name} reused`).toBe(before.resources.get(TYPE_URL.endpoint)!.get(name));
      }
    }
  });

  it("translates the views again when a headless Service's endpoints change: they are listeners too", () => {
    const headless = (ips: readonly string[]) => `
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec: { clusterIP: None, ports: [{ name: tcp-pg, port: 5432 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: db-1, namespace: default, labels: { kubernetes.io/service-name: db } }
addressType: IPv4
ports: [{ name: tcp-pg, port: 5432 }]
endpoints: [${ips.map((ip) => `{ addresses: [${ip}], conditions: { ready: true } }`).join(", ")}]
`;
    const node = { id: "sidecar~10.244.0.9~client.default~default.svc.cluster.local", cluster: "client", metadata: {} };
    const cache = new SnapshotCache();
    const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
    cp.update(meshInputFrom(parse(headless(["10.244.1.10"]))), "all");
    const k = cp.viewKey(node);
    if ("error" in k) throw new Error(k.error);
    cp.activate(k.key, node);
    const listeners = () => [...cache.get(k.key)!.resources.get(TYPE_URL.listener)!.keys()].filter((n) => n.endsWith("_5432")).sort();
    expect(listeners()).toEqual(["10.244.1.10_5432"]);
    cp.update(meshInputFrom(parse(headless(["10.244.1.10", "10.244.1.11"]))), new Set(["EndpointSlice"]));
    expect(listeners()).toEqual(["10.244.1.10_5432", "10.244.1.11_5432"]);
  });

  it("costs what an endpoint change touched, not the mesh: one service rebuilt, its CLA re-versioned", () => {
    const SERVICES = 40;
    const svc = (i: number): string => `
apiVersion: v1
kind: Service
metadata: { name: s${i}, namespace: default }
spec: { clusterIP: 10.96.1.${i}, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
`;
    const pod = (name: string, ip: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: default, labels: { app: x } }
status: { podIP: ${ip} }
`;
    const ep = (name: string, ip: string): string =>
      `{ addresses: [${ip}], conditions: { ready: true }, targetRef: { kind: Pod, name: ${name}, namespace: default } }`;
    const docs: string[] = [];
    for (let i = 0; i < SERVICES; i++) {
      docs.push(svc(i), pod(`s${i}-a`, `10.244.${i}.1`), pod(`s${i}-b`, `10.244.${i}.2`));
      docs.push(slice(`s${i}`, [ep(`s${i}-a`, `10.244.${i}.1`), ep(`s${i}-b`, `10.244.${i}.2`)]));
    }
    const base = parse(docs.join("---"));
    const fast = startWithView(base);
    let objects = base;
    // A pod of s7 replaced, as a rollout does: the old Pod gone, a new one (name, address) in the slice.
    for (const [r, old] of ["s7-a", "s7-r0"].entries()) {
      const moved = `s7-r${r}`;
      objects = edit(objects, `${pod(moved, `10.250.0.${r}`)}---${slice("s7", [ep(moved, `10.250.0.${r}`), ep("s7-b", "10.244.7.2")])}`, [`Pod/${old}`]);
      const work = { ...endpointWork };
      const pairs = typeVersionWork.pairsHashed;
      const stats = fast.cp.update(meshInputFrom(objects), new Set(["EndpointSlice", "Pod"]));
      expect(stats.fastPath).toBe(true);
      expect(endpointWork.slicesGrouped - work.slicesGrouped, "slices sorted and grouped").toBe(0);
      expect(endpointWork.servicesBuilt - work.servicesBuilt, "services built").toBe(1);
      // The old Pod's name key and the new one's: every slice names its Pods, so no address was
      // ever looked up and the addresses are not indexed.
      expect(endpointWork.podKeysIndexed - work.podKeysIndexed, "pod keys indexed").toBe(2);
      // The one new CLA of s7 (the one it replaced was hashed when its map was versioned).
      expect(typeVersionWork.pairsHashed - pairs, "type version pairs hashed").toBe(1);
      expect(fast.snapshot().versions).toEqual(startWithView(objects).snapshot().versions);
    }
  });
});
