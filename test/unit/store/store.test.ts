import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deepEqual } from "../../../src/api/equal.js";
import { INPUT_KINDS } from "../../../src/api/kinds.js";
import { keyOf, type InputObject, type StoredObject } from "../../../src/api/objects.js";
import { mergeChangeSets } from "../../../src/store/change-set.js";
import { Store, type StoreEvent } from "../../../src/store/store.js";

function pod(name: string, version = "v1", line = 1, ns = "default"): StoredObject {
  const object: InputObject = { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels: { version } } };
  return { object, source: { file: "pods.yaml", document: 1, line } };
}
function svc(name: string, port = 80): StoredObject {
  return { object: { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default" }, spec: { ports: [{ port }] } } };
}
const up = (object: StoredObject): StoreEvent => ({ type: "upsert", object });
const del = (o: StoredObject): StoreEvent => ({ type: "delete", key: keyOf(o.object) });

describe("Store", () => {
  it("applies upserts and deletes, with a change set per change and a growing revision", () => {
    const s = new Store();
    expect(s.revision).toBe(0);
    const cs = s.apply("file", [up(pod("a")), up(svc("web"))]);
    expect(cs?.revision).toBe(1);
    expect(cs?.kinds).toEqual(new Set(["Pod", "Service"]));
    expect(cs?.keys).toEqual(new Set(["Pod/default/a", "Service/default/web"]));
    expect(cs?.sources).toEqual(new Set(["file"]));
    expect(s.snapshot().of("Pod").get("Pod/default/a")).toEqual(pod("a"));
    expect(s.snapshot().get("Service/default/web")).toEqual(svc("web"));
    expect(s.snapshot().size).toBe(2);
    const cs2 = s.apply("file", [del(pod("a"))]);
    expect(cs2?.revision).toBe(2);
    expect(cs2?.kinds).toEqual(new Set(["Pod"]));
    expect(s.snapshot().of("Pod").size).toBe(0);
  });

  it("treats a structurally identical upsert, an unknown delete and a cancelling batch as no change", () => {
    const s = new Store();
    s.apply("file", [up(pod("a"))]);
    expect(s.apply("file", [up(pod("a"))])).toBeUndefined(); // a fresh but equal object
    expect(s.apply("file", [del(pod("zzz"))])).toBeUndefined();
    expect(s.apply("file", [up(pod("b")), del(pod("b"))])).toBeUndefined();
    expect(s.apply("file", [up(pod("a", "v2")), up(pod("a", "v1"))])).toBeUndefined();
    expect(s.revision).toBe(1);
    // the location is part of what is stored: a moved object is a change
    expect(s.apply("file", [up(pod("a", "v1", 7))])?.keys).toEqual(new Set(["Pod/default/a"]));
  });

  it("keeps objects owned by their last writer: a delete from another source changes nothing", () => {
    const s = new Store();
    s.apply("A", [up(pod("x"))]);
    s.apply("B", [up(pod("y"))]);
    expect(s.apply("A", [del(pod("y"))])).toBeUndefined();
    expect(s.snapshot().get("Pod/default/y")).toBeDefined();
    // last write wins, and ownership moves with it
    expect(s.apply("B", [up(pod("x", "v9"))])?.keys).toEqual(new Set(["Pod/default/x"]));
    expect(s.ownerOf("Pod/default/x")).toBe("B");
    expect(s.apply("A", [del(pod("x"))])).toBeUndefined();
    expect(s.snapshot().get("Pod/default/x")?.object.metadata.labels).toEqual({ version: "v9" });
    // a delete from the last writer removes it; A's older version is not revealed
    expect(s.apply("B", [del(pod("x"))])?.keys).toEqual(new Set(["Pod/default/x"]));
    expect(s.snapshot().get("Pod/default/x")).toBeUndefined();
  });

  it("an identical write from another source transfers ownership without a change", () => {
    const s = new Store();
    s.apply("A", [up(pod("x"))]);
    expect(s.apply("B", [up(pod("x"))])).toBeUndefined();
    expect(s.ownerOf("Pod/default/x")).toBe("B");
  });

  it("snapshots are immutable and share the maps of untouched kinds", () => {
    const s = new Store();
    s.apply("f", [up(pod("a")), up(svc("web"))]);
    const before = s.snapshot();
    s.apply("f", [up(pod("b"))]);
    const after = s.snapshot();
    expect(before.of("Pod").size).toBe(1);
    expect(after.of("Pod").size).toBe(2);
    expect(after.of("Service")).toBe(before.of("Service"));
    expect(after.of("Pod")).not.toBe(before.of("Pod"));
    expect(Object.isFrozen(after)).toBe(true);
  });

  it("replace() makes a source's objects exactly the given set", () => {
    const s = new Store();
    s.apply("kube", [up(pod("a")), up(pod("b"))]);
    s.apply("file", [up(pod("c"))]);
    const cs = s.replace("kube", [pod("b", "v2"), pod("d")]);
    expect(cs?.keys).toEqual(new Set(["Pod/default/a", "Pod/default/b", "Pod/default/d"]));
    expect([...s.snapshot().of("Pod").keys()].sort()).toEqual(["Pod/default/b", "Pod/default/c", "Pod/default/d"]);
  });

  it("merges change sets", () => {
    const m = mergeChangeSets(
      { revision: 3, sources: new Set(["a"]), kinds: new Set(["Pod"]), keys: new Set(["Pod/x/a"]) },
      { revision: 5, sources: new Set(["b"]), kinds: new Set(["Service"]), keys: new Set(["Service/x/s"]) },
    );
    expect(m.revision).toBe(5);
    expect(m.kinds).toEqual(new Set(["Pod", "Service"]));
  });
});

describe("Store (property): random upsert/delete batches from several sources equal a simple model", () => {
  const sourceArb = fc.constantFrom("A", "B", "C");
  const objArb = fc
    .record({
      kind: fc.constantFrom("Pod", "Service", "Namespace"),
      name: fc.constantFrom("a", "b", "c"),
      ns: fc.constantFrom("x", "y"),
      variant: fc.constantFrom("1", "2"),
      line: fc.constantFrom(1, 2),
    })
    .map(({ kind, name, ns, variant, line }): StoredObject => {
      const source = { file: "f.yaml", line };
      if (kind === "Pod") return { object: { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels: { v: variant } } }, source };
      if (kind === "Service")
        return { object: { apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns }, spec: { ports: [{ port: Number(variant) }] } }, source };
      return { object: { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { v: variant } } }, source };
    });
  const eventArb: fc.Arbitrary<StoreEvent> = fc.oneof(
    objArb.map((object): StoreEvent => ({ type: "upsert", object })),
    objArb.map((o): StoreEvent => ({ type: "delete", key: keyOf(o.object) })),
  );
  const batchArb = fc.record({ source: sourceArb, events: fc.array(eventArb, { maxLength: 5 }) });

  it("holds", () => {
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 30 }), (batches) => {
        const store = new Store();
        const model = new Map<string, { owner: string; stored: StoredObject }>();
        const history: { snap: ReturnType<Store["snapshot"]>; content: Map<string, StoredObject> }[] = [];
        let revision = 0;
        for (const { source, events } of batches) {
          const before = new Map([...model].map(([k, v]) => [k, v.stored]));
          for (const ev of events) {
            if (ev.type === "upsert") model.set(keyOf(ev.object.object), { owner: source, stored: ev.object });
            else if (model.get(ev.key)?.owner === source) model.delete(ev.key);
          }
          const after = new Map([...model].map(([k, v]) => [k, v.stored]));
          const changed = new Set([...new Set([...before.keys(), ...after.keys()])].filter((k) => !deepEqual(before.get(k), after.get(k))));

          const cs = store.apply(source, events);
          if (changed.size === 0) expect(cs).toBeUndefined();
          else {
            revision++;
            expect(cs?.revision).toBe(revision);
            expect(cs?.keys).toEqual(changed);
            expect(cs?.kinds).toEqual(new Set([...changed].map((k) => k.slice(0, k.indexOf("/")))));
          }
          const snap = store.snapshot();
          expect(snap.revision).toBe(revision);
          const content = new Map<string, StoredObject>();
          for (const k of INPUT_KINDS) for (const [key, v] of snap.of(k)) content.set(key, v);
          expect(content).toEqual(after);
          for (const [k, v] of model) expect(store.ownerOf(k)).toBe(v.owner);
          history.push({ snap, content });
        }
        // older snapshots never change
        for (const h of history) {
          const content = new Map<string, StoredObject>();
          for (const k of INPUT_KINDS) for (const [key, v] of h.snap.of(k)) content.set(key, v);
          expect(content).toEqual(h.content);
        }
      }),
      { numRuns: 300 },
    );
  });
});
