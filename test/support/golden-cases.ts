// The golden cases (test/golden/<case>/input.yaml) and the pipeline that translates them, shared
// by the golden test and the tests that need realistic translator output.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { meshConfigFrom, type MeshConfig } from "../../src/model/mesh-config.js";
import type { MeshModel } from "../../src/model/ir.js";
import { ISTIO_TLS_MODE, TLS_MODE_LABEL } from "../../src/model/names.js";
import type { NodeLike } from "../../src/model/proxy.js";
import { translateOffline, type OfflineResult } from "../../src/pipeline/offline.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "golden");

interface CaseOptions {
  proxy: string;
  metadata?: Record<string, unknown>;
  /** The proxy's Envoy node.locality, `region/zone/subzone`. */
  locality?: string;
  /** Mesh config (Istio's MeshConfig fields meshpilot honours), e.g. `{ outboundTrafficPolicy: { mode: REGISTRY_ONLY } }`. */
  meshConfig?: unknown;
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

/** The case folder names, sorted. */
export function goldenCases(): string[] {
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(GOLDEN_DIR, d.name, "input.yaml")))
    .map((d) => d.name)
    .sort();
}

/** One case's parsed input: its valid objects and findings, the proxy's node, the mesh config. */
export interface GoldenInput {
  readonly objects: readonly StoredObject<InputObject>[];
  readonly diagnostics: readonly Diagnostic[];
  readonly node: NodeLike;
  readonly meshConfig: MeshConfig;
}

export function goldenCaseInput(name: string): GoldenInput {
  const inputFile = join(GOLDEN_DIR, name, "input.yaml");
  const text = readFileSync(inputFile, "utf8");
  const opts = caseOptions(text, inputFile);
  const load = parseYamlFile(`${name}/input.yaml`, text);
  const objects = load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
  const [region = "", zone = "", subZone = ""] = (opts.locality ?? "").split("/");
  const locality = opts.locality ? { locality: { region, zone, subZone } } : {};
  const mesh = meshConfigFrom(opts.meshConfig);
  if ("error" in mesh) throw new Error(`${inputFile}: meshConfig: ${mesh.error}`);
  return { objects, diagnostics: load.diagnostics, node: { id: opts.proxy, metadata: opts.metadata ?? {}, ...locality }, meshConfig: mesh.config };
}

/** Translate one case's input for the proxy its `# golden:` header names. */
export function translateGoldenCase(name: string): OfflineResult {
  const c = goldenCaseInput(name);
  const result = translateOffline(c.objects, c.diagnostics, c.node, c.meshConfig);
  if ("error" in result) throw new Error(result.error);
  return result;
}

/** The golden case's own proxy, then a sidecar pod of every Service with a selector, in its namespace. */
export function caseNodes(mesh: MeshModel, own: NodeLike): NodeLike[] {
  const pods = [...mesh.services.values()]
    .filter((s) => !s.entry && Object.keys(s.selector ?? {}).length > 0)
    .map((s, i) => ({
      id: `sidecar~10.250.${i >> 8}.${i & 255}~${s.name}-pod-${i}.${s.namespace}~${s.namespace}.svc.cluster.local`,
      metadata: { LABELS: { ...s.selector, "pod-template-hash": `h${i}`, [TLS_MODE_LABEL]: ISTIO_TLS_MODE } },
    }));
  return [own, ...pods];
}
