#!/usr/bin/env node
// Fetches the Kubernetes Gateway API release meshpilot implements (the one Istio 1.30 reads) from
// the Go module proxy, and keeps its experimental-channel CRDs (every kind meshpilot reads,
// TCPRoute included) in the tool cache, for the tests against a real kube-apiserver. Nothing of
// it is committed: the release is the source.
//
//   node scripts/ensure-gateway-api.mjs   # prints {"version": "v1.5.1", "crds": "/…/crds.yaml", "module": "/…"}
//
// `go mod download` is the ordinary client of the proxy and verifies the module against the
// checksum database. Cache: <cache>/gateway-api-<ver>, with a marker and a lock like the others.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, run, withLock } from "./cache-util.mjs";

export const GATEWAY_API_VERSION = "v1.5.1";
export const GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api";
/** The CRDs of the kinds meshpilot reads (plural names), from config/crd/experimental. */
export const GATEWAY_API_CRDS = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "referencegrants"];
const MARKER = "gateway-api.json";

function readMarker(dir) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    if (m.version === GATEWAY_API_VERSION && existsSync(m.crds) && existsSync(m.module)) return m;
  } catch {
    // not fetched yet
  }
  return undefined;
}

async function fetchRelease(dir, log) {
  const env = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", GO111MODULE: "on" };
  log(`${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION}: go mod download`);
  const { stdout } = await run("go", ["mod", "download", "-json", `${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION}`], { cwd: dir, env });
  const info = JSON.parse(stdout);
  if (!info.Dir) throw new Error(`go mod download gave no directory: ${stdout.slice(0, 500)}`);
  const docs = GATEWAY_API_CRDS.map((plural) =>
    readFileSync(join(info.Dir, "config", "crd", "experimental", `gateway.networking.k8s.io_${plural}.yaml`), "utf8"),
  );
  const crds = join(dir, "crds.yaml");
  writeFileSync(`${crds}.tmp`, docs.map((d) => d.replace(/^---\n/, "")).join("---\n"));
  renameSync(`${crds}.tmp`, crds);
  return { version: GATEWAY_API_VERSION, crds, module: info.Dir };
}

/**
 * The Gateway API release's CRDs, fetched once. Idempotent and locked.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 * @returns {Promise<{ version: string, crds: string, module: string }>}
 */
export async function ensureGatewayApi(options = {}) {
  const dir = options.cacheDir ? resolve(options.cacheDir) : join(cacheBase(), `gateway-api-${GATEWAY_API_VERSION}`);
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-gateway-api: ${msg}\n`));
  const cached = readMarker(dir);
  if (cached) return cached;
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 10 * 60_000, log }, async () => {
    const again = readMarker(dir);
    if (again) return again;
    const got = await fetchRelease(dir, log);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(got, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return got;
  });
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    console.log(JSON.stringify(await ensureGatewayApi(), null, 2));
  } catch (err) {
    console.error(`ensure-gateway-api: ${err.message}`);
    process.exit(1);
  }
}
