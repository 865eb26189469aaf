#!/usr/bin/env node
// Builds kube-apiserver and etcd from the Go module proxy into a cache directory outside the
// repo, for the tests in test/kube (a real API server, no kubelet or controllers), and on request
// the node's commands for the local cluster (scripts/cluster/). Prints the binaries' paths.
//
//   node scripts/ensure-kube.mjs           # prints {"apiserver": "/…/kube-apiserver", "etcd": "/…/etcd", …}
//   node scripts/ensure-kube.mjs --cluster # also kubelet, controller-manager, scheduler, kube-proxy, kubectl
//
// Why a throwaway Go module: k8s.io/kubernetes requires its staging modules (k8s.io/api,
// k8s.io/apiserver, …) at the fake version v0.0.0, so `go install …@v1.x` cannot work. We make a
// main module that requires k8s.io/kubernetes v1.X.Y and replaces every staging module listed in
// that tag's go.mod with its published tag v0.X.Y; the same module graph holds
// go.etcd.io/etcd/server/v3, whose module root is etcd's main package.
//
// Cache: $MESHPILOT_CACHE/kube-<ver>, else ~/.cache/meshpilot/kube-<ver>. A marker file records
// the binaries once built, so later calls cost a few stat()s. A directory lock serialises
// concurrent builders. $MESHPILOT_KUBE_APISERVER and $MESHPILOT_ETCD, when both set, name
// prebuilt binaries to use as they are. $MESHPILOT_KUBE_VERSION picks another 1.X.Y.
// The build uses GOTOOLCHAIN=local and CGO_ENABLED=0.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, isExecutable, run, withLock } from "./cache-util.mjs";

export const KUBE_VERSION = "1.34.4";
const MARKER = "kube-binaries.json";

function kubeVersion(env = process.env) {
  const v = env.MESHPILOT_KUBE_VERSION || KUBE_VERSION;
  if (!/^1\.\d+\.\d+$/.test(v)) throw new Error(`MESHPILOT_KUBE_VERSION=${v}: expected 1.X.Y`);
  return v;
}

/** Directory holding the Go build module, the binaries and the marker. */
export function kubeCacheDir(env = process.env) {
  const base = cacheBase(env);
  return join(base, `kube-${kubeVersion(env)}`);
}

function readMarker(dir, version) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    if (m.version === version && isExecutable(m.apiserver) && isExecutable(m.etcd)) return m;
  } catch {
    // no marker or a broken one: build again
  }
  return undefined;
}

/** The staging modules: `k8s.io/<name> v0.0.0` requirements of the tagged root go.mod. */
export function stagingModules(goMod) {
  const mods = new Set();
  for (const line of goMod.split("\n")) {
    const m = /^\s*(?:require\s+)?(k8s\.io\/[A-Za-z0-9._/-]+)\s+v0\.0\.0(?:\s|$)/.exec(line);
    if (m) mods.add(m[1]);
  }
  return [...mods].sort();
}

const ldflagsFor = (version) =>
  [
    "-s",
    "-w",
    `-X k8s.io/component-base/version.gitVersion=v${version}`,
    "-X k8s.io/component-base/version.gitMajor=1",
    `-X k8s.io/component-base/version.gitMinor=${version.split(".")[1]}`,
    "-X k8s.io/component-base/version.gitTreeState=clean",
  ].join(" ");

const goEnv = () => ({ ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GO111MODULE: "on" });

/**
 * Writes the throwaway main module (k8s.io/kubernetes at the tag, every staging module replaced by
 * its v0.X.Y tag) with `packages` pinned in tools.go, and resolves it. Rewriting it with more
 * packages later only adds the modules those need; binaries already built stay valid.
 */
async function writeModule(mod, version, packages, log) {
  const staging = `v0.${version.split(".").slice(1).join(".")}`;
  mkdirSync(mod, { recursive: true });
  const go = (args) => run("go", args, { cwd: mod, env: goEnv() });
  log(`kube ${version}: reading the tagged go.mod of k8s.io/kubernetes@v${version}`);
  const dl = JSON.parse((await go(["mod", "download", "-json", `k8s.io/kubernetes@v${version}`])).stdout);
  if (dl.Error) throw new Error(`go mod download k8s.io/kubernetes@v${version}: ${dl.Error}`);
  const modules = stagingModules(readFileSync(dl.GoMod, "utf8"));
  if (modules.length < 10) throw new Error(`found only ${modules.length} staging modules in ${dl.GoMod}`);
  log(`kube ${version}: ${modules.length} staging modules → ${staging}`);

  writeFileSync(join(mod, "go.mod"), "module meshpilot.local/kubetools\n\ngo 1.24.0\n");
  writeFileSync(
    join(mod, "tools.go"),
    [
      "//go:build tools",
      "",
      "// Package tools pins the commands built by scripts/ensure-kube.mjs.",
      "package tools",
      "",
      "import (",
      ...packages.map((p) => `\t_ "${p}"`),
      ")",
      "",
    ].join("\n"),
  );
  const edits = ["mod", "edit", `-require=k8s.io/kubernetes@v${version}`];
  for (const m of modules) edits.push(`-replace=${m}=${m}@${staging}`);
  await go(edits);
  log(`kube ${version}: resolving the module graph (go mod tidy; downloads a few hundred MB when cold)`);
  await go(["mod", "tidy"]);
  return go;
}

const SERVER_PACKAGES = ["go.etcd.io/etcd/server/v3", "k8s.io/kubernetes/cmd/kube-apiserver"];

async function build(dir, version, log) {
  const started = Date.now();
  const mod = join(dir, "build");
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const go = await writeModule(mod, version, SERVER_PACKAGES, log);
  const { stdout: etcdVer } = await go(["list", "-m", "-f", "{{.Version}}", "go.etcd.io/etcd/server/v3"]);

  const apiserver = join(bin, "kube-apiserver");
  const etcd = join(bin, "etcd");
  log(`kube ${version}: go build kube-apiserver (cold: 5–15 min on 2 cores)`);
  const t1 = Date.now();
  await go(["build", "-trimpath", "-ldflags", ldflagsFor(version), "-o", `${apiserver}.tmp`, "k8s.io/kubernetes/cmd/kube-apiserver"]);
  renameSync(`${apiserver}.tmp`, apiserver);
  log(`kube ${version}: kube-apiserver built in ${Math.round((Date.now() - t1) / 1000)} s; go build etcd ${etcdVer.trim()}`);
  const t2 = Date.now();
  await go(["build", "-trimpath", "-ldflags", "-s -w", "-o", `${etcd}.tmp`, "go.etcd.io/etcd/server/v3"]);
  renameSync(`${etcd}.tmp`, etcd);
  log(`kube ${version}: etcd built in ${Math.round((Date.now() - t2) / 1000)} s; total ${Math.round((Date.now() - started) / 1000)} s`);
  return { version, apiserver, etcd, etcdVersion: etcdVer.trim(), buildSeconds: Math.round((Date.now() - started) / 1000) };
}

/**
 * Makes sure kube-apiserver and etcd are built and returns their paths. Idempotent, locked,
 * fast once built. Throws when it cannot build.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 * @returns {Promise<{ version: string, apiserver: string, etcd: string }>}
 */
export async function ensureKube(options = {}) {
  const ovApi = process.env.MESHPILOT_KUBE_APISERVER;
  const ovEtcd = process.env.MESHPILOT_ETCD;
  if (ovApi || ovEtcd) {
    for (const [name, p] of [
      ["MESHPILOT_KUBE_APISERVER", ovApi],
      ["MESHPILOT_ETCD", ovEtcd],
    ]) {
      if (!p || !isExecutable(p)) throw new Error(`${name}=${p ?? ""} is not an executable file (set both or neither)`);
    }
    return { version: "external", apiserver: resolve(ovApi), etcd: resolve(ovEtcd) };
  }
  const version = kubeVersion();
  const dir = options.cacheDir ? resolve(options.cacheDir) : kubeCacheDir();
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-kube: ${msg}\n`));
  const cached = readMarker(dir, version);
  if (cached) return { version, apiserver: cached.apiserver, etcd: cached.etcd };
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 40 * 60_000, log }, async () => {
    const again = readMarker(dir, version);
    if (again) return { version, apiserver: again.apiserver, etcd: again.etcd };
    const built = await build(dir, version, log);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(built, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return { version, apiserver: built.apiserver, etcd: built.etcd };
  });
}

/** The commands a node and its control plane need beyond kube-apiserver and etcd. */
export const CLUSTER_COMMANDS = ["kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubectl"];
const CLUSTER_MARKER = "kube-cluster-binaries.json";

function readClusterMarker(dir, version) {
  try {
    const m = JSON.parse(readFileSync(join(dir, CLUSTER_MARKER), "utf8"));
    if (m.version === version && CLUSTER_COMMANDS.every((c) => isExecutable(m[c]))) return m;
  } catch {
    // not built yet, or a broken marker
  }
  return undefined;
}

async function buildCluster(dir, version, log) {
  const started = Date.now();
  const bin = join(dir, "bin");
  const tmp = join(dir, "bin-cluster.tmp");
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const packages = CLUSTER_COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`);
  const go = await writeModule(join(dir, "build"), version, [...SERVER_PACKAGES, ...packages], log);
  log(`kube ${version}: go build ${CLUSTER_COMMANDS.join(", ")} (cold: about 4 min more on 2 cores once kube-apiserver is built)`);
  await go(["build", "-trimpath", "-ldflags", ldflagsFor(version), "-o", `${tmp}/`, ...packages]);
  const out = { version };
  for (const c of CLUSTER_COMMANDS) {
    renameSync(join(tmp, c), join(bin, c));
    out[c] = join(bin, c);
  }
  rmSync(tmp, { recursive: true, force: true });
  out.buildSeconds = Math.round((Date.now() - started) / 1000);
  log(`kube ${version}: ${CLUSTER_COMMANDS.length} commands built in ${out.buildSeconds} s`);
  return out;
}

/**
 * kube-apiserver and etcd (as ensureKube) plus kubelet, kube-controller-manager, kube-scheduler,
 * kube-proxy and kubectl from the same module graph, for the local cluster (scripts/cluster/).
 * The extra five have their own marker, so the apiserver tests never wait for them.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 */
export async function ensureKubeCluster(options = {}) {
  const server = await ensureKube(options);
  const version = kubeVersion();
  const dir = options.cacheDir ? resolve(options.cacheDir) : kubeCacheDir();
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-kube: ${msg}\n`));
  const pick = (m) => ({ ...server, ...Object.fromEntries(CLUSTER_COMMANDS.map((c) => [c, m[c]])) });
  const cached = readClusterMarker(dir, version);
  if (cached) return pick(cached);
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 40 * 60_000, log }, async () => {
    const again = readClusterMarker(dir, version);
    if (again) return pick(again);
    const built = await buildCluster(dir, version, log);
    const tmp = join(dir, `${CLUSTER_MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(built, null, 2) + "\n");
    renameSync(tmp, join(dir, CLUSTER_MARKER));
    return pick(built);
  });
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const all = process.argv.includes("--cluster");
    console.log(JSON.stringify(all ? await ensureKubeCluster() : await ensureKube(), null, 2));
  } catch (err) {
    console.error(`ensure-kube: ${err.message}`);
    process.exit(1);
  }
}
