/**
 * The test run's local cluster (started by test/cluster/global-setup.ts): waits until it is up,
 * then offers kubectl (run inside the node's network namespace), a typed API client over the
 * host's relay, and helpers for what the cluster tests do often.
 */
import { existsSync, readFileSync } from "node:fs";
import { inject } from "vitest";
import { clusterConfig, type ClusterConfig } from "../../scripts/cluster/config.mjs";
import type { ClusterBinaries, ClusterImages } from "../../scripts/cluster/prepare.mjs";
import { kubectl as kubectlIn } from "../../scripts/cluster/up.mjs";
import { loadKubeConfig } from "../../src/sources/kube/client.js";
import { KubeTestClient } from "./kube.js";

/** Outside CI the cluster tests skip when not root or with MESHPILOT_SKIP_CLUSTER=1 (see global-setup). */
export const clusterTestsSkipped = inject("cluster") === null;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface TestCluster {
  readonly cfg: ClusterConfig;
  readonly bins: ClusterBinaries;
  readonly images: ClusterImages;
  /** The user's kubeconfig (the apiserver relayed to 127.0.0.1). */
  readonly kubeconfig: string;
  readonly admin: KubeTestClient;
  kubectl(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** kubectl … -o json, parsed. */
  json<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** `kubectl exec` into a container; returns stdout. */
  exec(ns: string, pod: string, container: string, command: string[], opts?: { timeoutMs?: number }): Promise<string>;
}

/** Waits (bounded) for the run's cluster and returns a handle on it. */
export async function useCluster(timeoutMs = 10 * 60_000): Promise<TestCluster> {
  const info = inject("cluster");
  if (!info) throw new Error("no cluster in this run (skipped)");
  const cfg = clusterConfig(info.name, { dir: info.dir });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(cfg.path("failed.txt"))) throw new Error(`cluster ${cfg.name} failed to start: ${readFileSync(cfg.path("failed.txt"), "utf8")}`);
    if (existsSync(cfg.path("ready.json"))) break;
    if (Date.now() > deadline) throw new Error(`cluster ${cfg.name} not ready after ${timeoutMs / 1000} s (logs: ${cfg.path("logs")})`);
    await sleep(500);
  }
  const ready = JSON.parse(readFileSync(cfg.path("ready.json"), "utf8")) as { bins: ClusterBinaries; images: ClusterImages; kubeconfig: string };
  const kubectl = async (args: string[], opts: { timeoutMs?: number } = {}) =>
    (await kubectlIn(cfg, ready.bins, args, { timeout: opts.timeoutMs ?? 120_000 })).stdout;
  return {
    cfg,
    bins: ready.bins,
    images: ready.images,
    kubeconfig: ready.kubeconfig,
    admin: new KubeTestClient(loadKubeConfig(ready.kubeconfig)),
    kubectl,
    json: async <T>(args: string[]) => JSON.parse(await kubectl([...args, "-o", "json"])) as T,
    exec: (ns, pod, container, command, opts) => kubectl(["-n", ns, "exec", pod, "-c", container, "--", ...command], opts),
  };
}

/** Polls `check` until it returns a truthy value; bounded in time, names what it waited for. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}
