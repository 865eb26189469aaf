/**
 * globalSetup of the `cluster` project (vitest.config.ts): one local cluster per test run, with
 * meshpilot deployed in it as a user deploys it.
 *
 * The binaries are made ready before any test starts (a cold build must not eat a test's
 * timeout); the images and the cluster follow in the background, while the other projects'
 * tests run (the cluster project's group runs after theirs), and announce themselves in <dir>/ready.json
 * or <dir>/failed.txt, which test/support/cluster.ts waits for. Teardown removes the cluster
 * whatever happened; a run killed before its teardown leaves a cluster that the next start of
 * any cluster removes (its owner pid is gone).
 *
 * Under CI=true the cluster tests never skip. Elsewhere they skip when not root, or with
 * MESHPILOT_SKIP_CLUSTER=1.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { clusterConfig } from "../../scripts/cluster/config.mjs";
import { ensureCoreDNSImage } from "../../scripts/cluster/coredns-image.mjs";
import { down } from "../../scripts/cluster/down.mjs";
import { deployMeshpilot } from "../../scripts/cluster/meshpilot.mjs";
import { prepareCluster } from "../../scripts/cluster/prepare.mjs";
import { up } from "../../scripts/cluster/up.mjs";
import { ensureKubeCluster } from "../../scripts/ensure-kube.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's cluster (null: skipped outside CI). */
    cluster: { name: string; dir: string } | null;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const ci = process.env["CI"] === "true";
  const log = (m: string) => console.log(`[cluster] ${m}`);
  if (!ci && (process.getuid?.() !== 0 || process.env["MESHPILOT_SKIP_CLUSTER"] === "1")) {
    log(process.getuid?.() !== 0 ? "not root: the local-cluster tests are skipped" : "MESHPILOT_SKIP_CLUSTER=1: the local-cluster tests are skipped");
    project.provide("cluster", null);
    return undefined;
  }
  const cfg = clusterConfig(`t${process.pid}`);
  project.provide("cluster", { name: cfg.name, dir: cfg.dir });
  // The binaries first (a cold build must not race the other tests); the images (the meshpilot
  // image changes with every build of dist) and the cluster in the background.
  await Promise.all([ensureKubeCluster({ log }), ensureCoreDNSImage({ log })]);
  const started = (async () => {
    const t0 = Date.now();
    const prepared = await prepareCluster({ log });
    const { kubeconfig, timings } = await up(cfg, { ...prepared, ownerPid: process.pid, log });
    await deployMeshpilot(cfg, prepared.bins, prepared.images.byName["meshpilot"]!, log);
    const ready = { ...prepared, kubeconfig, timings, meshpilotReadySeconds: (Date.now() - t0) / 1000 };
    writeFileSync(cfg.path("ready.json"), JSON.stringify(ready, null, 2));
    log(`cluster ${cfg.name} with meshpilot ready in ${ready.meshpilotReadySeconds.toFixed(1)} s`);
  })().catch((err: Error) => {
    log(`cluster ${cfg.name} failed: ${err.message}`);
    try {
      mkdirSync(cfg.dir, { recursive: true });
      writeFileSync(cfg.path("failed.txt"), err.message);
    } catch {
      // cannot write: the tests then time out waiting, naming the cluster
    }
  });
  return async () => {
    await started;
    if (process.env["MESHPILOT_KEEP_CLUSTER"] === "1") {
      log(`MESHPILOT_KEEP_CLUSTER=1: cluster ${cfg.name} left running (${cfg.dir}); remove it with node scripts/cluster/main.mjs down --name ${cfg.name}`);
      return;
    }
    rmSync(cfg.path("ready.json"), { force: true });
    await down(cfg, { log });
  };
}
