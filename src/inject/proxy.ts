/**
 * The injected containers: `istio-init` (capture rules) and `istio-proxy`, a stock Envoy started
 * with a meshpilot bootstrap. The proxy runs as a Kubernetes native sidecar (an init container
 * with restartPolicy Always, as Istio's ENABLE_NATIVE_SIDECARS): the kubelet starts the
 * application containers, and the pod's later init containers, only once the proxy's
 * startupProbe has passed, which is Istio's holdApplicationUntilProxyStarts without a postStart
 * hook; and the proxy outlives the application on shutdown and does not keep a Job running.
 */
import { buildBootstrap, buildNodeId, type BootstrapError } from "../translate/bootstrap.js";
import { HEALTH_READY_PATH, loopbackCluster, staticHttpListener } from "../translate/bootstrap-static.js";
import type { AppProbeRoute } from "./probes.js";
import { identityVolumeMounts, secureBootstrap } from "./identity.js";
import { INIT_CONTAINER, PROXY_CONTAINER } from "./names.js";
import type { InjectionSettings } from "./settings.js";

/** Container env names the kubelet fills from the downward API; the bootstrap refers to them as $(NAME). */
const ENV = { podName: "POD_NAME", namespace: "POD_NAMESPACE", ip: "INSTANCE_IP", serviceAccount: "SERVICE_ACCOUNT" } as const;
const ref = (name: string): string => `$(${name})`;

export function appProbeClusterName(route: AppProbeRoute): string {
  if (route.check === "http") return `app-health|${route.port}${route.tls ? "|tls" : ""}`;
  return `app-health|${route.port}|${route.check}${route.service ? `|${route.service}` : ""}`;
}

/**
 * How often Envoy checks a tcpSocket/grpc probe's port. The kubelet reads the last result, so a
 * short interval keeps it fresh whatever the probe's period; a connect (or one gRPC call) a second
 * per probed port is cheap. `noTrafficInterval` too: the cluster never carries requests, and
 * Envoy would otherwise check it only once a minute.
 */
const CHECK_INTERVAL = "1s";

/** A loopback cluster whose active health check is the probe: a TCP connect, or gRPC Health/Check. */
function checkedCluster(name: string, route: Extract<AppProbeRoute, { check: "tcp" | "grpc" }>, timeoutSeconds: number): Record<string, unknown> {
  return {
    ...loopbackCluster(name, route.port, false),
    healthChecks: [
      {
        timeout: `${timeoutSeconds}s`,
        interval: CHECK_INTERVAL,
        noTrafficInterval: CHECK_INTERVAL,
        noTrafficHealthyInterval: CHECK_INTERVAL,
        // The kubelet applies the probe's own thresholds to the answers.
        unhealthyThreshold: 1,
        healthyThreshold: 1,
        // The :authority defaults to the cluster name, which is no valid authority for a gRPC server.
        ...(route.check === "tcp"
          ? { tcpHealthCheck: {} }
          : { grpcHealthCheck: { ...(route.service ? { serviceName: route.service } : {}), authority: `127.0.0.1:${route.port}` } }),
      },
    ],
    ...(route.check === "grpc"
      ? {
          typedExtensionProtocolOptions: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicitHttpConfig: { http2ProtocolOptions: {} },
            },
          },
        }
      : {}),
  };
}

/** Answers the probe's path itself: 200 while the cluster's one host passes its health check, else 503. */
function checkFilter(path: string, cluster: string): Record<string, unknown> {
  return {
    name: "envoy.filters.http.health_check",
    typedConfig: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
      passThroughMode: false,
      headers: [{ name: ":path", stringMatch: { exact: path } }],
      clusterMinHealthyPercentages: { [cluster]: { value: 100 } },
    },
  };
}

export interface ProxyInput {
  readonly namespace: string;
  /** The pod's name, or a stand-in when the apiserver has not named it yet (generateName). */
  readonly podNameForValidation: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly probeRoutes: readonly AppProbeRoute[];
}

/**
 * The Envoy bootstrap for the pod. Pod name and IP are known only when the kubelet starts the
 * container, so the node id and NAME/INSTANCE_IPS hold $(VAR) references that the kubelet
 * expands from the downward-API env; everything else is checked here by buildBootstrap.
 */
export function proxyBootstrap(settings: InjectionSettings, input: ProxyInput): { bootstrap?: Record<string, unknown>; errors: readonly BootstrapError[] } {
  const app = input.labels["app.kubernetes.io/name"] || input.labels["app"];
  const secure = secureBootstrap(settings);
  const built = buildBootstrap({
    node: { ip: "127.0.0.1", podName: input.podNameForValidation, namespace: input.namespace, domain: settings.clusterDomain },
    cluster: `${app || ref(ENV.podName)}.${input.namespace}`,
    xdsAddress: settings.xdsAddress,
    adminAddress: `127.0.0.1:${settings.adminPort}`,
    interception: "REDIRECT",
    labels: input.labels,
    clusterId: settings.clusterId,
    healthPort: settings.healthPort,
    ...(secure ? { secure } : {}),
  });
  if (!built.bootstrap) return { errors: built.errors ?? [] };
  const b = built.bootstrap as unknown as {
    node: { id: string; metadata: Record<string, unknown> };
    staticResources: { clusters: unknown[]; listeners: unknown[] };
  };
  b.node.id = buildNodeId({ ip: ref(ENV.ip), podName: ref(ENV.podName), namespace: ref(ENV.namespace), domain: settings.clusterDomain });
  b.node.metadata["NAME"] = ref(ENV.podName);
  b.node.metadata["INSTANCE_IPS"] = ref(ENV.ip);

  const clusters: Record<string, unknown>[] = [];
  const listeners: Record<string, unknown>[] = [];
  if (input.probeRoutes.length > 0) {
    const byName = new Map<string, Record<string, unknown>>();
    for (const r of input.probeRoutes) {
      const name = appProbeClusterName(r);
      if (r.check === "http") {
        if (!byName.has(name)) byName.set(name, loopbackCluster(name, r.port, r.tls));
        continue;
      }
      // Probes of one port share its check; the longest timeout serves them all.
      const timeout = Math.max(
        r.timeoutSeconds,
        ...input.probeRoutes.filter((o) => appProbeClusterName(o) === name).map((o) => (o.check === "http" ? 0 : o.timeoutSeconds)),
      );
      if (!byName.has(name)) byName.set(name, checkedCluster(name, r, timeout));
    }
    clusters.push(...byName.values());
    const forwarded = input.probeRoutes.filter((r) => r.check === "http");
    const checked = input.probeRoutes.filter((r) => r.check !== "http");
    listeners.push(
      staticHttpListener(
        "app-health",
        settings.appProbePort,
        forwarded.map((r) => ({ match: { path: r.path }, route: { cluster: appProbeClusterName(r), prefixRewrite: r.originalPath } })),
        checked.map((r) => checkFilter(r.path, appProbeClusterName(r))),
      ),
    );
  }
  b.staticResources.clusters.push(...clusters);
  b.staticResources.listeners.push(...listeners);
  return { bootstrap: b as unknown as Record<string, unknown>, errors: [] };
}

/** The kubelet's check of a proxy's readiness: Envoy's health listener (bootstrap-static.ts). */
export function readinessCheck(settings: InjectionSettings): { httpGet: { path: string; port: number } } {
  return { httpGet: { path: HEALTH_READY_PATH, port: settings.healthPort } };
}

export function proxyContainer(settings: InjectionSettings, bootstrap: Record<string, unknown>): Record<string, unknown> {
  const ready = readinessCheck(settings);
  return {
    name: PROXY_CONTAINER,
    image: settings.proxyImage,
    imagePullPolicy: settings.imagePullPolicy,
    command: [...settings.proxyCommand],
    args: [
      "--config-yaml",
      JSON.stringify(bootstrap),
      "--log-level",
      settings.proxyLogLevel,
      "--concurrency",
      "2",
      "--disable-hot-restart",
      "--drain-time-s",
      "5",
    ],
    restartPolicy: "Always",
    ...(settings.secureXds ? { volumeMounts: identityVolumeMounts(settings) } : {}),
    env: [
      { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: ENV.namespace, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: ENV.ip, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: ENV.serviceAccount, valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
    ],
    // The kubelet holds the application until this passes (native sidecar ordering).
    startupProbe: { ...ready, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    readinessProbe: { ...ready, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    resources: { requests: { cpu: "10m", memory: "40Mi" } },
    securityContext: {
      runAsUser: settings.proxyUid,
      runAsGroup: settings.proxyGid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}

export function captureContainer(settings: InjectionSettings, script: string): Record<string, unknown> {
  return {
    name: INIT_CONTAINER,
    image: settings.captureImage,
    imagePullPolicy: settings.imagePullPolicy,
    command: ["/bin/sh", "-c", script],
    resources: { requests: { cpu: "10m", memory: "10Mi" } },
    // Root with NET_ADMIN/NET_RAW in the pod's network namespace only, as istio-init.
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    },
  };
}
