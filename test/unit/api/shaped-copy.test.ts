import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { copyRecord } from "../../../src/api/shaped-copy.js";
import { parseYamlFile } from "../../../src/sources/file/loader.js";

/** How many hidden classes (V8 maps) `objects` have between them. */
function hiddenClasses(objects: readonly object[]): number {
  setFlagsFromString("--allow-natives-syntax");
  // Compiled after the flag is set; `%HaveSameMap` is V8's own test of two objects' classes.
  const sameClass = new Function("a", "b", "return %HaveSameMap(a, b)") as (a: object, b: object) => boolean;
  const seen: object[] = [];
  for (const o of objects) if (!seen.some((s) => sameClass(s, o))) seen.push(o);
  return seen.length;
}

const pod = (i: number): string => `apiVersion: v1
kind: Pod
metadata:
  name: p-${i}
  namespace: ns
  labels:
    app: a${i}
    version: v1
  annotations:
    note: n${i}
spec:
  containers:
  - name: c
    image: img
`;

describe("stored objects' hidden classes", () => {
  it("labels, annotations and source locations of stored objects share one class per key sequence", () => {
    const stored = Array.from({ length: 40 }, (_, i) => {
      const r = parseYamlFile(`f${i}.yaml`, pod(i)).results[0]!;
      if (r.status !== "valid") throw new Error(`not valid: ${JSON.stringify(r.diagnostics)}`);
      return r.stored;
    });
    // A spread copy, once frozen, had a class of its own: 40 here, and an enum cache each later.
    expect(hiddenClasses(stored.map((s) => s.source!))).toBe(1);
    expect(hiddenClasses(stored.map((s) => s.object.metadata.labels!))).toBe(1);
    expect(hiddenClasses(stored.map((s) => s.object.metadata.annotations!))).toBe(1);
  });

  it("copyRecord keeps every key as an own property, __proto__ too", () => {
    const v = JSON.parse('{"a":"1","__proto__":"x","b":"2"}') as Record<string, unknown>;
    const c = copyRecord(v);
    expect(Object.keys(c)).toEqual(["a", "__proto__", "b"]);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(c).toEqual(v);
  });
});
