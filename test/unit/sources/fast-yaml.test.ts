/**
 * The quick YAML reading (js-yaml, no positions) gives what the exact one (`yaml`, every node's
 * position) gives, or declines: same values, same document numbers and lines, same diagnostics,
 * and field lines that, once asked for, equal the exact ones.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { dump } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { DeferredFieldLines } from "../../../src/api/diagnostics.js";
import { Codes } from "../../../src/api/codes.js";
import { MAX_NESTING, nestingDepth } from "../../../src/api/parse.js";
import { quickDocuments } from "../../../src/sources/file/fast-yaml.js";
import { parseYamlFile, parseYamlFileWithPositions, type FileLoad } from "../../../src/sources/file/loader.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

/** What `yaml` reads: each document's value and the 1-based line its content starts on. */
function exactDocuments(text: string): { value: unknown; line: number | undefined }[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const lineOf = (offset: number): number => starts.filter((s) => s <= offset).length;
  return parseAllDocuments(text, { merge: true, uniqueKeys: true }).map((d) => {
    if (d.errors.length > 0) throw new Error("invalid YAML");
    const value = d.toJS({ maxAliasCount: 100 }) as unknown;
    return { value, line: value === null ? undefined : lineOf(d.contents!.range[0]) };
  });
}

/** The quick reading's documents without their keys, if it reads the text. */
function quick(text: string): { value: unknown; line: number | undefined }[] | undefined {
  // a document of null content is skipped unread: its line is never used
  return quickDocuments(text)?.map(({ value, line }) => ({ value, line: value === null ? undefined : line }));
}

/** A FileLoad with deferred field lines worked out, as plain data. */
function settled(load: FileLoad): unknown {
  return JSON.parse(
    JSON.stringify(load, (_k, v: unknown) => (v instanceof DeferredFieldLines ? (Object.keys(v.table).length ? v.table : undefined) : v)),
  ) as unknown;
}

describe("quick YAML reading", () => {
  const files = [...yamlFiles(path.join(ROOT, "test/golden")), ...yamlFiles(path.join(ROOT, "examples"))];

  it("reads the golden inputs and examples as the exact reading does", () => {
    let quickOnes = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const exact = parseYamlFileWithPositions(file, text);
      const got = parseYamlFile(file, text);
      expect(settled(got), file).toEqual(settled(exact));
      if (got.results.some((r) => r.status === "valid" && r.stored.source?.fieldLines instanceof DeferredFieldLines)) quickOnes++;
    }
    // most of them have no diagnostic, so the quick reading is what served them
    expect(quickOnes).toBeGreaterThan(files.length / 2);
  });

  it("defers field lines until asked, then gives the exact lines", () => {
    const text =
      "# services\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n  hosts:\n  - r\n  http:\n  - route:\n    - destination:\n        host: r\n";
    const got = parseYamlFile("f.yaml", text).results[0]!;
    const exact = parseYamlFileWithPositions("f.yaml", text).results[0]!;
    if (got.status !== "valid" || exact.status !== "valid") throw new Error("expected valid objects");
    const lines = got.stored.source?.fieldLines;
    expect(lines).toBeInstanceOf(DeferredFieldLines);
    expect((lines as DeferredFieldLines).table).toEqual(exact.stored.source?.fieldLines);
    expect((lines as DeferredFieldLines).table["spec.http[0].route[0].destination.host"]).toBe(13);
    expect(got.stored.source?.line).toBe(3);
  });

  it("falls back to the exact reading when a document has a diagnostic", () => {
    const text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 99999\n";
    const got = parseYamlFile("f.yaml", text);
    expect(got).toEqual(parseYamlFileWithPositions("f.yaml", text));
    expect(got.diagnostics.length).toBeGreaterThan(0);
    expect(got.diagnostics[0]?.source?.line).toBe(7);
  });

  it("resolves plain scalars as YAML 1.2's core schema", () => {
    const scalars = [
      "0o17",
      "017",
      "0x1F",
      "0X1F",
      "0b101",
      "1_000",
      "1e3",
      "1E+3",
      "1.",
      ".5",
      "-.5",
      "+1",
      "-0",
      "+.inf",
      "-.Inf",
      ".NaN",
      ".nan",
      "NaN",
      "yes",
      "no",
      "on",
      "off",
      "y",
      "True",
      "TRUE",
      "tRue",
      "~",
      "null",
      "Null",
      "NULL",
      "nULL",
      "",
      "12:30",
      "2001-12-14",
      "1,000",
      "0x",
      "0o",
      "9007199254740993",
      "1.5e",
      "e5",
      "'quoted'",
      '"0x10"',
      "a: b",
      "-",
      "a #c",
      "@x",
      "`y",
    ];
    for (const s of scalars) {
      const text = `k: ${s}\nl:\n- ${s}\n`;
      let exact: unknown;
      try {
        exact = exactDocuments(text);
      } catch {
        continue;
      }
      const got = quick(text);
      if (got !== undefined) expect(got, s).toEqual(exact);
    }
  });

  it("numbers documents and their lines as the exact reading does", () => {
    const texts = [
      "",
      "# c\n",
      "# c\n---\na: 1\n",
      "---\na: 1\n",
      "a: 1\n---\n",
      "a: 1\n---\n# c\n",
      "\u00a0\n",
      "a: 1\n---\n\u00a0\n",
      "\u2028\n---\na: 1\n",
      "a: 1\n---\n---\nb: 2\n",
      "a: 1\n---\n# only\n---\nb: 2",
      "\n\n---\n\na: 1",
      "a: 1\n--- \nb: 1\n",
      "a: 1\n---  # x\n  # y\n\nb: 1\n",
      "a: 1\r\n---\r\nb: |\r\n  x\r\n  y\r\n",
      "- a\n- b\n---\nc\n",
      "a: |\n  x\n---\nb: >\n  y\n  z\n",
    ];
    for (const t of texts) expect(quick(t), JSON.stringify(t)).toEqual(exactDocuments(t));
  });

  it("declines what it could read differently", () => {
    const declined = [
      "%YAML 1.1\n---\na: yes\n",
      "a: 1\n...\nb: 2\n",
      "a: &x {b: 1}\nc: *x\n",
      "a: !!str 1\n",
      "base: &b {x: 1}\nd:\n  <<: *b\n",
      "? [a, b]\n: c\n",
      "[a, b]: c\n",
      "~: a\n",
      "a: 1\na: 2\n",
      "--- a: 1\n",
      "\uFEFFa: 1\n",
      "a: [1,\n",
      "a: 1\rb: 2\r",
    ];
    for (const t of declined) expect(quickDocuments(t), JSON.stringify(t)).toBeUndefined();
  });

  it("agrees with the exact reading on generated documents", () => {
    const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("apiVersion", "kind", "spec", "-", "a b", "1", "true", "null", "~"));
    const leaf = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: "grapheme", maxLength: 10 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        "0x1F",
        "0o7",
        "1e3",
        "yes",
        "on",
        "~",
        "12:30",
        "- a",
        "a: b",
        "#x",
        "'q'",
        '"d"',
        "line\nbreak",
        " lead",
        "trail ",
        "\ttab",
        " ",
        "\u00a0",
        "\u2028",
        "\u3000",
        "\r",
      ),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(key, tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), fc.constantFrom("yaml", "yaml-flow", "js-yaml"), (docs, how) => {
        const text = docs.map((d) => (how === "js-yaml" ? dump(d) : stringify(d, how === "yaml-flow" ? { collectionStyle: "flow" } : {}))).join("---\n");
        let exact: unknown;
        try {
          exact = exactDocuments(text);
        } catch {
          return;
        }
        const got = quick(text);
        if (got !== undefined) expect(got).toEqual(exact);
        // the one walk that checks the tree also measures its depth, as parseDocument would
        for (const d of quickDocuments(text) ?? []) expect(d.depth).toBe(nestingDepth(d.value, MAX_NESTING));
      }),
      { numRuns: 2000 },
    );
  });

  it("measures each document's depth in its one walk, and leaves a too deep one to the exact reading", () => {
    // root, spec, x, then one level per list
    const service = (lists: number): string => `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  x: ${"[".repeat(lists)}${"]".repeat(lists)}\n`;
    const deepest = service(MAX_NESTING - 2);
    expect(quickDocuments(deepest)?.map((d) => d.depth)).toEqual([MAX_NESTING]);
    const tooDeep = service(MAX_NESTING - 1);
    expect(quickDocuments(tooDeep)).toBeUndefined();
    const got = parseYamlFile("f.yaml", tooDeep);
    expect(got).toEqual(parseYamlFileWithPositions("f.yaml", tooDeep));
    expect(got.diagnostics.map((d) => [d.code, d.source?.line])).toEqual([[Codes.TooDeep, 1]]);
  });
});
