/**
 * vitest globalSetup: makes sure a real Envoy is installed before any test runs, prints its
 * version, and hands its path to the tests in two ways:
 *   - `inject("envoyPath")` inside a test file (vitest's provide/inject), and
 *   - $MESHPILOT_ENVOY_PATH, which test/support/envoy.ts reads (workers inherit it).
 * A failed install fails the run under CI=true; locally it is fatal too, unless
 * MESHPILOT_SKIP_ENVOY=1 says to run only what needs no Envoy.
 */
import type { TestProject } from "vitest/node";
import type {} from "vitest";
import { ensureEnvoy, envoyVersion } from "../../scripts/ensure-envoy.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** Absolute path of the Envoy binary (empty when MESHPILOT_SKIP_ENVOY=1 outside CI). */
    envoyPath: string;
    /** `envoy --version`, short form. */
    envoyVersion: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const ci = process.env.CI === "true";
  if (!ci && process.env.MESHPILOT_SKIP_ENVOY === "1") {
    console.log("[global-setup] MESHPILOT_SKIP_ENVOY=1: not installing Envoy; tests that need it will fail");
    project.provide("envoyPath", "");
    project.provide("envoyVersion", "");
    return;
  }
  let path: string;
  let version: string;
  try {
    path = await ensureEnvoy({ log: (m) => console.log(`[global-setup] ${m}`) });
    version = await envoyVersion(path);
  } catch (err) {
    throw new Error(`[global-setup] could not install Envoy (${ci ? "CI" : "local"} run): ${(err as Error).message}`);
  }
  console.log(`[global-setup] ${version} at ${path}`);
  process.env.MESHPILOT_ENVOY_PATH = path;
  project.provide("envoyPath", path);
  project.provide("envoyVersion", version);
}
