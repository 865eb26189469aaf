/**
 * Golden tests: each folder holds an `input.yaml` (Kubernetes/Istio objects; the proxy to
 * translate for is given in its leading `# golden:` comment) and one expected file per xDS type
 * plus the diagnostics. `UPDATE_GOLDEN=1` rewrites them and deletes stale ones; otherwise any
 * difference, missing or stale file fails. Every output is also loaded by `envoy --mode validate`.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { formatDiagnostic } from "../../src/api/diagnostics.js";
import { translateOffline } from "../../src/pipeline/offline.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";
import { encodeResources } from "../../src/xds/encode.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { validateStaticConfig } from "../support/envoy.js";

const here = dirname(fileURLToPath(import.meta.url));
const update = process.env["UPDATE_GOLDEN"] === "1";

interface CaseOptions {
  proxy: string;
  metadata?: Record<string, unknown>;
  /** The proxy's Envoy node.locality, `region/zone/subzone`. */
  locality?: string;
}

function caseOptions(text: string, file: string): CaseOptions {
  const header: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    header.push(line.replace(/^# ?/, ""));
  }
  const start = header.findIndex((l) => l.trim() === "golden:");
  if (start < 0) throw new Error(`${file}: needs a leading "# golden:" comment block with at least "proxy:"`);
  const block = [header[start]!, ...header.slice(start + 1).filter((_, i, rest) => rest.slice(0, i + 1).every((l) => /^\s/.test(l)))];
  const parsed = parseYaml(block.join("\n")) as { golden?: CaseOptions };
  if (!parsed.golden?.proxy) throw new Error(`${file}: "# golden:" block needs "proxy:"`);
  return parsed.golden;
}

const cases = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, "input.yaml")))
  .map((d) => d.name)
  .sort();

describe("golden translation", () => {
  it("has cases", () => expect(cases.length).toBeGreaterThan(0));

  for (const name of cases) {
    it(name, async () => {
      const dir = join(here, name);
      const inputFile = join(dir, "input.yaml");
      const text = readFileSync(inputFile, "utf8");
      const opts = caseOptions(text, inputFile);
      const load = parseYamlFile(`${name}/input.yaml`, text);
      const objects = load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
      const [region = "", zone = "", subZone = ""] = (opts.locality ?? "").split("/");
      const locality = opts.locality ? { locality: { region, zone, subZone } } : {};
      const result = translateOffline(objects, load.diagnostics, { id: opts.proxy, metadata: opts.metadata ?? {}, ...locality });
      if ("error" in result) throw new Error(result.error);
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
      encodeResources(TYPE_URL.cluster, r.clusters.map((c) => ({ name: c.name!, json: c })));
      encodeResources(TYPE_URL.endpoint, r.endpoints.map((c) => ({ name: c.clusterName!, json: c })));
      encodeResources(TYPE_URL.listener, r.listeners.map((l) => ({ name: l.name!, json: l })));
      encodeResources(TYPE_URL.route, r.routes.map((rc) => ({ name: rc.name!, json: rc })));
      encodeResources(TYPE_URL.secret, r.secrets.map((s) => ({ name: s.name!, json: s })));

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
