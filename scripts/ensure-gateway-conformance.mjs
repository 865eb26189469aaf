#!/usr/bin/env node
// Builds the Kubernetes Gateway API conformance suite (the `conformance` module of
// sigs.k8s.io/gateway-api, the release meshpilot implements) from the Go module proxy into the
// tool cache, with the images its base manifests run, so that test/cluster/gateway-conformance.test.ts
// can run it against meshpilot in the local cluster. Nothing of it is committed.
//
//   node scripts/ensure-gateway-conformance.mjs   # prints {"runner": "/…/conformance.test", "images": [...], ...}
//
// What it makes:
// - runner: a test binary (`go test -c`) of a throwaway module whose only test calls the suite's
//   RunConformance; the suite's own flags (-gateway-class, -conformance-profiles, -report-output…)
//   steer it, so nothing of the run is baked into the build.
// - echo-basic: the suite's echo backend (conformance/echo-basic), static, and an image of it
//   under the exact name the base manifests use (gcr.io/k8s-staging-gateway-api/echo-basic:<tag>),
//   written locally as a docker-archive; the cluster imports it, never pulls it.
// - coredns: the base manifests also run a CoreDNS (registry.k8s.io/coredns/coredns:<tag>) for
//   the UDP tests; the suite waits for every pod of its namespace to be Ready, so that image must
//   exist too. It is CoreDNS at the manifest's version with the plugins of the manifest's Corefile,
//   built by ensure-coredns.mjs.
// Both image names are read from the module's base/manifests.yaml, not written here.
//
// Cache: <cache>/gateway-conformance-<ver>, a marker and a lock like the other ensure scripts.
// GOTOOLCHAIN=local, CGO_ENABLED=0.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, isExecutable, run, withLock } from "./cache-util.mjs";
import { writeBinaryImage } from "./cluster/docker-archive.mjs";
import { ensureCoreDNS } from "./ensure-coredns.mjs";
import { GATEWAY_API_VERSION } from "./ensure-gateway-api.mjs";

export const CONFORMANCE_MODULE = "sigs.k8s.io/gateway-api/conformance";
const ECHO_PACKAGE = `${CONFORMANCE_MODULE}/echo-basic`;
/** Bumped when the recipe changes in a way the version does not show. */
const RECIPE = 2;
const MARKER = "gateway-conformance.json";

const goEnv = () => ({ ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GO111MODULE: "on", GOWORK: "off" });

export function gatewayConformanceCacheDir(env = process.env) {
  return join(cacheBase(env), `gateway-conformance-${GATEWAY_API_VERSION}`);
}

function readMarker(dir) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    if (
      m.recipe === RECIPE &&
      m.version === GATEWAY_API_VERSION &&
      isExecutable(m.runner) &&
      isExecutable(m.echoBasic) &&
      m.images.every((i) => existsSync(i.tar))
    )
      return m;
  } catch {
    // not built yet
  }
  return undefined;
}

/** `image:` values of the base manifests, by repository. */
function manifestImages(moduleDir) {
  const text = readFileSync(join(moduleDir, "base", "manifests.yaml"), "utf8");
  const refs = new Set([...text.matchAll(/^\s*image:\s*"?([^"\s]+)"?\s*$/gm)].map((m) => m[1]));
  const find = (repo) => {
    const found = [...refs].filter((r) => r.startsWith(`${repo}:`));
    if (found.length !== 1) throw new Error(`base/manifests.yaml: expected one image of ${repo}, found ${found.join(", ") || "none"}`);
    return found[0];
  };
  const echo = find("gcr.io/k8s-staging-gateway-api/echo-basic");
  const coredns = find("registry.k8s.io/coredns/coredns");
  const other = [...refs].filter((r) => r !== echo && r !== coredns);
  if (other.length > 0) throw new Error(`base/manifests.yaml names images this script does not build: ${other.join(", ")}`);
  // The Corefile's plugins: the first word of each line inside a server block.
  const corefile = /Corefile: \|\n((?:\s{4}.*\n)+)/.exec(text)?.[1] ?? "";
  const plugins = [...new Set([...corefile.matchAll(/^\s+([a-z]+)\b(?!.*\{)/gm)].map((m) => m[1]))].sort();
  if (plugins.length === 0) throw new Error("base/manifests.yaml: no Corefile found for the conformance CoreDNS");
  return { echo, coredns, plugins };
}

/** A one-binary image with the users distroless/static has, and a sticky /tmp. */
function writeUserImage(tar, { ref, path, binary, user, title }) {
  const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
  const group = "root:x:0:\nnonroot:x:65532:\n";
  const text = (p, s) => ({ path: p, type: "file", mode: 0o644, data: Buffer.from(s), size: Buffer.byteLength(s) });
  writeBinaryImage(tar, {
    refs: [ref],
    path,
    binary,
    user,
    config: { Labels: { "org.opencontainers.image.title": title } },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "scripts/ensure-gateway-conformance.mjs" }],
    entries: [{ path: "etc", type: "dir", mode: 0o755 }, text("etc/group", group), text("etc/passwd", passwd), { path: "tmp", type: "dir", mode: 0o1777 }],
  });
}

async function build(dir, log) {
  const started = Date.now();
  const mod = join(dir, "build");
  mkdirSync(mod, { recursive: true });
  const go = (args) => run("nice", ["-n", "10", "go", ...args], { cwd: mod, env: goEnv() });
  writeFileSync(join(mod, "go.mod"), "module meshpilot.local/gatewayconformance\n\ngo 1.25.0\n");
  writeFileSync(
    join(mod, "doc.go"),
    "// Package gatewayconformance runs the Gateway API conformance suite (see conformance_test.go).\npackage gatewayconformance\n",
  );
  writeFileSync(
    join(mod, "conformance_test.go"),
    [
      "package gatewayconformance",
      "",
      'import (\n\t"testing"\n\n\t"sigs.k8s.io/gateway-api/conformance"\n)',
      "",
      "// TestConformance runs the suite as its command-line flags say (-gateway-class, -conformance-profiles, …).",
      "func TestConformance(t *testing.T) { conformance.RunConformance(t) }",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(mod, "tools.go"),
    `//go:build tools\n\n// Package gatewayconformance pins the echo backend built next to the suite.\npackage gatewayconformance\n\nimport _ "${ECHO_PACKAGE}"\n`,
  );
  // The conformance module replaces the API module with its parent directory, which only its own
  // repository has: the API module is required here at the same release instead.
  await go(["mod", "edit", `-require=sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`, `-require=${CONFORMANCE_MODULE}@${GATEWAY_API_VERSION}`]);
  log(`conformance ${GATEWAY_API_VERSION}: go mod tidy`);
  await go(["mod", "tidy"]);
  const runner = join(dir, "conformance.test");
  log(`conformance ${GATEWAY_API_VERSION}: go test -c (cold: a few minutes on 2 cores)`);
  await go(["test", "-c", "-trimpath", "-ldflags", "-s -w", "-o", `${runner}.tmp`, "."]);
  renameSync(`${runner}.tmp`, runner);
  const echoBasic = join(dir, "echo-basic");
  log(`conformance ${GATEWAY_API_VERSION}: go build echo-basic`);
  await go(["build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", `${echoBasic}.tmp`, ECHO_PACKAGE]);
  renameSync(`${echoBasic}.tmp`, echoBasic);

  const { stdout: moduleDir } = await go(["list", "-m", "-f", "{{.Dir}}", CONFORMANCE_MODULE]);
  const refs = manifestImages(moduleDir.trim());
  const echoTar = join(dir, "echo-basic-image.tar");
  writeUserImage(echoTar, { ref: refs.echo, path: "/echo-basic", binary: echoBasic, user: "65532:65532", title: "echo-basic" });
  const corednsVersion = refs.coredns.split(":").pop().replace(/^v/, "");
  const { coredns } = await ensureCoreDNS({ version: corednsVersion, plugins: refs.plugins, log });
  const corednsTar = join(dir, `coredns-${corednsVersion}-image.tar`);
  // Root, with only the NET_BIND_SERVICE the manifest grants: the upstream image runs as nonroot
  // with a file capability on the binary, which a plain tar layer here does not carry.
  writeUserImage(corednsTar, { ref: refs.coredns, path: "/coredns", binary: coredns, user: "0:0", title: "coredns" });

  const buildSeconds = Math.round((Date.now() - started) / 1000);
  log(`conformance ${GATEWAY_API_VERSION}: built in ${buildSeconds} s`);
  return {
    recipe: RECIPE,
    version: GATEWAY_API_VERSION,
    runner,
    echoBasic,
    moduleDir: moduleDir.trim(),
    images: [
      { name: "echo-basic", ref: refs.echo, tar: echoTar },
      { name: "coredns", ref: refs.coredns, tar: corednsTar },
    ],
    buildSeconds,
  };
}

/**
 * Builds the conformance runner and its images if needed. Idempotent, locked, fast once built.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 * @returns {Promise<import("./ensure-gateway-conformance.d.mts").GatewayConformance>}
 */
export async function ensureGatewayConformance(options = {}) {
  const dir = options.cacheDir ? resolve(options.cacheDir) : gatewayConformanceCacheDir();
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-gateway-conformance: ${msg}\n`));
  const cached = readMarker(dir);
  if (cached) return cached;
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 40 * 60_000, log }, async () => {
    const again = readMarker(dir);
    if (again) return again;
    const built = await build(dir, log);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(built, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return built;
  });
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    console.log(JSON.stringify(await ensureGatewayConformance(), null, 2));
  } catch (err) {
    console.error(`ensure-gateway-conformance: ${err.message}`);
    process.exit(1);
  }
}
