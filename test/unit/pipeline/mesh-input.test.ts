// The model's input from a store snapshot: grouped as from the objects themselves, and a kind a
// change did not touch keeps its array (the model then knows it unchanged by identity).
import { describe, expect, it } from "vitest";
import { meshInputFrom, meshInputOf } from "../../../src/pipeline/mesh-input.js";
import { Store } from "../../../src/store/store.js";
import { validObjects } from "../../support/objects.js";

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1, namespace: default, labels: { app: reviews } }
status: { podIP: 10.244.0.11 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews }
`;
const POD = `
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2, namespace: default, labels: { app: reviews } }
status: { podIP: 10.244.0.12 }
`;

describe("meshInputOf", () => {
  it("groups a snapshot as meshInputFrom does, and keeps the arrays of kinds a change left alone", () => {
    const store = new Store();
    store.apply(
      "files",
      validObjects(MESH).map((object) => ({ type: "upsert", object })),
    );
    const first = meshInputOf(store.snapshot());
    expect(first).toEqual(meshInputFrom(store.snapshot().objects()));
    store.apply(
      "files",
      validObjects(POD).map((object) => ({ type: "upsert", object })),
    );
    const second = meshInputOf(store.snapshot());
    expect(second).toEqual(meshInputFrom(store.snapshot().objects()));
    expect(second.pods.map((p) => p.object.metadata.name)).toEqual(["reviews-v1", "reviews-v2"]);
    expect(second.services).toBe(first.services);
    expect(second.destinationRules).toBe(first.destinationRules);
    expect(second.pods).not.toBe(first.pods);
  });
});
