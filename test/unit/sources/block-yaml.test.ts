/**
 * The block reading of plain YAML (block-yaml.ts) gives what js-yaml and the exact reading give,
 * or declines; and it reads what meshpilot's own tools and the usual writers produce.
 */
import fc from "fast-check";
import { dump } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { MAX_NESTING } from "../../../src/api/parse.js";
import { toYaml } from "../../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../../src/loadgen/mesh.js";
import { blockValue, DECLINED } from "../../../src/sources/file/block-yaml.js";
import { quickDocuments } from "../../../src/sources/file/fast-yaml.js";

// The core schema's plain scalars, as fast-yaml.ts resolves them for both readings.
const SCALARS = [
  { test: /^(?:~|[Nn]ull|NULL)?$/, construct: () => null },
  { test: /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, construct: (s: string) => s[0] === "t" || s[0] === "T" },
  {
    test: /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/,
    construct: (s: string) => (s.startsWith("0o") ? parseInt(s.slice(2), 8) : s.startsWith("0x") ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
  },
  {
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/,
    construct: (s: string) => (/nan$/i.test(s) ? NaN : /inf$/i.test(s) ? (s[0] === "-" ? -Infinity : Infinity) : parseFloat(s)),
  },
];

const read = (text: string): unknown => {
  const lines = text.split("\n");
  return blockValue(lines, 0, lines.length, SCALARS, MAX_NESTING + 1);
};

/** `yaml`'s reading of a one-document text, or undefined when it finds an error. */
function exact(text: string): unknown {
  try {
    const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true });
    if (docs.length !== 1 || docs[0]!.errors.length > 0) return undefined;
    return docs[0]!.toJS({ maxAliasCount: 100 }) as unknown;
  } catch {
    return undefined; // e.g. a merge key of something other than a map
  }
}

describe("block YAML reading", () => {
  /** Checks `docs` (stringified by each writer) against the exact reading; returns how many were read here, of how many. */
  function agrees(top: fc.Arbitrary<Record<string, unknown>>, numRuns: number): { read: number; runs: number } {
    let readHere = 0;
    let runs = 0;
    fc.assert(
      fc.property(top, fc.constantFrom("yaml", "yaml-compact", "js-yaml", "js-yaml-compact"), (doc, how) => {
        const text =
          how === "yaml"
            ? stringify(doc)
            : how === "yaml-compact"
              ? stringify(doc, { indentSeq: false })
              : dump(doc, { noArrayIndent: how === "js-yaml-compact" });
        runs++;
        const want = exact(text);
        const got = read(text);
        if (got === DECLINED) return;
        readHere++;
        expect(want, text).not.toBeUndefined();
        expect(got, text).toEqual(want);
        // and the quick reading as a whole agrees, unless it declines the file before reading it
        const whole = quickDocuments(text);
        if (whole !== undefined) expect(whole[0]?.value, text).toEqual(want);
      }),
      { numRuns },
    );
    return { read: readHere, runs };
  }

  /** Trees of `key`s and `leaf`s; `listsOfLists: false` keeps lists of lists out, as Kubernetes objects have none. */
  const tree = (key: fc.Arbitrary<string>, leaf: fc.Arbitrary<unknown>, listsOfLists = true): fc.Arbitrary<Record<string, unknown>> => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("list"), tie("map")),
      list: fc.array(listsOfLists ? tie("node") : fc.oneof(leaf, tie("map")), { maxLength: 4 }),
      map: fc.dictionary(key, tie("node"), { maxKeys: 5 }),
    })).node;
    return fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 });
  };

  it("reads what the writers produce as the exact reading does, or declines", () => {
    const key = fc.oneof(
      fc.constantFrom("apiVersion", "kind", "app.kubernetes.io/name", "x-y_z", "true", "null", "Yes", "__proto__", "1", "a b", "-x", "k:", "<<"),
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_./-]{0,8}$/),
      fc.string({ maxLength: 6 }),
    );
    const leaf = fc.oneof(
      fc.stringMatching(/^[a-z0-9.:/-]{0,12}$/),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: "grapheme", maxLength: 8 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        ...["0x1F", "0o7", "1e3", "-5", "-", "--", "---", "- a", "a: b", "a #b", "a#b", "#x", "'q'", "it's", '"d"', "a\\b", "x:", ":x", "{}", "[]"],
        ...["[a]", "|", ">", "~", "10.0.0.1:80", "\u00a0", " lead", "trail ", "a\nb", "\t", "\u0085", "*a", "&a", "!t", "%x", "@x", "`x", "?x", "?"],
      ),
    );
    agrees(tree(key, leaf), 3000);
  });

  it("reads Kubernetes-like documents itself", () => {
    // (yaml quotes y and n, YAML 1.1's booleans)
    const key = fc.stringMatching(/^[a-z][A-Za-z0-9./-]{0,10}$/).filter((k) => !/^(?:true|false|null|y|n)$/.test(k));
    const leaf = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9.:/-]{0,12}$/), fc.integer(), fc.boolean(), fc.constantFrom("it's", "a b", "", "1.5", "v1"));
    const { read: here, runs } = agrees(tree(key, leaf, false), 1000);
    expect(here).toBeGreaterThan(runs / 2);
  });

  it("reads every document of the load generator's basic mesh (the full one shares objects: anchors)", () => {
    for (const variant of ["basic"] as const) {
      const mesh = new LoadMesh({ services: 3, variant });
      for (const objects of [mesh.globalObjects(), mesh.serviceObjects(0), mesh.serviceObjects(2)])
        for (const [i, doc] of toYaml(objects)
          .split(/^---\n/m)
          .entries()) {
          const got = read(doc);
          expect(got, `${variant} document ${i}:\n${doc}`).not.toBe(DECLINED);
          expect(got).toEqual(exact(doc));
        }
    }
  });

  it("declines what it does not read line by line", () => {
    const declined = [
      "a: |\n  x\n",
      "a: >\n  x\n",
      "a: b\n  c\n",
      "a: [1, 2]\n",
      "a: {b: 1}\n",
      'a: "x\\ty"\n',
      "a: b # c\n",
      "a:\tb\n",
      "a: 1\na: 2\n",
      "true: 1\n",
      "null: 1\n",
      '"a": 1\n',
      "- - a\n",
      "-\n",
      "a:\n  - \n",
      "a: 1\n- b\n",
      " a: 1\n",
      "a: 'x'y'\n",
      "__proto__: 1\n",
      "a: \u0085\n",
    ];
    for (const t of declined) expect(read(t), JSON.stringify(t)).toBe(DECLINED);
  });

  it("reads the compact and indented sequence styles, comments and quoting alike", () => {
    const text = [
      "# leading comment",
      "apiVersion: v1",
      "kind: Service",
      "metadata:",
      "  name: s   ",
      "  labels: {}",
      "  annotations:",
      "    a.b/c: 'it''s'",
      '    d: "x y"',
      "spec:",
      "  ports:",
      "  - name: http",
      "    port: 80",
      "    # a comment line",
      "  - name: tcp",
      "    port: 0x10",
      "  selector:",
      "    - a",
      "    -   b",
      "  empty:",
      "  list: []",
      "",
    ].join("\n");
    const want = exact(text);
    expect(read(text)).toEqual(want);
    expect(want).toMatchObject({ metadata: { name: "s", annotations: { "a.b/c": "it's" } }, spec: { ports: [{ port: 80 }, { port: 16 }], empty: null } });
  });
});
