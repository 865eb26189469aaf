/**
 * vitest globalSetup: makes sure a real Envoy is installed and kube-apiserver + etcd are built
 * before any test runs (in parallel; the first kube build takes ~10 minutes, which no per-hook
 * timeout should have to absorb). Envoy's path reaches the tests in two ways:
 *   - `inject("envoyPath")` inside a test file (vitest's provide/inject), and
 *   - $MESHPILOT_ENVOY_PATH, which test/support/envoy.ts reads (workers inherit it).
 * A failed install fails the run under CI=true; locally it is fatal too, unless
 * MESHPILOT_SKIP_ENVOY=1 says to run only what needs no Envoy.
 */
import type { TestProject } from "vitest/node";
import type {} from "vitest";
import { ensureEnvoy, envoyVersion } from "../../scripts/ensure-envoy.mjs";
import { ensureKube } from "../../scripts/ensure-kube.mjs";
import { ensureIstioAgent } from "../../scripts/ensure-istio-agent.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** Absolute path of the Envoy binary (empty when MESHPILOT_SKIP_ENVOY=1 outside CI). */
    envoyPath: string;
    /** `envoy --version`, short form. */
    envoyVersion: string;
  }
}

/** Builds the kube binaries once and points the workers at them (test/support/kube.ts reads these). */
async function prepareKube(ci: boolean): Promise<void> {
  if (!ci && process.env.MESHPILOT_SKIP_KUBE === "1") {
    console.log("[global-setup] MESHPILOT_SKIP_KUBE=1: not building kube-apiserver/etcd; kube tests are skipped");
    return;
  }
  try {
    const bins = await ensureKube({ log: (m: string) => console.log(`[global-setup] ${m}`) });
    process.env.MESHPILOT_KUBE_APISERVER = bins.apiserver;
    process.env.MESHPILOT_ETCD = bins.etcd;
    console.log(`[global-setup] kube-apiserver ${bins.version} at ${bins.apiserver}`);
  } catch (err) {
    throw new Error(`[global-setup] could not build kube-apiserver/etcd (${ci ? "CI" : "local"} run): ${(err as Error).message}`);
  }
  // After kube, not beside it: two Go builds at once on 2 cores only slow each other down.
  try {
    const agent = await ensureIstioAgent({ log: (m: string) => console.log(`[global-setup] ${m}`) });
    console.log(`[global-setup] pilot-agent (istio.io/istio ${agent.version}) at ${agent.pilotAgent}`);
  } catch (err) {
    throw new Error(`[global-setup] could not build pilot-agent (${ci ? "CI" : "local"} run): ${(err as Error).message}`);
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const ci = process.env.CI === "true";
  const kube = prepareKube(ci);
  // Keep the rejection observed while Envoy installs; it is rethrown below.
  kube.catch(() => undefined);
  if (!ci && process.env.MESHPILOT_SKIP_ENVOY === "1") {
    console.log("[global-setup] MESHPILOT_SKIP_ENVOY=1: not installing Envoy; tests that need it will fail");
    project.provide("envoyPath", "");
    project.provide("envoyVersion", "");
    await kube;
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
  await kube;
}
