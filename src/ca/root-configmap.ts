/**
 * The mesh root, published as istiod does: a ConfigMap `istio-ca-root-cert` (key `root-cert.pem`)
 * in every namespace meshpilot watches, so that workloads and agents can trust the secure port.
 * It is created where missing and put back when someone edits or deletes it: on every change of
 * the namespace set and on a periodic resync.
 */
import type { Logger } from "pino";
import type { KubeClient } from "../sources/kube/client.js";

export const ROOT_CONFIGMAP = "istio-ca-root-cert";
export const ROOT_CONFIGMAP_KEY = "root-cert.pem";

export interface RootPublisherOptions {
  readonly client: KubeClient;
  readonly rootPem: string;
  readonly logger: Logger;
  /** How often every namespace is checked again; default 60 s. */
  readonly resyncMs?: number;
}

export class RootCertPublisher {
  private namespaces: readonly string[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private readonly log: Logger;
  /** Namespaces whose ConfigMap is known current (skipped until the next resync). */
  private readonly current = new Set<string>();

  constructor(private readonly opts: RootPublisherOptions) {
    this.log = opts.logger.child({ component: "root-cert" });
    this.timer = setInterval(() => {
      this.current.clear();
      void this.sync();
    }, opts.resyncMs ?? 60_000);
    this.timer.unref();
  }

  /** The namespaces in scope now; publishes to the new ones. */
  setNamespaces(namespaces: readonly string[]): void {
    const next = [...new Set(namespaces)].sort();
    if (next.join("\n") === this.namespaces.join("\n")) return;
    this.namespaces = next;
    void this.sync();
  }

  /** Checks every namespace now (tests; also what the resync does). */
  async syncNow(): Promise<void> {
    this.current.clear();
    await this.sync();
    if (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const ns of this.namespaces) {
          if (this.stopped) return;
          if (this.current.has(ns)) continue;
          try {
            if (await this.publish(ns)) this.current.add(ns);
          } catch (err) {
            this.log.warn({ namespace: ns, err: (err as Error).message }, `cannot publish ${ROOT_CONFIGMAP}; retrying at the next resync`);
          }
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Make `ns`'s ConfigMap hold the root. True when it does. */
  private async publish(ns: string): Promise<boolean> {
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`;
    const got = await this.opts.client.request("GET", `${path}/${ROOT_CONFIGMAP}`);
    const want = { [ROOT_CONFIGMAP_KEY]: this.opts.rootPem };
    const meta = { name: ROOT_CONFIGMAP, namespace: ns, labels: { "istio.io/config": "true" } };
    if (got.status === 404) {
      const r = await this.opts.client.request("POST", path, { apiVersion: "v1", kind: "ConfigMap", metadata: meta, data: want });
      if (r.status === 201 || r.status === 409) {
        if (r.status === 201) this.log.info({ namespace: ns }, `created ${ROOT_CONFIGMAP}`);
        return r.status === 201;
      }
      if (r.status === 404 || r.status === 403) return false; // namespace going away, or not ours
      throw new Error(`creating ConfigMap ${ns}/${ROOT_CONFIGMAP}: HTTP ${r.status}`);
    }
    if (got.status !== 200) throw new Error(`reading ConfigMap ${ns}/${ROOT_CONFIGMAP}: HTTP ${got.status}`);
    const cm = got.body as { metadata?: { resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, string> };
    if (cm.data?.[ROOT_CONFIGMAP_KEY] === this.opts.rootPem) return true;
    const r = await this.opts.client.request("PUT", `${path}/${ROOT_CONFIGMAP}`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { ...meta, labels: { ...cm.metadata?.labels, ...meta.labels }, resourceVersion: cm.metadata?.resourceVersion },
      data: { ...cm.data, ...want },
    });
    if (r.status === 200) {
      this.log.info({ namespace: ns }, `updated ${ROOT_CONFIGMAP} to the current root`);
      return true;
    }
    if (r.status === 409) return false; // changed meanwhile: next pass
    throw new Error(`updating ConfigMap ${ns}/${ROOT_CONFIGMAP}: HTTP ${r.status}`);
  }
}
