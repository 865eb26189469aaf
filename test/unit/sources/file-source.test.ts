import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../../src/api/diagnostics.js";
import { FileSource, type FileSourceUpdate } from "../../../src/sources/file/file-source.js";
import { Store } from "../../../src/store/store.js";

/** Poll `cond` until it holds; fail after `ms` (a bound, not a timing assertion). */
async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const vs = (name: string, weight: number | string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: shop
spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}, subset: v1}
      weight: ${weight}
    - destination: {host: ${name}, subset: v2}
      weight: 10
`;
const svc = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  ports: [{name: http, port: 9080}]
`;

describe("FileSource (real watcher on a temp dir)", () => {
  let dir: string;
  let store: Store;
  let updates: FileSourceUpdate[];
  let diagnostics: readonly Diagnostic[];
  let source: FileSource | undefined;
  const weightOf = (name: string): unknown => {
    const o = store.snapshot().get(`VirtualService/shop/${name}`)?.object;
    return o?.kind === "VirtualService" ? o.spec.http?.[0]?.route?.[0]?.weight : undefined;
  };
  const start = async (debounceMs = 20): Promise<FileSource> => {
    source = new FileSource({
      dir,
      debounceMs,
      onUpdate: (u) => {
        updates.push(u);
        store.apply(u.source, u.events);
        diagnostics = u.diagnostics;
      },
    });
    await source.start();
    return source;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mp-filesource-"));
    store = new Store();
    updates = [];
    diagnostics = [];
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads the directory on start and delivers one initial update", async () => {
    mkdirSync(path.join(dir, "routes"));
    writeFileSync(path.join(dir, "services.yaml"), `${svc("reviews")}---\n${svc("ratings")}`);
    writeFileSync(path.join(dir, "routes/reviews.yaml"), vs("reviews", 90));
    writeFileSync(path.join(dir, "deploy.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
    const s = await start();
    expect(updates).toHaveLength(1);
    expect(updates[0]?.initial).toBe(true);
    expect(updates[0]?.source).toBe(`file:${dir}`);
    expect(store.snapshot().size).toBe(3);
    expect(weightOf("reviews")).toBe(90);
    expect(diagnostics.map((d) => `${d.severity} ${d.code}`)).toEqual(["info MP0004"]);
    expect(s.objects()).toHaveLength(3);
  });

  it("delivers an initial update for an empty directory, and rejects a missing one", async () => {
    await start();
    expect(updates).toEqual([expect.objectContaining({ initial: true, events: [], diagnostics: [] })]);
    await expect(new FileSource({ dir: path.join(dir, "nope"), onUpdate: () => undefined }).start()).rejects.toThrow();
  });

  it("keeps serving the last valid version through a broken edit, then picks up the fix", async () => {
    const file = path.join(dir, "reviews.yaml");
    writeFileSync(file, `${vs("reviews", 90)}---\n${svc("reviews")}`);
    await start();
    expect(weightOf("reviews")).toBe(90);

    writeFileSync(file, `${vs("reviews", -3)}---\n${svc("reviews")}`);
    await waitFor("the error for the broken edit", () => diagnostics.some((d) => d.severity === "error"));
    const err = diagnostics.find((d) => d.severity === "error");
    expect(err).toMatchObject({
      code: "IST0106",
      path: "spec.http[0].route[0].weight",
      object: { kind: "VirtualService", namespace: "shop", name: "reviews" },
      source: { file, document: 1, line: 11 },
    });
    expect(err?.message).toMatch(/weight -3 < 0/);
    expect(weightOf("reviews")).toBe(90);
    expect(store.snapshot().get("Service/shop/reviews")).toBeDefined();

    writeFileSync(file, `${vs("reviews", 50)}---\n${svc("reviews")}`);
    await waitFor("the fixed version", () => weightOf("reviews") === 50);
    await waitFor("the error to disappear", () => diagnostics.length === 0);
  });

  it("keeps all objects of a file that becomes invalid YAML, and names file and line", async () => {
    const file = path.join(dir, "all.yaml");
    writeFileSync(file, `${svc("a")}---\n${svc("b")}`);
    await start();
    writeFileSync(file, `${svc("a")}---\napiVersion: v1\nkind: Service\nmetadata: {name: b\n`);
    await waitFor("the YAML error", () => diagnostics.some((d) => d.code === "MP0001"));
    const d = diagnostics.find((x) => x.code === "MP0001");
    expect(d?.source?.file).toBe(file);
    expect(d?.source?.document).toBe(2);
    expect(d?.source?.line).toBeGreaterThanOrEqual(4);
    expect(store.snapshot().of("Service").size).toBe(2);
  });

  it("deletes the objects of a deleted file and of documents removed from a file; other files are untouched", async () => {
    writeFileSync(path.join(dir, "a.yaml"), `${svc("a")}---\n${svc("a2")}`);
    writeFileSync(path.join(dir, "b.yaml"), svc("b"));
    await start();
    expect(store.snapshot().of("Service").size).toBe(3);
    unlinkSync(path.join(dir, "b.yaml"));
    await waitFor("b deleted", () => store.snapshot().get("Service/shop/b") === undefined);
    writeFileSync(path.join(dir, "a.yaml"), svc("a"));
    await waitFor("a2 deleted", () => store.snapshot().get("Service/shop/a2") === undefined);
    expect(store.snapshot().get("Service/shop/a")).toBeDefined();
  });

  it("picks up new files and directories, and atomic renames (editor saves)", async () => {
    await start();
    mkdirSync(path.join(dir, "new"));
    writeFileSync(path.join(dir, "new/x.yaml"), svc("x"));
    await waitFor("x loaded", () => store.snapshot().get("Service/shop/x") !== undefined);
    writeFileSync(path.join(dir, "new/.x.yaml.tmp"), `${vs("x", 7)}---\n${svc("x")}`);
    renameSync(path.join(dir, "new/.x.yaml.tmp"), path.join(dir, "new/x.yaml"));
    await waitFor("renamed file loaded", () => weightOf("x") === 7);
  });

  it("follows a file replaced by rename and then written in place, also in a directory made later", async () => {
    writeFileSync(path.join(dir, "reviews.yaml"), vs("reviews", 90));
    await start();
    writeFileSync(path.join(dir, ".reviews.yaml.tmp"), vs("reviews", 80));
    renameSync(path.join(dir, ".reviews.yaml.tmp"), path.join(dir, "reviews.yaml"));
    await waitFor("the renamed version", () => weightOf("reviews") === 80);
    writeFileSync(path.join(dir, "reviews.yaml"), vs("reviews", 70)); // in place, same inode
    await waitFor("the in-place edit after the rename", () => weightOf("reviews") === 70);

    mkdirSync(path.join(dir, "later"));
    writeFileSync(path.join(dir, "later/ratings.yaml"), vs("ratings", 90));
    await waitFor("a file in a new directory", () => weightOf("ratings") === 90);
    writeFileSync(path.join(dir, "later/.r.tmp"), vs("ratings", 60));
    renameSync(path.join(dir, "later/.r.tmp"), path.join(dir, "later/ratings.yaml"));
    writeFileSync(path.join(dir, "later/ratings.yaml"), vs("ratings", 50));
    await waitFor("an in-place edit after a rename in the new directory", () => weightOf("ratings") === 50);
  });

  // A quiet period of 10 minutes: whatever arrives within the tests' 10 s bound was not waited for.
  const LONG_QUIET_MS = 600_000;

  it("reads a file renamed into place at once, without waiting for a quiet period", async () => {
    writeFileSync(path.join(dir, "reviews.yaml"), vs("reviews", 90));
    await start(LONG_QUIET_MS);
    writeFileSync(path.join(dir, ".reviews.yaml.tmp"), vs("reviews", 80));
    renameSync(path.join(dir, ".reviews.yaml.tmp"), path.join(dir, "reviews.yaml"));
    await waitFor("the renamed version", () => weightOf("reviews") === 80);
    expect(updates.at(-1)?.files).toEqual([path.join(dir, "reviews.yaml")]);
  });

  it("keeps the objects of a file renamed to another name throughout (both names in one reading)", async () => {
    writeFileSync(path.join(dir, "a.yaml"), svc("moved"));
    await start(LONG_QUIET_MS);
    renameSync(path.join(dir, "a.yaml"), path.join(dir, "b.yaml"));
    await waitFor("served from b.yaml", () => store.snapshot().get("Service/shop/moved")?.source?.file === path.join(dir, "b.yaml"));
    const deletes = updates.flatMap((u) => u.events).filter((e) => e.type === "delete");
    expect(deletes).toEqual([]);
  });

  it("follows a ConfigMap volume's swap of its ..data link (symlinked files)", async () => {
    // As the kubelet lays a ConfigMap out: files are links through ..data to a timestamped directory.
    mkdirSync(path.join(dir, "..2026_01"));
    writeFileSync(path.join(dir, "..2026_01/reviews.yaml"), vs("reviews", 90));
    symlinkSync("..2026_01", path.join(dir, "..data"));
    symlinkSync("..data/reviews.yaml", path.join(dir, "reviews.yaml"));
    await start();
    expect(weightOf("reviews")).toBe(90);
    mkdirSync(path.join(dir, "..2026_02"));
    writeFileSync(path.join(dir, "..2026_02/reviews.yaml"), vs("reviews", 70));
    symlinkSync("..2026_02", path.join(dir, "..data_tmp"));
    renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    await waitFor("the swapped content", () => weightOf("reviews") === 70);
  });

  it("reports a duplicate naming both places and keeps the first", async () => {
    writeFileSync(path.join(dir, "a.yaml"), vs("dup", 1));
    await start();
    writeFileSync(path.join(dir, "b.yaml"), vs("dup", 2));
    await waitFor("duplicate reported", () => diagnostics.some((d) => d.code === "MP0007"));
    const d = diagnostics.find((x) => x.code === "MP0007");
    expect(d?.message).toContain(path.join(dir, "a.yaml"));
    expect(d?.message).toContain(path.join(dir, "b.yaml"));
    expect(weightOf("dup")).toBe(1);
  });

  it("delivers nothing after stop()", async () => {
    const s = await start();
    await s.stop();
    const n = updates.length;
    writeFileSync(path.join(dir, "late.yaml"), svc("late"));
    await new Promise((r) => setTimeout(r, 200));
    expect(updates.length).toBe(n);
  });

  it("reload() rescans on demand without a watcher", async () => {
    source = new FileSource({ dir, watch: false, onUpdate: (u) => store.apply(u.source, u.events) });
    await source.start();
    writeFileSync(path.join(dir, "a.yaml"), svc("a"));
    await source.reload();
    expect(store.snapshot().get("Service/shop/a")).toBeDefined();
  });
});
