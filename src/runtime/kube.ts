/**
 * The Kubernetes side of the running process: the informers, and when status writing is on, the
 * Lease election and the status writer (only the leader writes findings into objects' status).
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ControlPlane } from "../pipeline/control-plane.js";
import { KubeClient, loadKubeConfig } from "../sources/kube/client.js";
import { KubeSource, type KubeSourceHealth, type KubeSourceOptions } from "../sources/kube/kube-source.js";
import { parseSelector } from "../sources/kube/selectors.js";
import { LeaderElector } from "../sources/kube-status/leader.js";
import { StatusWriter } from "../sources/kube-status/status-writer.js";
import { GatewayApiStatusWriter } from "../sources/kube-status/gateway-api-status.js";
import { GatewayDeployer, type DeployedObject } from "../sources/kube-status/gateway-deployer.js";
import { gatewayManifests } from "../inject/gateway-deployment.js";
import { DEFAULT_INJECTION_SETTINGS, type InjectionSettings } from "../inject/settings.js";
import { DEFAULT_CONTROLLERS } from "../model/gateway-api/convert.js";
import type { SourceUpdate } from "../sources/source-update.js";

/** Passed through to the informers as they are (all but watchNamespaces are for tests). */
const TUNING_KEYS = ["watchNamespaces", "watchTimeoutSeconds", "stallGraceMs", "relistIntervalMs", "backoffMaxMs", "rediscoverMs"] as const;
type KubeSourceTuning = Pick<KubeSourceOptions, (typeof TUNING_KEYS)[number]>;

export interface KubeServeOptions extends KubeSourceTuning {
  /** A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account. */
  readonly kubeconfigPath?: string;
  /** An already loaded config (tests); wins over kubeconfigPath. */
  readonly kubeConfig?: KubeConfig;
  /** Label selectors (kubectl syntax) on namespaces; a namespace is in scope when any matches. */
  readonly discoverySelectors?: readonly string[];
  /** Write findings into the Istio objects' status, by the replica holding the Lease; default true. */
  readonly writeStatus?: boolean;
  /** Namespace of the leader Lease; default $POD_NAMESPACE, the service account's namespace, else meshpilot-system. */
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  /** This replica's name in the Lease; default $POD_NAME, else hostname-pid. */
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly leaseRetryPeriodMs?: number;
  /**
   * Deploy a Deployment and Service for every Gateway API Gateway of meshpilot's class (the
   * leader does); these settings give the proxy image and where it reaches meshpilot (default:
   * the injection defaults). `false`: never deploy (Gateways then need manual deployment).
   */
  readonly gatewayProxy?: Partial<InjectionSettings> | false;
}

export interface KubeHooks {
  readonly log: Logger;
  readonly controlPlane: ControlPlane;
  readonly onUpdate: (u: SourceUpdate) => void;
  /** Every informer has listed once and the initial update was delivered. */
  readonly onSynced: (source: KubeSource) => void;
  /** The first build is done (status is written only after it, so it never reports a partial state). */
  readonly serving: () => boolean;
}

export interface RunningKube {
  readonly source: KubeSource;
  readonly leader?: LeaderElector;
  readonly statusWriter?: StatusWriter;
  readonly gatewayApiStatus?: GatewayApiStatusWriter;
  stop(): Promise<void>;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function defaultLeaseNamespace(): string {
  if (process.env["POD_NAMESPACE"]) return process.env["POD_NAMESPACE"];
  try {
    return readFileSync(SA_NAMESPACE_FILE, "utf8").trim() || "meshpilot-system";
  } catch {
    return "meshpilot-system";
  }
}

/** The tuning fields that are set (exactOptionalPropertyTypes: absent, never undefined). */
function tuningOf(k: KubeSourceTuning): KubeSourceTuning {
  return Object.fromEntries(TUNING_KEYS.filter((key) => k[key] !== undefined).map((key) => [key, k[key]])) as KubeSourceTuning;
}

/** Why the Kubernetes source serves a possibly stale state, or undefined while the API server answers. */
export function describeKubeHealth(h: KubeSourceHealth, now = Date.now()): string | undefined {
  if (h.reachable) return undefined;
  const last = h.failing.reduce((a, b) => (b.since >= a.since ? b : a));
  const seconds = Math.round((now - (h.since ?? now)) / 1000);
  return `Kubernetes lists and watches failing for ${seconds} s (${h.failing.length} collections, e.g. ${last.path}: ${last.error}); serving the last state seen`;
}

/** Starts the informers (in the background) and, unless turned off, the status leader election. */
export function startKube(k: KubeServeOptions, hooks: KubeHooks): RunningKube {
  const { log, controlPlane } = hooks;
  const client = new KubeClient(k.kubeConfig ?? loadKubeConfig(k.kubeconfigPath));
  const source = new KubeSource({
    client,
    logger: log,
    ...tuningOf(k),
    discoverySelectors: (k.discoverySelectors ?? []).map(parseSelector),
    onUpdate: hooks.onUpdate,
  });
  log.info({ server: client.server, watchNamespaces: k.watchNamespaces, discoverySelectors: k.discoverySelectors }, "starting Kubernetes informers");
  source.start();
  source.synced.then(
    () => hooks.onSynced(source),
    (err: unknown) => log.error({ err }, "Kubernetes source failed to start"),
  );
  if (k.writeStatus === false) return { source, stop: () => source.stop() };

  const leader = new LeaderElector({
    client,
    namespace: k.leaseNamespace ?? defaultLeaseNamespace(),
    name: k.leaseName ?? "meshpilot-status-leader",
    identity: k.identity ?? process.env["POD_NAME"] ?? `${hostname()}-${process.pid}`,
    ...(k.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: k.leaseDurationSeconds } : {}),
    ...(k.leaseRetryPeriodMs !== undefined ? { retryPeriodMs: k.leaseRetryPeriodMs } : {}),
    logger: log,
    onChange: (isLeader) => {
      if (isLeader) {
        writer.trigger();
        gwWriter.trigger();
        deployer?.trigger();
      }
    },
  });
  const writer = new StatusWriter({
    client,
    objects: () => source.statusObjects(),
    diagnostics: () => controlPlane.diagnostics(),
    isLeader: () => leader.isLeader && source.isSynced && hooks.serving(),
    logger: log,
  });
  const gwWriter = new GatewayApiStatusWriter({
    client,
    objects: () => source.statusObjects("gateway-api"),
    desired: () => controlPlane.gatewayApi()?.status,
    controllers: DEFAULT_CONTROLLERS,
    isLeader: () => leader.isLeader && source.isSynced && hooks.serving(),
    logger: log,
  });
  const proxy = k.gatewayProxy === false ? undefined : { ...DEFAULT_INJECTION_SETTINGS, ...k.gatewayProxy };
  const deployer = proxy
    ? new GatewayDeployer({
        client,
        desired: () =>
          (controlPlane.gatewayApi()?.deployments ?? []).flatMap((d) => {
            const m = gatewayManifests(d, proxy);
            if ("error" in m) {
              log.warn({ gateway: `${d.gateway.namespace}/${d.gateway.name}`, error: m.error }, "gateway not deployed: its proxy bootstrap cannot be built");
              return [];
            }
            return [m.deployment, m.service] as DeployedObject[];
          }),
        isLeader: () => leader.isLeader && source.isSynced && hooks.serving(),
        logger: log,
      })
    : undefined;
  const triggerAll = (): void => {
    writer.trigger();
    gwWriter.trigger();
    deployer?.trigger();
  };
  controlPlane.onBuild(triggerAll);
  source.onChange(triggerAll);
  const timer = setInterval(triggerAll, 30_000);
  leader.start();
  return {
    source,
    leader,
    statusWriter: writer,
    gatewayApiStatus: gwWriter,
    async stop() {
      clearInterval(timer);
      await writer.stop();
      await gwWriter.stop();
      await deployer?.stop();
      await leader.stop();
      await source.stop();
    },
  };
}
