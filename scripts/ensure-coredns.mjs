#!/usr/bin/env node
// Builds CoreDNS, the local cluster's DNS server, from the Go module proxy into the tool cache.
//
//   node scripts/ensure-coredns.mjs        # prints {"coredns": "/…/coredns", "version": "…"}
//
// A throwaway main module of its own (CoreDNS pins client-go and friends at versions other than
// the Kubernetes build's, and one graph would drag both up) whose main imports only the plugins
// the kubeadm-style Corefile uses. The full `coredns` command links every cloud DNS provider,
// which would triple the cold build for nothing this cluster needs.
//
// Cache: <cache>/coredns-<ver>, same marker-and-lock scheme as ensure-kube.mjs. GOTOOLCHAIN=local,
// CGO_ENABLED=0 (a static binary: the image holds nothing else).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, isExecutable, run, withLock } from "./cache-util.mjs";

/** Its client-go (v0.34.3) is the Kubernetes minor the cluster runs. */
export const COREDNS_VERSION = "1.14.0";
const MARKER = "coredns.json";

/** The plugins of kubeadm's Corefile, plus hosts for the external host's name. */
export const COREDNS_PLUGINS = ["cache", "errors", "health", "hosts", "kubernetes", "loadbalance", "log", "loop", "metrics", "ready", "reload"];

/** The cluster's build keeps its plain directory name; another version or plugin set gets its own. */
function defaultCacheDir(version, plugins) {
  const own = version === COREDNS_VERSION && plugins.join(",") === COREDNS_PLUGINS.join(",");
  const key = createHash("sha256").update(plugins.join(",")).digest("hex").slice(0, 8);
  return join(cacheBase(), own ? `coredns-${version}` : `coredns-${version}-${key}`);
}

function readMarker(dir, version, plugins) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    const samePlugins = (m.plugins ?? COREDNS_PLUGINS).join(",") === plugins.join(",");
    if (m.version === version && samePlugins && isExecutable(m.coredns)) return m;
  } catch {
    // not built yet
  }
  return undefined;
}

async function build(dir, version, plugins, log) {
  const started = Date.now();
  const mod = join(dir, "build");
  mkdirSync(mod, { recursive: true });
  const env = { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GO111MODULE: "on" };
  const go = (args) => run("go", args, { cwd: mod, env });
  writeFileSync(join(mod, "go.mod"), `module meshpilot.local/coredns\n\ngo 1.24.0\n\nrequire github.com/coredns/coredns v${version}\n`);
  writeFileSync(
    join(mod, "main.go"),
    [
      "// Command coredns: CoreDNS with only the plugins its Corefile uses.",
      "package main",
      "",
      "import (",
      '\t"github.com/coredns/coredns/coremain"',
      ...plugins.map((p) => `\t_ "github.com/coredns/coredns/plugin/${p}"`),
      ")",
      "",
      "func main() { coremain.Run() }",
      "",
    ].join("\n"),
  );
  log(`coredns ${version}: go mod tidy`);
  await go(["mod", "tidy"]);
  const out = join(dir, "coredns");
  log(`coredns ${version}: go build (cold: a few minutes on 2 cores)`);
  await go(["build", "-trimpath", "-ldflags", "-s -w", "-o", `${out}.tmp`, "."]);
  renameSync(`${out}.tmp`, out);
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  log(`coredns ${version}: built in ${buildSeconds} s`);
  return { version, plugins, coredns: out, buildSeconds };
}

/**
 * Builds CoreDNS if needed and returns its path. Idempotent, locked, a few stat()s once built.
 * The default is the cluster's DNS server; `version` and `plugins` build another one (the Gateway
 * API conformance suite's base manifests run a CoreDNS of their own, with other plugins).
 * @param {{ cacheDir?: string, log?: (msg: string) => void, version?: string, plugins?: readonly string[] }} [options]
 * @returns {Promise<{ version: string, coredns: string }>}
 */
export async function ensureCoreDNS(options = {}) {
  const version = options.version ?? COREDNS_VERSION;
  const plugins = [...(options.plugins ?? COREDNS_PLUGINS)];
  const dir = options.cacheDir ? resolve(options.cacheDir) : defaultCacheDir(version, plugins);
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-coredns: ${msg}\n`));
  const cached = readMarker(dir, version, plugins);
  if (cached) return { version: cached.version, coredns: cached.coredns };
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 40 * 60_000, log }, async () => {
    const again = readMarker(dir, version, plugins);
    if (again) return { version: again.version, coredns: again.coredns };
    const built = await build(dir, version, plugins, log);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(built, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return { version: built.version, coredns: built.coredns };
  });
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    console.log(JSON.stringify(await ensureCoreDNS(), null, 2));
  } catch (err) {
    console.error(`ensure-coredns: ${err.message}`);
    process.exit(1);
  }
}
