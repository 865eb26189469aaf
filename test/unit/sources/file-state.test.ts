import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FileConfigState } from "../../../src/sources/file/file-state.js";
import { parseYamlFile } from "../../../src/sources/file/loader.js";
import type { StoreEvent } from "../../../src/store/store.js";

const ns = (name: string, extra = "") => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n${extra}`;
const vs = (name: string, weight: number | string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}}
      weight: ${weight}
`;
const doc = (...docs: string[]) => docs.join("---\n");

setFlagsFromString("--expose-gc");
/** Reads and applies `text` as `file` `times` times; weak references to what each reading parsed. */
function rewrite(s: FileConfigState, file: string, text: string, times: number): WeakRef<object>[] {
  const readings: WeakRef<object>[] = [];
  for (let i = 0; i < times; i++) {
    const load = parseYamlFile(file, text);
    for (const r of load.results) if (r.status === "valid") readings.push(new WeakRef(r.stored));
    s.update(load);
    s.flush();
  }
  return readings;
}
const gc = runInNewContext("gc") as () => void;
const summary = (events: readonly StoreEvent[]) =>
  events.map((e) =>
    e.type === "delete" ? `-${e.key}` : `+${e.object.object.kind}/${e.object.object.metadata.namespace ?? ""}/${e.object.object.metadata.name}`,
  );

describe("FileConfigState", () => {
  it("serves valid objects and deletes what leaves the file", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", doc(ns("one"), ns("two"))));
    expect(summary(s.flush().events)).toEqual(["+Namespace//one", "+Namespace//two"]);
    // "two" moves to document 1, line 1: it is re-delivered with its new location
    s.update(parseYamlFile("a.yaml", ns("two")));
    const f = s.flush();
    expect(summary(f.events)).toEqual(["+Namespace//two", "-Namespace//one"]);
    expect(f.events[0]?.type === "upsert" && f.events[0].object.source).toEqual({ file: "a.yaml", document: 1, line: 1 });
    s.update(parseYamlFile("a.yaml", ns("two")));
    expect(s.flush().events).toEqual([]);
    s.remove("a.yaml");
    expect(summary(s.flush().events)).toEqual(["-Namespace//two"]);
  });

  it("keeps the last valid version of an object whose edit is invalid, with the error and a note", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("vs.yaml", doc(vs("reviews", 100), ns("other"))));
    s.flush();
    s.update(parseYamlFile("vs.yaml", doc(vs("reviews", -1), ns("other"))));
    const f = s.flush();
    expect(f.events).toEqual([]);
    expect(
      s
        .servedObjects()
        .map((o) => o.object.metadata.name)
        .sort(),
    ).toEqual(["other", "reviews"]);
    const err = f.diagnostics.find((d) => d.severity === "error");
    expect(err?.path).toBe("spec.http[0].route[0].weight");
    expect(err?.source).toEqual({ file: "vs.yaml", document: 1, line: 10 });
    expect(f.diagnostics.find((d) => d.severity === "info")?.message).toMatch(/last valid version of VirtualService default\/reviews stays in use/);
    // fixing it serves the new version and clears the diagnostics
    s.update(parseYamlFile("vs.yaml", doc(vs("reviews", 50), ns("other"))));
    const fixed = s.flush();
    expect(summary(fixed.events)).toEqual(["+VirtualService/default/reviews"]);
    expect(fixed.diagnostics).toEqual([]);
  });

  it("keeps the object of a document whose name became unreadable", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", doc(ns("keep"), ns("two"))));
    s.flush();
    // same number of lines, so "two" does not move
    s.update(parseYamlFile("a.yaml", doc("apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {}\n", ns("two"))));
    const f = s.flush();
    expect(f.events).toEqual([]);
    expect(f.diagnostics.map((d) => d.severity)).toEqual(["error", "info"]);
  });

  it("an invalid object never served before is simply refused", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", doc(vs("r", -1), ns("ok"))));
    const f = s.flush();
    expect(summary(f.events)).toEqual(["+Namespace//ok"]);
    expect(f.diagnostics.map((d) => d.severity)).toEqual(["error"]);
  });

  it("keeps every object of a file that stops being valid YAML", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", doc(ns("one"), ns("two"))));
    s.flush();
    s.update(parseYamlFile("a.yaml", "apiVersion: v1\nkind: [oops\n"));
    const f = s.flush();
    expect(f.events).toEqual([]);
    expect(f.diagnostics).toHaveLength(1);
    expect(f.diagnostics[0]?.code).toBe("MP0001");
    s.update(parseYamlFile("a.yaml", ns("one")));
    const g = s.flush();
    expect(summary(g.events)).toEqual(["-Namespace//two"]);
    expect(g.diagnostics).toEqual([]);
  });

  it("a duplicate across files: the first stays, the other is an error naming both places; the next takes over when the first goes", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", ns("dup", "  labels: {from: a}\n")));
    s.update(parseYamlFile("b.yaml", doc(ns("b-only"), ns("dup", "  labels: {from: b}\n"))));
    const f = s.flush();
    expect(summary(f.events)).toEqual(["+Namespace//dup", "+Namespace//b-only"]);
    expect(s.servedObjects().find((o) => o.object.metadata.name === "dup")?.object.metadata.labels).toEqual({ from: "a" });
    const dup = f.diagnostics.find((d) => d.code === "MP0007");
    expect(dup?.severity).toBe("error");
    expect(dup?.source).toEqual({ file: "b.yaml", document: 2, line: 6 });
    expect(dup?.message).toBe(
      "duplicate Namespace dup: already defined in a.yaml (document 1, line 1); this definition at b.yaml (document 2, line 6) is ignored",
    );
    // re-loading the first file keeps it first
    s.update(parseYamlFile("a.yaml", ns("dup", "  labels: {from: a2}\n")));
    expect(summary(s.flush().events)).toEqual(["+Namespace//dup"]);
    expect(s.servedObjects().find((o) => o.object.metadata.name === "dup")?.object.metadata.labels).toEqual({ from: "a2" });
    s.remove("a.yaml");
    const g = s.flush();
    expect(summary(g.events)).toEqual(["+Namespace//dup"]);
    expect(s.servedObjects().find((o) => o.object.metadata.name === "dup")?.object.metadata.labels).toEqual({ from: "b" });
    expect(g.diagnostics.filter((d) => d.code === "MP0007")).toEqual([]);
  });

  it("a duplicate inside one file: the first document stays", () => {
    const s = new FileConfigState();
    s.update(parseYamlFile("a.yaml", doc(ns("d", "  labels: {n: '1'}\n"), ns("d", "  labels: {n: '2'}\n"))));
    const f = s.flush();
    expect(s.servedObjects()[0]?.object.metadata.labels).toEqual({ n: "1" });
    expect(f.diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/already defined in a\.yaml \(document 1, line 1\); this definition at a\.yaml \(document 2, line 7\) is ignored/),
    ]);
  });
  it("a rewrite that leaves an object as it was keeps the earlier reading and lets the new one go", async () => {
    const s = new FileConfigState();
    const text = doc(vs("reviews", 100), ns("other"));
    s.update(parseYamlFile("vs.yaml", text));
    s.flush();
    const first = new Map(s.servedObjects().map((o) => [o.object.metadata.name, o]));
    // each rewrite is a new reading of the same text, as when an editor saves an unchanged file
    const readings = rewrite(s, "vs.yaml", text, 20);
    for (const o of s.servedObjects()) expect(o).toBe(first.get(o.object.metadata.name));
    await new Promise((r) => setTimeout(r, 0)); // a WeakRef holds its target until the job that made it ends
    gc();
    expect(readings.length).toBe(40);
    expect(readings.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });
});

describe("FileConfigState flushed after every change", () => {
  // A flush resolves only the objects of files changed since the last one: flushing after every
  // load must serve, report and have delivered exactly what one flush after all of them gives.
  const file = fc.constantFrom("a.yaml", "b.yaml", "c/d.yaml");
  const text = fc
    .array(fc.tuple(fc.constantFrom("n1", "n2", "n3", "n4"), fc.constantFrom("x", "y")), { maxLength: 4 })
    .map((docs) => doc(...docs.map(([name, label]) => ns(name, `  labels: {v: ${label}}\n`))));
  const op = fc.oneof(fc.record({ file, text }), fc.record({ file, text: fc.constant("kind: [unclosed\n") }), fc.record({ file, remove: fc.constant(true) }));
  const served = (s: FileConfigState) =>
    s
      .servedObjects()
      .map((o) => `${o.object.metadata.name} ${JSON.stringify(o.object.metadata.labels)} ${o.source?.file} ${o.source?.document}`)
      .sort();

  it("serves, reports and delivers what one flush at the end does", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const each = new FileConfigState();
        const once = new FileConfigState();
        const delivered = new Map<string, string>();
        let diagnostics: unknown = [];
        for (const o of ops) {
          for (const s of [each, once]) {
            if ("remove" in o) s.remove(o.file);
            else s.update(parseYamlFile(o.file, o.text));
          }
          const f = each.flush();
          diagnostics = f.diagnostics;
          for (const e of f.events) {
            if (e.type === "delete") delivered.delete(e.key);
            else
              delivered.set(
                `Namespace//${e.object.object.metadata.name}`,
                `${e.object.object.metadata.name} ${JSON.stringify(e.object.object.metadata.labels)} ${e.object.source?.file} ${e.object.source?.document}`,
              );
          }
        }
        const last = once.flush();
        expect(served(each)).toEqual(served(once));
        expect([...delivered.values()].sort()).toEqual(served(once));
        expect(diagnostics).toEqual(last.diagnostics);
      }),
      { numRuns: 300 },
    );
  });
});
