/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does it:
 * - the holder renews `spec.renewTime` every `retryPeriodMs`;
 * - a candidate takes the Lease over only when the record it observes has not changed for
 *   `leaseDurationSeconds` of ITS OWN clock (no comparison of clocks across machines);
 * - every write carries the resourceVersion that was read, so two candidates never both win;
 * - a leader that cannot renew for `leaseDurationSeconds` steps down by itself;
 * - `stop()` releases the Lease (empty holder) so that another replica takes over at once.
 */
import type { KubeClient } from "../kube/client.js";
import { KubeApiError } from "../kube/client.js";

export interface LeaderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LeaderElectorOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  readonly retryPeriodMs?: number;
  readonly logger: LeaderLogger;
  readonly onChange?: (leader: boolean) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** metav1.MicroTime: RFC 3339 with 6 fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private observed: { record: string; at: number } | undefined;
  private lastRenew = 0;
  private running: Promise<void> = Promise.resolve();
  private readonly duration: number;
  private readonly retry: number;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.duration = opts.leaseDurationSeconds ?? 15;
    this.retry = opts.retryPeriodMs ?? 2000;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  get identity(): string {
    return this.opts.identity;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.tryAcquireOrRenew().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.retry * (this.leader ? 1 : 0.9 + Math.random() * 0.2));
      });
    };
    tick();
  }

  /** Stop campaigning; a leader releases the Lease so that a successor need not wait it out. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.leader && release) {
      try {
        const lease = await this.get();
        if (lease && lease.spec?.holderIdentity === this.opts.identity) {
          await this.put({ ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime() } });
        }
      } catch (err) {
        this.opts.logger.warn({ err: String(err) }, "could not release the leader Lease");
      }
    }
    this.setLeader(false);
  }

  private path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name ? `/${name}` : ""}`;
  }

  private async get(): Promise<Lease | undefined> {
    const res = await this.opts.client.request("GET", this.path(this.opts.name), undefined, { timeoutMs: this.retry * 2 + 1000 });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new KubeApiError(res.status, "", `GET lease: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    return res.body as Lease;
  }

  private async put(lease: Lease): Promise<boolean> {
    const res = await this.opts.client.request("PUT", this.path(this.opts.name), lease, { timeoutMs: this.retry * 2 + 1000 });
    if (res.status === 409) return false;
    if (res.status !== 200) throw new KubeApiError(res.status, "", `PUT lease: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    return true;
  }

  private setLeader(v: boolean): void {
    if (v === this.leader) return;
    this.leader = v;
    this.opts.logger.info(
      { identity: this.opts.identity, lease: `${this.opts.namespace}/${this.opts.name}` },
      v ? "became the status leader" : "no longer the status leader",
    );
    this.opts.onChange?.(v);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    try {
      const lease = await this.get();
      if (this.stopped) return;
      const me = this.opts.identity;
      const fresh: LeaseSpec = { holderIdentity: me, leaseDurationSeconds: this.duration, renewTime: microTime() };
      if (!lease) {
        const res = await this.opts.client.request("POST", this.path(), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { ...fresh, acquireTime: microTime(), leaseTransitions: 0 },
        });
        if (res.status === 201 || res.status === 200) {
          this.lastRenew = now;
          this.setLeader(true);
        } else if (res.status !== 409) throw new KubeApiError(res.status, "", `POST lease: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        return;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime]);
      if (!this.observed || this.observed.record !== record) this.observed = { record, at: now };
      const holder = spec.holderIdentity ?? "";
      const duration = (spec.leaseDurationSeconds ?? this.duration) * 1000;
      if (holder === me) {
        if (await this.put({ ...lease, spec: { ...spec, ...fresh } })) {
          this.lastRenew = now;
          this.setLeader(true);
        } else this.setLeader(false);
        return;
      }
      const expired = holder === "" || now - this.observed.at > duration;
      if (!expired) {
        this.setLeader(false);
        return;
      }
      const ok = await this.put({ ...lease, spec: { ...spec, ...fresh, acquireTime: microTime(), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } });
      if (ok) {
        this.lastRenew = now;
        this.opts.logger.info({ previous: holder || "<released>" }, "took over the status Lease");
      }
      this.setLeader(ok);
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, "leader election: cannot reach the Lease");
      if (this.leader && Date.now() - this.lastRenew > this.duration * 1000) this.setLeader(false);
    }
  }
}
