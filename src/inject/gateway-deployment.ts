/**
 * The automated deployment of a Gateway API Gateway of meshpilot's class, as Istio and Envoy
 * Gateway do it: a Deployment of stock Envoy bootstrapped for meshpilot as a router proxy
 * (`router~…` node id, the pod's labels carrying `gateway.networking.k8s.io/gateway-name`, which
 * the converted Istio Gateways select), and a Service of type LoadBalancer with the listeners'
 * ports (where no load balancer answers, as in the local cluster, its cluster IP is the address).
 * Both are owned by the Gateway, so deleting the Gateway deletes them.
 */
import type { GatewayDeployment } from "../api/gateway-api/status.js";
import { buildBootstrap, buildNodeId } from "../translate/bootstrap.js";
import { identityVolumeMounts, identityVolumes, secureBootstrap } from "./identity.js";
import { readinessCheck } from "./proxy.js";
import type { InjectionSettings } from "./settings.js";

export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";
export const GATEWAY_CLASS_LABEL = "gateway.networking.k8s.io/gateway-class-name";

export interface GatewayManifests {
  readonly deployment: Record<string, unknown>;
  readonly service: Record<string, unknown>;
}

/** The Deployment and Service of one Gateway, for server-side apply; undefined when the bootstrap cannot be built. */
export function gatewayManifests(d: GatewayDeployment, settings: InjectionSettings): GatewayManifests | { error: string } {
  const ns = d.gateway.namespace;
  const labels = { [GATEWAY_NAME_LABEL]: d.gateway.name, [GATEWAY_CLASS_LABEL]: d.className };
  // On the secure port the gateway, like a sidecar, holds workload certificates to reach mesh members.
  const secure = secureBootstrap(settings);
  const built = buildBootstrap({
    node: { type: "router", ip: "127.0.0.1", podName: `${d.name}-pod`, namespace: ns, domain: settings.clusterDomain },
    cluster: `${d.name}.${ns}`,
    xdsAddress: settings.xdsAddress,
    adminAddress: `127.0.0.1:${settings.adminPort}`,
    interception: "NONE",
    labels,
    clusterId: settings.clusterId,
    healthPort: settings.healthPort,
    ...(secure ? { secure } : {}),
  });
  if (!built.bootstrap) return { error: (built.errors ?? []).map((e) => JSON.stringify(e)).join("; ") };
  const b = built.bootstrap as unknown as { node: { id: string; metadata: Record<string, unknown> } };
  // The pod's name and IP are known when the kubelet starts it: $(VAR) from the downward API.
  b.node.id = buildNodeId({ type: "router", ip: "$(INSTANCE_IP)", podName: "$(POD_NAME)", namespace: "$(POD_NAMESPACE)", domain: settings.clusterDomain });
  b.node.metadata["NAME"] = "$(POD_NAME)";
  b.node.metadata["INSTANCE_IPS"] = "$(INSTANCE_IP)";
  const owner = {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    name: d.gateway.name,
    ...(d.gateway.uid ? { uid: d.gateway.uid } : {}),
    controller: true,
    blockOwnerDeletion: true,
  };
  const metadata = { name: d.name, namespace: ns, labels, ...(d.gateway.uid ? { ownerReferences: [owner] } : {}) };
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas: 1,
      selector: { matchLabels: { [GATEWAY_NAME_LABEL]: d.gateway.name } },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "envoy",
              image: settings.proxyImage,
              imagePullPolicy: settings.imagePullPolicy,
              command: [...settings.proxyCommand],
              args: ["--config-yaml", JSON.stringify(built.bootstrap), "--log-level", settings.proxyLogLevel, "--disable-hot-restart", "--drain-time-s", "5"],
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "INSTANCE_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              ],
              ports: d.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: "TCP" })),
              // Not ready, so out of the Service, until Envoy holds its first configuration.
              readinessProbe: { ...readinessCheck(settings), periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 4 },
              ...(secure ? { volumeMounts: identityVolumeMounts(settings) } : {}),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                // Listener ports under 1024 (80, 443) without running as root.
                capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
              },
            },
          ],
          ...(secure ? { volumes: identityVolumes(settings) } : {}),
        },
      },
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata,
    spec: {
      type: "LoadBalancer",
      selector: { [GATEWAY_NAME_LABEL]: d.gateway.name },
      ports: d.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: "TCP" })),
    },
  };
  return { deployment, service };
}
