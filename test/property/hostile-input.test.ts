/**
 * Hostile input, property-based: for every input kind, thousands of objects made by mutating real
 * ones (the golden cases' inputs) with wrong types, huge strings, deep nesting, invalid regexes,
 * duplicates and unicode. Each must be accepted or refused with a diagnostic that names its code
 * and reason, never a crash; accepted ones must translate, encode as Envoy messages, and a sample
 * of them must be loaded by `envoy --mode validate`.
 *
 * The seed is fixed so a CI failure reproduces; `FC_SEED` explores others, `HOSTILE_RUNS` changes
 * the count per kind.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { KINDS, apiVersions, type KindInfo } from "../../src/api/kinds.js";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { parseObject, type ParseResult } from "../../src/api/parse.js";
import { encodeProxyResources } from "../../src/pipeline/encode-view.js";
import { translateOffline } from "../../src/pipeline/offline.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";
import { validateStaticConfig } from "../support/envoy.js";
import { GOLDEN_DIR, goldenCases } from "../support/golden-cases.js";

const RUNS = Number(process.env["HOSTILE_RUNS"] ?? 10_000);
const SEED = Number(process.env["FC_SEED"] ?? 20261206);
/** Accepted mutants kept per kind for translation (all) and Envoy validation (one merged set). */
const TRANSLATE_PER_KIND = 60;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every raw object of the golden inputs, by kind: realistic starting points for mutation. */
function seedsByKind(): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  for (const name of goldenCases()) {
    const text = readFileSync(join(GOLDEN_DIR, name, "input.yaml"), "utf8");
    for (const doc of parseAllDocuments(text)) {
      const v = doc.toJS() as Json;
      if (v && typeof v === "object" && !Array.isArray(v) && typeof v["kind"] === "string") {
        const list = out.get(v["kind"]) ?? [];
        list.push(v);
        out.set(v["kind"], list);
      }
    }
  }
  return out;
}

/** A kind with no golden input still gets a well-formed skeleton to mutate. */
function skeleton(info: KindInfo): Json {
  return {
    apiVersion: apiVersions(info)[0]!,
    kind: info.kind,
    metadata: { name: "seed", ...(info.namespaced ? { namespace: "default" } : {}) },
    spec: {},
  };
}

function deep(depth: number): Json {
  let v: Json = "bottom";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { n: v };
  return v;
}

const INVALID_REGEXES = ["(", "a{1000000}", "(?<name", "[z-a]", "\\", "(?=look)", "a**", "\\p{NotAClass}"];

/** Values that break assumptions: wrong types, limits, unicode, structure. */
const nasty: fc.Arbitrary<Json | Lazy> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 31), Number.MAX_VALUE, "", " ", "0", "-1", "1e309", "NaN", "*", "~", "..", "/"),
  fc.constantFrom<Json>(...INVALID_REGEXES),
  fc.constantFrom<Json>("é", "\u0000", "\u202e", "🦄.svc.cluster.local", "a\nb", "ns/host", "*/*", "./*", "~/*", "spiffe://x/ns/a/sa/b"),
  fc.constantFrom<Json>("1s", "0s", "-1s", "999999999999s", "1.5h", "10ms", "forever"),
  fc.constantFrom<Json>([], {}, [null], [{}], { "": "" }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 4 }),
  fc.constantFrom(64, 300, 5000).map((depth) => lazy(`deep(${depth})`, () => deep(depth))),
  fc.constantFrom(10_000, 300_000).map((n) => lazy(`"a" × ${n}`, () => "a".repeat(n))),
);

/** A big value made only when applied, so that a failure report prints its recipe, not the value. */
interface Lazy {
  readonly make: () => Json;
  readonly [fc.toStringMethod]: () => string;
}
function lazy(label: string, make: () => Json): Lazy {
  return { make, [fc.toStringMethod]: () => label };
}
/** A fresh value per use: arbitraries hand out the same constant objects, which later mutations would otherwise grow. */
function materialize(v: Json | Lazy): Json {
  if (v === null || typeof v !== "object") return v;
  if ("make" in v && typeof v.make === "function") return (v as Lazy).make();
  return JSON.parse(JSON.stringify(v)) as Json;
}

type Op = readonly [pick: number, action: "replace" | "delete" | "add" | "duplicate", value: Json | Lazy, key: string];

const op: fc.Arbitrary<Op> = fc.tuple(
  fc.nat(),
  fc.constantFrom("replace", "replace", "replace", "delete", "add", "duplicate"),
  nasty,
  fc.oneof(fc.constantFrom("name", "host", "port", "weight", "regex", "labels", "hosts", "mode", "number"), fc.string({ maxLength: 10 })),
);

/** Every container (object or array) in `v` with the path to it, the root first. */
function containers(v: Json, out: Json[] = [], depth = 0): Json[] {
  if (v === null || typeof v !== "object" || depth > 12) return out;
  out.push(v);
  for (const child of Array.isArray(v) ? v : Object.values(v)) containers(child, out, depth + 1);
  return out;
}

function mutate(seed: Json, ops: readonly Op[]): Json {
  const root = JSON.parse(JSON.stringify(seed)) as Json;
  for (const [pick, action, raw, key] of ops) {
    const value = materialize(raw);
    const all = containers(root);
    const target = all[pick % all.length]!;
    if (Array.isArray(target)) {
      const i = target.length ? pick % target.length : 0;
      if (action === "delete") target.splice(i, 1);
      else if (action === "add") target.push(value);
      else if (action === "duplicate" && target.length) target.push(target[i]!);
      else target[i] = value;
    } else if (target && typeof target === "object") {
      const keys = Object.keys(target);
      const k = keys.length ? keys[pick % keys.length]! : key;
      // Own properties only: a key like "__proto__" must become data, as JSON.parse makes it,
      // and never reach (and pollute) a prototype.
      const own = Object.hasOwn(target, k) ? target[k]! : null;
      if (action === "delete") delete target[k];
      else if (action === "add") setOwn(target, key, value);
      else if (action === "duplicate") setOwn(target, `${k}-copy`, own);
      else setOwn(target, k, value);
    }
  }
  return root;
}

function setOwn(o: { [k: string]: Json }, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A refusal must say what and why: a code, an error, a message; and name the object when it has a readable name. */
function checkResult(value: Json, r: ParseResult): string | undefined {
  if (r.status === "skipped") return undefined;
  for (const d of r.diagnostics) {
    if (!/^(MP|IST)\d{4}$/.test(d.code)) return `diagnostic code ${JSON.stringify(d.code)} is not MPnnnn/ISTnnnn`;
    if (typeof d.message !== "string" || d.message.trim().length < 8) return `diagnostic without a reason: ${JSON.stringify(d)}`;
  }
  if (r.status === "valid") return undefined;
  if (!r.diagnostics.some((d) => d.severity === "error")) return "refused without an error diagnostic";
  const meta = value && typeof value === "object" && !Array.isArray(value) ? value["metadata"] : undefined;
  const name = meta && typeof meta === "object" && !Array.isArray(meta) ? meta["name"] : undefined;
  if (r.ref && typeof name === "string" && name && !r.diagnostics.some((d) => d.object?.name === r.ref?.name)) return "refusal does not name the object";
  return undefined;
}

const seeds = seedsByKind();
const baseObjects: StoredObject<InputObject>[] = goldenCases()
  .filter((c) => c === "redirect-inbound" || c === "reviews-canary-redirect")
  .flatMap((c) => parseYamlFile(c, readFileSync(join(GOLDEN_DIR, c, "input.yaml"), "utf8")).results)
  .flatMap((r) => (r.status === "valid" ? [r.stored as StoredObject<InputObject>] : []));

describe("hostile input, every kind", () => {
  for (const info of KINDS) {
    it(`${info.kind}: ${RUNS} mutated objects are accepted or refused clearly, and accepted ones translate`, async () => {
      const kindSeeds = [...(seeds.get(info.kind) ?? []), skeleton(info)];
      const accepted = new Map<string, StoredObject<InputObject>>();
      let refused = 0;
      fc.assert(
        fc.property(fc.nat(), fc.array(op, { minLength: 1, maxLength: 4 }), (s, ops) => {
          const value = mutate(kindSeeds[s % kindSeeds.length]!, ops);
          const r = parseObject({ value, source: { file: "hostile.yaml" } });
          const problem = checkResult(value, r);
          if (problem) throw new Error(`${problem}\ninput: ${JSON.stringify(value).slice(0, 600)}`);
          if (r.status === "valid" && accepted.size < TRANSLATE_PER_KIND) accepted.set(r.key, r.stored as StoredObject<InputObject>);
          if (r.status === "invalid") refused++;
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      // Both outcomes must occur, or the generator is not testing anything.
      expect(refused, "no mutant was refused").toBeGreaterThan(0);
      // A kind without a realistic seed (no golden case yet) may have no valid mutant at all.
      if (seeds.has(info.kind)) expect(accepted.size, "no mutant was accepted").toBeGreaterThan(0);

      // Accepted mutants next to a realistic mesh: each translates and encodes on its own…
      const node = (ns: string) => ({
        id: `sidecar~10.244.0.30~ratings-v1-abc.${ns}~${ns}.svc.cluster.local`,
        metadata: { LABELS: { app: "ratings", version: "v1" } },
      });
      for (const mutant of accepted.values()) {
        const objects = [...baseObjects.filter((o) => o.object.kind !== mutant.object.kind || o.object.metadata.name !== mutant.object.metadata.name), mutant];
        const result = translateOffline(objects, [], node(mutant.object.metadata.namespace ?? "shop"));
        if ("error" in result) throw new Error(result.error);
        encodeProxyResources(result.resources);
      }
      // …and all of them together make one configuration that Envoy itself accepts.
      const all = translateOffline([...baseObjects, ...accepted.values()], [], node("shop"));
      if ("error" in all) throw new Error(all.error);
      const r = all.resources;
      const v = await validateStaticConfig({
        clusters: r.clusters as object[],
        listeners: r.listeners as object[],
        routes: r.routes as object[],
        endpoints: r.endpoints as object[],
        secrets: r.secrets as object[],
      });
      expect(v.ok, `envoy --mode validate rejected the accepted ${info.kind} mutants:\n${v.output}`).toBe(true);
    }, 600_000);
  }
});
