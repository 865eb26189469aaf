#!/usr/bin/env node
// Installs Chromium from Debian's packages when it is missing, and prints the path of its binary.
// The live view's browser test drives it headless (through playwright-core, which downloads no
// browser of its own).
//
//   node scripts/ensure-chromium.mjs            # prints /usr/bin/chromium
//   node scripts/ensure-chromium.mjs --version  # prints the path, then `chromium --version`
//
// The system package is the cache: once dpkg has it, a call costs one stat(). Installing needs
// root (as the local cluster's Debian packages do); apt itself serialises concurrent installers.
// $MESHPILOT_CHROMIUM_PATH, when set, names the binary to use as is (no install).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isExecutable, run } from "./cache-util.mjs";
import { ensureDebPackages } from "./cluster/host-files.mjs";

/** Debian's Chromium, and a font so that pages render text (screenshots) without recommends. */
export const CHROMIUM_PACKAGES = ["chromium", "fonts-liberation"];
const DEBIAN_PATH = "/usr/bin/chromium";

/**
 * Makes sure Chromium is installed and returns the absolute path of its binary. Idempotent.
 * Throws with the command to run when it cannot install (not root, no Debian).
 * @param {{ log?: (msg: string) => void }} [options]
 */
export async function ensureChromium(options = {}) {
  const override = process.env.MESHPILOT_CHROMIUM_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`MESHPILOT_CHROMIUM_PATH=${override} is not an executable file`);
    return resolve(override);
  }
  if (isExecutable(DEBIAN_PATH)) return DEBIAN_PATH;
  if (!existsSync("/usr/bin/apt-get")) throw new Error(`Chromium is not installed at ${DEBIAN_PATH} and this is no Debian system: set MESHPILOT_CHROMIUM_PATH`);
  await ensureDebPackages(CHROMIUM_PACKAGES, options.log ?? (() => {}));
  if (!isExecutable(DEBIAN_PATH)) throw new Error(`apt-get installed ${CHROMIUM_PACKAGES.join(", ")} but ${DEBIAN_PATH} is not there`);
  return DEBIAN_PATH;
}

/** `chromium --version`, e.g. "Chromium 143.0.7499.169 built on Debian …". */
export async function chromiumVersion(path) {
  const { stdout } = await run(path, ["--version"]);
  return stdout.trim();
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const path = await ensureChromium({ log: (m) => console.error(`ensure-chromium: ${m}`) });
    console.log(path);
    if (process.argv.includes("--version")) console.log(await chromiumVersion(path));
  } catch (err) {
    console.error(`ensure-chromium: ${err.message}`);
    process.exit(1);
  }
}
