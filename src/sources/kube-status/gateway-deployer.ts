/**
 * Applies the Deployments and Services of automatically deployed gateways (inject/gateway-deployment.ts)
 * by server-side apply as field manager `meshpilot`, by the status leader only, and again only when
 * what meshpilot wants changed (a user's own fields on those objects, such as replicas set by an
 * autoscaler through another manager, are left to them). Removal follows the Gateway through the
 * objects' ownerReferences (Kubernetes' garbage collector).
 */
import { CoalescedPass } from "./coalesced-pass.js";
import type { KubeClient } from "../kube/client.js";
import type { StatusLogger } from "./status-writer.js";

export type DeployedObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace: string } };

export interface GatewayDeployerOptions {
  readonly client: KubeClient;
  /** The objects meshpilot wants, for every Gateway it deploys. */
  readonly desired: () => readonly DeployedObject[];
  readonly isLeader: () => boolean;
  readonly logger: StatusLogger;
  readonly delayMs?: number;
}

const PATHS: Readonly<Record<string, string>> = { "apps/v1/Deployment": "/apis/apps/v1", "v1/Service": "/api/v1" };
const PLURALS: Readonly<Record<string, string>> = { Deployment: "deployments", Service: "services" };

export class GatewayDeployer {
  private readonly passes: CoalescedPass;
  private readonly applied = new Map<string, { json: string; at: number }>();
  applies = 0;

  constructor(private readonly opts: GatewayDeployerOptions) {
    this.passes = new CoalescedPass(() => this.pass(), {
      logger: this.opts.logger,
      what: "gateway deployment pass",
      delayMs: this.opts.delayMs,
    });
  }

  trigger(): void {
    this.passes.trigger();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  private async pass(): Promise<void> {
    if (!this.opts.isLeader()) {
      this.applied.clear(); // a new leader applies everything once
      return;
    }
    for (const obj of this.opts.desired()) {
      if (this.passes.stopped || !this.opts.isLeader()) return;
      const base = PATHS[`${obj.apiVersion}/${obj.kind}`];
      const plural = PLURALS[obj.kind];
      if (!base || !plural) continue;
      const path = `${base}/namespaces/${obj.metadata.namespace}/${plural}/${obj.metadata.name}`;
      const json = JSON.stringify(obj);
      // Applied again now and then: an object someone deleted or edited comes back.
      const memo = this.applied.get(path);
      if (memo && memo.json === json && Date.now() - memo.at < 60_000) continue;
      const res = await this.opts.client.request("PATCH", `${path}?fieldManager=meshpilot&force=true`, obj, { contentType: "application/apply-patch+yaml" });
      if (res.status !== 200 && res.status !== 201) {
        this.opts.logger.warn({ object: path, status: res.status, body: JSON.stringify(res.body).slice(0, 300) }, "gateway deployment apply refused");
        continue;
      }
      this.applied.set(path, { json, at: Date.now() });
      this.applies++;
      this.opts.logger.info({ object: path }, "gateway deployment applied");
    }
  }
}
