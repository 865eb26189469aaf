/**
 * The bookinfo-like application of the mesh tests in the local cluster, all of it testapp
 * (test/apps/testapp) in different roles: `productpage` calls `reviews`; `reviews` v1, v2 and v3
 * call `ratings`. The application namespace opts in to injection (istio-injection=enabled), so
 * meshpilot's webhook gives every pod its capture init container and Envoy; a second namespace
 * holds a client pod outside the mesh. Requests are small (the machine has 2 cores) and pods
 * stop fast.
 */
import { stringify } from "yaml";

export const APP_PORT = 9080;

export interface AppWorkload {
  readonly service: "productpage" | "reviews" | "ratings";
  readonly version: string;
  /** What each request of this workload also calls. */
  readonly upstreams: readonly string[];
}

export const WORKLOADS: readonly AppWorkload[] = [
  { service: "productpage", version: "v1", upstreams: [`http://reviews:${APP_PORT}/reviews`] },
  { service: "reviews", version: "v1", upstreams: [`http://ratings:${APP_PORT}/ratings`] },
  { service: "reviews", version: "v2", upstreams: [`http://ratings:${APP_PORT}/ratings`] },
  { service: "reviews", version: "v3", upstreams: [`http://ratings:${APP_PORT}/ratings`] },
  { service: "ratings", version: "v1", upstreams: [] },
];

const SMALL = { requests: { cpu: "10m", memory: "16Mi" } };
const podEnv = [
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
];

/**
 * One testapp Deployment: a container named `container` serving HTTP on APP_PORT with a readiness
 * and a liveness probe (captured inbound, the injector moves them to the sidecar's app-health
 * listener).
 */
export function testappDeployment(
  ns: string,
  name: string,
  labels: Record<string, string>,
  container: string,
  args: readonly string[],
  image: string,
): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: container,
              image,
              imagePullPolicy: "Never",
              command: ["testapp"],
              args: [...args, "-port", String(APP_PORT)],
              env: podEnv,
              ports: [{ name: "http", containerPort: APP_PORT }],
              readinessProbe: { httpGet: { path: "/healthz", port: APP_PORT }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: "/healthz", port: APP_PORT }, periodSeconds: 10 },
              resources: SMALL,
            },
          ],
        },
      },
    },
  };
}

function deployment(ns: string, w: AppWorkload, image: string): Record<string, unknown> {
  const args = ["-service", w.service, "-version", w.version, ...(w.upstreams.length ? ["-upstreams", w.upstreams.join(",")] : [])];
  return testappDeployment(ns, `${w.service}-${w.version}`, { app: w.service, version: w.version }, w.service, args, image);
}

/** A Service `name` on APP_PORT for the pods labelled app=name. */
export function testappService(ns: string, name: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { selector: { app: name }, ports: [{ name: "http", port: APP_PORT, targetPort: APP_PORT }] },
  };
}

/** DestinationRules naming the versions as subsets. */
function subsets(ns: string, name: string, versions: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name, namespace: ns },
    spec: { host: name, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) },
  };
}

/** A pod outside the mesh (no injection) that sends requests with `testapp client`. */
function client(ns: string, image: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "client", namespace: ns, labels: { app: "client" } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "client", image, imagePullPolicy: "Never", command: ["sleep", "3600"], resources: SMALL }],
    },
  };
}

/** The whole application, as one multi-document manifest. */
export function bookinfoManifest(opts: { appNamespace: string; clientNamespace: string; image: string }): string {
  const { appNamespace: ns, clientNamespace, image } = opts;
  const objects: Record<string, unknown>[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "istio-injection": "enabled" } } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: clientNamespace } },
    ...["productpage", "reviews", "ratings"].map((s) => testappService(ns, s)),
    ...WORKLOADS.map((w) => deployment(ns, w, image)),
    subsets(ns, "reviews", ["v1", "v2", "v3"]),
    client(clientNamespace, image),
  ];
  return objects.map((o) => stringify(o)).join("---\n");
}
