/**
 * The command line loads what a command needs and nothing else: `--help` and offline `translate`
 * must not pull in gRPC, the Kubernetes client, the CA's X.509 library, pino, the metrics
 * registry or the generated Envoy schemas (each costs start-up time and memory; issue 12 item 3);
 * `serve` loads what it uses when it first uses it.
 * Checked by the modules the built CLI really loads (the bundle's chunks, mapped back to the
 * source files they hold), never by a time.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { bundleSources, traceModules, type ModuleTrace } from "../../support/module-trace.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = join(ROOT, "dist/cli/main.js");
const EXAMPLE = join(ROOT, "examples/reviews-canary");
const PROXY = "sidecar~10.244.0.10~productpage-v1.default~default.svc.cluster.local";

/** Modules no offline command may load, by a part of their path. */
const HEAVY = [
  "/node_modules/@grpc/",
  "/node_modules/@kubernetes/client-node/",
  "/node_modules/@peculiar/",
  "/node_modules/pino/",
  "/node_modules/prom-client/",
  "/node_modules/diff/",
  "/src/gen/",
  "/src/xds/",
  "/src/runtime/serve.ts",
  "/src/sources/kube/",
  "/src/ca/",
];

const heavyIn = (t: ModuleTrace): string[] => t.modules.filter((m) => HEAVY.some((h) => m.includes(h)));

describe("the CLI loads only what a command needs", () => {
  let help: ModuleTrace;
  let translate: ModuleTrace;
  let serveHelp: ModuleTrace;
  let serveDir: ModuleTrace;
  /** The URLs as loaded, before chunks are mapped to their sources. */
  let raw: (readonly string[])[];
  beforeAll(async () => {
    const traced = await Promise.all([
      traceModules([MAIN, "--help"], ROOT),
      traceModules([MAIN, "translate", "--config-dir", EXAMPLE, "--proxy", PROXY, "--type", "clusters"], ROOT),
      traceModules([MAIN, "serve", "--help"], ROOT),
      traceModules(
        [MAIN, "serve", "--config-dir", EXAMPLE, "--xds-address", "127.0.0.1:0", "--debug-address", "127.0.0.1:0", "--no-secure-xds", "--no-inject"],
        ROOT,
        { stopWhen: '"meshpilot ready"' },
      ),
    ]);
    raw = traced.map((t) => t.modules);
    const sources = (t: ModuleTrace): ModuleTrace => ({ ...t, modules: bundleSources(t.modules, ROOT) });
    [help, translate, serveHelp, serveDir] = [sources(traced[0]), sources(traced[1]), sources(traced[2]), sources(traced[3])];
  });

  it("runs from the bundle: no module of tsc's dist/ but the bin's entry and the bundle's loader", () => {
    const dist = `file://${ROOT}dist/`;
    const entry = /^main-[A-Z0-9]+\.cjs$/;
    for (const modules of raw) {
      expect(modules.filter((m) => m.startsWith(`${dist}bundle/`) && entry.test(m.slice(`${dist}bundle/`.length)))).toHaveLength(1);
      expect(
        modules.filter((m) => m.startsWith(dist) && !m.startsWith(`${dist}bundle/`) && m !== `${dist}cli/main.js` && m !== `${dist}cli/bundle-loader.js`),
      ).toEqual([]);
    }
  });

  it("loads the same chunks with the code cache off (Node's own loader)", async () => {
    const plain = await traceModules([MAIN, "--help"], ROOT, { env: { MESHPILOT_CODE_CACHE: "off" } });
    expect(plain.code).toBe(0);
    const chunks = (modules: readonly string[]) => modules.filter((m) => m.includes("/dist/bundle/")).sort();
    expect(chunks(plain.modules)).toEqual(chunks(raw[0]!));
    expect(chunks(raw[0]!).length).toBeGreaterThan(1);
  });

  it("--help loads commander and none of the heavy modules", () => {
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("translate");
    expect(help.modules.some((m) => m.includes("/node_modules/commander/"))).toBe(true);
    expect(heavyIn(help)).toEqual([]);
    // not even the translator or the YAML parser
    expect(help.modules.filter((m) => m.includes("/src/translate/") || m.includes("/node_modules/yaml/"))).toEqual([]);
  });

  it("serve --help loads nothing of the server", () => {
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toContain("--config-dir");
    expect(heavyIn(serveHelp)).toEqual([]);
  });

  it("serve of a config directory without CA or webhook loads gRPC but not the Kubernetes client, the CA or X.509", () => {
    expect(serveDir.code).toBe(0);
    expect(serveDir.modules.some((m) => m.includes("/node_modules/@grpc/grpc-js/"))).toBe(true);
    const notUsed = [
      "/node_modules/@kubernetes/client-node/",
      "/node_modules/@peculiar/",
      "/src/ca/pki.ts",
      "/src/ca/mesh-ca.ts",
      "/src/ca/ca-service.ts",
      "/src/sources/kube/",
      "/src/runtime/webhook",
      "/src/runtime/identity",
      // the Envoy types come from one descriptor set, not from the generated modules
      "/src/gen/",
      // and protobuf-es builds only the well-known types they import (each file builds its own on load)
      ...["api", "type", "field_mask", "source_context", "compiler/plugin", "cpp_features", "go_features", "java_features"].map(
        (f) => `/@bufbuild/protobuf/dist/esm/wkt/google/protobuf/${f}_pb.js`,
      ),
      // files without a diagnostic are read by the quick YAML reader
      "/node_modules/yaml/",
      // the live view, and the explain code it uses, until the first visit
      "/src/debug/live-view/state.ts",
      "/src/debug/live-view/stream.ts",
      "/src/explain/",
      // the metrics are kept without prom-client until the first scrape
      "/node_modules/prom-client/",
      "/node_modules/@opentelemetry/",
      // only a Telemetry filter needs CEL, only a regex RE2, only the debug API's push diffs a diff
      "/node_modules/@marcbachmann/cel-js/",
      "/node_modules/re2js/",
      "/node_modules/diff/",
    ];
    expect(serveDir.modules.filter((m) => notUsed.some((h) => m.includes(h)))).toEqual([]);
    expect(serveDir.modules.some((m) => m.includes("/node_modules/js-yaml/"))).toBe(true);
    expect(serveDir.modules.some((m) => m.includes("/@bufbuild/protobuf/dist/esm/wkt/google/protobuf/duration_pb.js"))).toBe(true);
  });

  it("translate loads the translator but no gRPC, Kubernetes client, CA, logger or Envoy schemas", () => {
    expect(translate.code).toBe(0);
    expect(JSON.parse(translate.stdout)).toContainEqual(expect.objectContaining({ name: "outbound|9080|v1|reviews.default.svc.cluster.local" }));
    expect(translate.modules.some((m) => m.includes("/src/translate/"))).toBe(true);
    expect(heavyIn(translate)).toEqual([]);
  });
});
