#!/usr/bin/env node
// Builds Istio's agent (pilot-agent) from the istio.io/istio Go module into a cache directory
// outside the repo, for the test that runs the unmodified agent against meshpilot. Prints its path.
//
//   node scripts/ensure-istio-agent.mjs    # prints {"version": "v0.0.0-…", "pilotAgent": "/…/pilot-agent", "bootstrapTemplate": "/…"}
//
// istio.io/istio has no semver tags on the Go module proxy, only pseudo-versions of its main
// branch; ISTIO_MODULE_VERSION is one the proxy serves (`go list -m -versions` lists none, so it
// is pinned here). Its go.mod has no replace directives, so a throwaway main module that requires
// it and imports the command (tools.go) resolves with `go mod tidy` and builds with `go build`.
//
// Cache: $MESHPILOT_CACHE/istio-agent-<version>, else ~/.cache/meshpilot/istio-agent-<version>; a
// marker records the binary once built; a directory lock serialises concurrent builders.
// $MESHPILOT_PILOT_AGENT names a prebuilt binary to use as it is. GOTOOLCHAIN=local, CGO_ENABLED=0.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, isExecutable, run, withLock } from "./cache-util.mjs";

/** A main-branch snapshot of Istio (1.31 development, August 2026) that the module proxy serves. */
export const ISTIO_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad";
const PACKAGE = "istio.io/istio/pilot/cmd/pilot-agent";
const MARKER = "istio-agent.json";

export function istioAgentCacheDir(env = process.env) {
  return join(cacheBase(env), `istio-agent-${env.MESHPILOT_ISTIO_VERSION || ISTIO_MODULE_VERSION}`);
}

const goEnv = () => ({ ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GO111MODULE: "on" });

function readMarker(dir, version) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    if (m.version === version && isExecutable(m.pilotAgent) && existsSync(m.bootstrapTemplate ?? "")) return m;
  } catch {
    // not built yet
  }
  return undefined;
}

async function build(dir, version, log) {
  const started = Date.now();
  const mod = join(dir, "build");
  mkdirSync(mod, { recursive: true });
  const go = (args) => run("go", args, { cwd: mod, env: goEnv() });
  writeFileSync(join(mod, "go.mod"), "module meshpilot.local/istioagent\n\ngo 1.26.0\n");
  writeFileSync(
    join(mod, "tools.go"),
    `//go:build tools\n\n// Package tools pins the command built by scripts/ensure-istio-agent.mjs.\npackage tools\n\nimport _ "${PACKAGE}"\n`,
  );
  await go(["mod", "edit", `-require=istio.io/istio@${version}`]);
  log(`istio ${version}: resolving the module graph (go mod tidy; a few hundred MB when cold)`);
  await go(["mod", "tidy"]);
  const out = join(dir, "pilot-agent");
  log(`istio ${version}: go build pilot-agent (cold: several minutes on 2 cores)`);
  await go(["build", "-trimpath", "-ldflags", "-s -w", "-o", `${out}.tmp`, PACKAGE]);
  renameSync(`${out}.tmp`, out);
  // The agent renders Envoy's bootstrap from a template it expects at
  // ./var/lib/istio/envoy/envoy_bootstrap_tmpl.json (in Istio's image); it ships in the module.
  const { stdout: moduleDir } = await go(["list", "-m", "-f", "{{.Dir}}", "istio.io/istio"]);
  const bootstrapTemplate = join(dir, "envoy_bootstrap_tmpl.json");
  copyFileSync(join(moduleDir.trim(), "tools/packaging/common/envoy_bootstrap.json"), bootstrapTemplate);
  const seconds = Math.round((Date.now() - started) / 1000);
  log(`istio ${version}: pilot-agent built in ${seconds} s`);
  return { version, pilotAgent: out, bootstrapTemplate, buildSeconds: seconds };
}

/**
 * Makes sure pilot-agent is built and returns its path. Idempotent, locked, fast once built.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 * @returns {Promise<{ version: string, pilotAgent: string, bootstrapTemplate?: string }>}
 */
export async function ensureIstioAgent(options = {}) {
  const override = process.env.MESHPILOT_PILOT_AGENT;
  if (override) {
    if (!isExecutable(override)) throw new Error(`MESHPILOT_PILOT_AGENT=${override} is not an executable file`);
    return { version: "external", pilotAgent: resolve(override) };
  }
  const version = process.env.MESHPILOT_ISTIO_VERSION || ISTIO_MODULE_VERSION;
  const dir = options.cacheDir ? resolve(options.cacheDir) : istioAgentCacheDir();
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-istio-agent: ${msg}\n`));
  const cached = readMarker(dir, version);
  if (cached) return { version, pilotAgent: cached.pilotAgent, bootstrapTemplate: cached.bootstrapTemplate };
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 40 * 60_000, log }, async () => {
    const again = readMarker(dir, version);
    if (again) return { version, pilotAgent: again.pilotAgent, bootstrapTemplate: again.bootstrapTemplate };
    const built = await build(dir, version, log);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(built, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return { version, pilotAgent: built.pilotAgent, bootstrapTemplate: built.bootstrapTemplate };
  });
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    console.log(JSON.stringify(await ensureIstioAgent(), null, 2));
  } catch (err) {
    console.error(`ensure-istio-agent: ${err.message}`);
    process.exit(1);
  }
}
