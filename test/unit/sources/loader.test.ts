import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { DeferredFieldLines, formatDiagnostic } from "../../../src/api/diagnostics.js";
import { listYamlFiles, loadDirectory, parseYamlFile } from "../../../src/sources/file/loader.js";

/** A megabyte of comment: a file that holds it is easy to see kept. */
const FILLER = `# ${"x".repeat(2 ** 20)}\n`;

/**
 * Reads 16 files `f<i>.yaml` and keeps the first object of each, as the store keeps an object a
 * rewrite left equal; checks that the kept readings hold far less than the files' text. The first.
 */
async function keptReadings(text: (i: number) => string): Promise<ReturnType<typeof parseYamlFile>["results"][number]> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const heapAfterGc = (): number => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  const files = 16;
  const before = heapAfterGc();
  const kept = [];
  for (let i = 0; i < files; i++) kept.push(parseYamlFile(`f${i}.yaml`, text(i)).results[0]!);
  await new Promise((r) => setTimeout(r, 0));
  expect(heapAfterGc() - before).toBeLessThan((files * 2 ** 20) / 8);
  return kept[0]!;
}

describe("parseYamlFile", () => {
  it("names file, document and line of a YAML syntax error, and loads nothing from that file", () => {
    const text = `apiVersion: v1
kind: Namespace
metadata:
  name: ok
---
apiVersion: v1
kind: Service
metadata:
  name: broken
  name: again
`;
    const r = parseYamlFile("conf/bad.yaml", text);
    expect(r.ok).toBe(false);
    expect(r.results).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    const d = r.diagnostics[0];
    expect(d?.code).toBe("MP0001");
    expect(d?.source).toEqual({ file: "conf/bad.yaml", document: 2, line: 10 });
    expect(d?.message).toMatch(/YAML syntax error.*Map keys must be unique/);
    expect(formatDiagnostic(d!)).toMatch(/^error MP0001 conf\/bad\.yaml \(document 2, line 10\): YAML syntax error/);
  });

  it("reports an unterminated flow collection with its line", () => {
    const r = parseYamlFile("x.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n");
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]?.source?.file).toBe("x.yaml");
    expect(r.diagnostics[0]?.source?.line).toBeGreaterThanOrEqual(3);
  });

  it("finds the line of nested fields, list items and map keys", () => {
    const text = `# comment
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: r
spec:
  hosts:
  - r
  http:
  - route:
    - destination:
        host: r
    - destination:
        host: r
        port:
          number: 0
`;
    const r = parseYamlFile("vs.yaml", text);
    const d = r.diagnostics.find((x) => x.path === "spec.http[0].route[1].destination.port.number");
    expect(d?.source?.line).toBe(16);
    const res = r.results[0];
    expect(res?.status).toBe("invalid");
  });

  it("supports anchors and merge keys, and stores the object's first line", () => {
    const text = `apiVersion: v1
kind: Pod
metadata:
  name: a
  labels: &l {app: x, version: v1}
---

apiVersion: v1
kind: Pod
metadata:
  name: b
  labels:
    <<: *l
    version: v2
`;
    const r = parseYamlFile("p.yaml", text);
    // anchors do not cross documents in YAML: the second document fails
    expect(r.ok).toBe(false);
    const same = parseYamlFile(
      "p.yaml",
      `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a, labels: &l {app: x, version: v1}}
- apiVersion: v1
  kind: Pod
  metadata:
    name: b
    labels:
      <<: *l
      version: v2
`,
    );
    expect(same.ok).toBe(true);
    const b = same.results[1];
    expect(b?.status).toBe("valid");
    if (b?.status === "valid") {
      expect(b.stored.object.metadata.labels).toEqual({ app: "x", version: "v2" });
      expect(b.stored.source).toEqual({ file: "p.yaml", document: 1, line: 7 });
    }
  });

  it("keeps for an object's field lines its own document's text, not the whole file's", async () => {
    // A rewrite that leaves an object equal keeps its first reading (in the store and the file
    // state), so under churn what that reading holds stays: here, files with a big second document.
    const vs = (i: number) =>
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r${i}\nspec:\n  hosts: [r${i}]\n  http:\n  - route:\n    - destination:\n        host: r${i}\n`;
    const first = await keptReadings((i) => `# first\n${vs(i)}---\n${FILLER}apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n${i}\n`);
    if (first.status !== "valid") throw new Error("expected a valid object");
    const lines = first.stored.source?.fieldLines;
    expect(lines).toBeInstanceOf(DeferredFieldLines);
    expect((lines as DeferredFieldLines).table).toEqual({
      spec: 6,
      "spec.hosts": 7,
      "spec.http": 8,
      "spec.http[0]": 9,
      "spec.http[0].route[0]": 10,
      "spec.http[0].route[0].destination.host": 11,
    });
  });

  it("keeps none of the file's text in the values of a file read with positions", async () => {
    // An anchor sends the file to the exact reader, whose strings would be views of the whole
    // text: each rewrite of a file that left objects equal would keep one more copy of it.
    const first = await keptReadings(
      (i) =>
        `${FILLER}apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews-rule-${i}\n  labels: &l {app: reviews-application}\nspec:\n  host: reviews.default.svc.cluster.local\n`,
    );
    if (first.status !== "valid") throw new Error("expected a valid object");
    expect(first.stored.object).toMatchObject({
      metadata: { name: "reviews-rule-0", labels: { app: "reviews-application" } },
      spec: { host: "reviews.default.svc.cluster.local" },
    });
    expect(first.stored.source).toMatchObject({ file: "f0.yaml", line: 2 });
  });

  it("skips empty documents", () => {
    const r = parseYamlFile("e.yaml", "---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n");
    expect(r.ok).toBe(true);
    expect(r.results.filter((x) => x.status === "valid")).toHaveLength(1);
    expect(r.diagnostics).toEqual([]);
  });
});

describe("listYamlFiles / loadDirectory", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mp-loader-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists *.yaml and *.yml recursively in order, skipping hidden entries and following symlinks", async () => {
    mkdirSync(path.join(dir, "b/sub"), { recursive: true });
    mkdirSync(path.join(dir, ".git"));
    mkdirSync(path.join(dir, "..2024_data"));
    writeFileSync(path.join(dir, "a.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    writeFileSync(path.join(dir, "b/sub/c.yml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n");
    writeFileSync(path.join(dir, "b/readme.md"), "# no");
    writeFileSync(path.join(dir, ".git/x.yaml"), "nope");
    writeFileSync(path.join(dir, "..2024_data/cm.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: cm}\n");
    symlinkSync(path.join(dir, "..2024_data/cm.yaml"), path.join(dir, "cm.yaml")); // ConfigMap mount layout
    symlinkSync(path.join(dir, "missing.yaml"), path.join(dir, "dangling.yaml"));
    symlinkSync(dir, path.join(dir, "b/loop"));
    const files = await listYamlFiles(dir);
    expect(files.map((f) => path.relative(dir, f))).toEqual(["a.yaml", "b/sub/c.yml", "cm.yaml"]);
    const loads = await loadDirectory(dir);
    expect(loads.flatMap((l) => l.results.map((r) => (r.status === "valid" ? r.key : r.status)))).toEqual(["Namespace//a", "Namespace//c", "Namespace//cm"]);
  });
});
