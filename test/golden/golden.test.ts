/**
 * Golden tests: each folder holds an `input.yaml` (Kubernetes/Istio objects; the proxy to
 * translate for is given in its leading `# golden:` comment) and one expected file per xDS type
 * plus the diagnostics. `UPDATE_GOLDEN=1` rewrites them and deletes stale ones; otherwise any
 * difference, missing or stale file fails. Every output is also loaded by `envoy --mode validate`.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../src/api/diagnostics.js";
import { encodeProxyResources } from "../../src/pipeline/encode-view.js";
import { validateStaticConfig } from "../support/envoy.js";
import { GOLDEN_DIR as here, goldenCases, translateGoldenCase } from "../support/golden-cases.js";

const update = process.env["UPDATE_GOLDEN"] === "1";
const cases = goldenCases();

describe("golden translation", () => {
  it("has cases", () => expect(cases.length).toBeGreaterThan(0));

  for (const name of cases) {
    it(name, async () => {
      const dir = join(here, name);
      const result = translateGoldenCase(name);
      const r = result.resources;
      const produced: Record<string, string> = {
        "clusters.json": JSON.stringify(r.clusters, null, 2) + "\n",
        "endpoints.json": JSON.stringify(r.endpoints, null, 2) + "\n",
        "listeners.json": JSON.stringify(r.listeners, null, 2) + "\n",
        "routes.json": JSON.stringify(r.routes, null, 2) + "\n",
        "diagnostics.txt": result.diagnostics.map(formatDiagnostic).join("\n") + (result.diagnostics.length ? "\n" : ""),
        // Only for cases that produce Secrets (credentialName).
        ...(r.secrets.length ? { "secrets.json": JSON.stringify(r.secrets, null, 2) + "\n" } : {}),
      };
      const outputs = Object.keys(produced);

      // Every resource must be a valid Envoy message (field names, enum values, types)...
      encodeProxyResources(r);

      const present = readdirSync(dir).filter((f) => f !== "input.yaml");
      if (update) {
        for (const f of present) if (!outputs.includes(f)) rmSync(join(dir, f));
        for (const [f, content] of Object.entries(produced)) writeFileSync(join(dir, f), content);
      } else {
        const stale = present.filter((f) => !outputs.includes(f));
        expect(stale, `stale files in ${name}/ (run with UPDATE_GOLDEN=1)`).toEqual([]);
        for (const [f, content] of Object.entries(produced)) {
          const path = join(dir, f);
          expect(existsSync(path), `${name}/${f} is missing (run with UPDATE_GOLDEN=1)`).toBe(true);
          expect(content, `${name}/${f} differs (review, then UPDATE_GOLDEN=1)`).toBe(readFileSync(path, "utf8"));
        }
      }

      // ...and Envoy itself must accept the whole set.
      const v = await validateStaticConfig({ clusters: r.clusters as object[], listeners: r.listeners as object[], routes: r.routes as object[], endpoints: r.endpoints as object[], secrets: r.secrets as object[] });
      expect(v.ok, `envoy --mode validate rejected ${name}:\n${v.output}`).toBe(true);
    });
  }
});
