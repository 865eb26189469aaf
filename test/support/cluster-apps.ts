/**
 * What the local-cluster tests do with workloads: apply objects or a manifest of deploy/ (its
 * images swapped for the cluster's, as a user's kustomize would), wait for rollouts, find pods,
 * read a pod's Envoy admin, and send HTTP(S) from outside the cluster — from its external host's
 * network namespace, over a connection made there, with the Host header, SNI and client
 * certificate the test chooses; and from inside: workloads with a ServiceAccount of their own (their
 * mesh identity), an idle pod outside the mesh, and requests sent with `testapp client` in a pod.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import tls from "node:tls";
import { stringify } from "yaml";
import { substituteImages } from "../../scripts/cluster/meshpilot.mjs";
import { httpRequest, type HttpRequestOptions, type HttpResponse } from "./backend.js";
import { testappDeployment, testappService } from "./bookinfo.js";
import type { TestCluster } from "./cluster.js";
import { connectInNetns } from "./netns.js";

/** Writes `objects` as one manifest named `name` (in the cluster's manifests dir) and applies it. */
export async function applyObjects(c: TestCluster, name: string, objects: readonly Record<string, unknown>[]): Promise<void> {
  const file = c.cfg.path("manifests", `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  await c.kubectl(["apply", "-f", file]);
}

/**
 * Applies a manifest file as written but for its images (`from` → the cluster's ref, pulled
 * never); returns the text applied.
 */
export async function applyManifest(c: TestCluster, file: string, images: Readonly<Record<string, string>>): Promise<string> {
  const text = substituteImages(readFileSync(file, "utf8"), images);
  const out = c.cfg.path("manifests", basename(file));
  writeFileSync(out, text);
  await c.kubectl(["apply", "-f", out]);
  return text;
}

/** Waits (bounded) until the Deployment's pods of the current revision are all ready. */
export async function rollout(c: TestCluster, ns: string, deployment: string, timeoutS = 240): Promise<void> {
  await c.kubectl(["-n", ns, "rollout", "status", `deployment/${deployment}`, `--timeout=${timeoutS}s`], { timeoutMs: (timeoutS + 20) * 1000 });
}

/** Names of the pods matching `selector` that are not being deleted. */
export async function podNames(c: TestCluster, ns: string, selector: string): Promise<string[]> {
  const pods = await c.json<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(["-n", ns, "get", "pods", "-l", selector]);
  return pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
}

/** A Service's cluster IP. */
export async function serviceIP(c: TestCluster, ns: string, name: string): Promise<string> {
  return (await c.json<{ spec: { clusterIP: string } }>(["-n", ns, "get", "service", name])).spec.clusterIP;
}

/** GET `path` of the Envoy admin (127.0.0.1:15000) in a pod's container, through busybox wget. */
export function envoyAdmin(c: TestCluster, ns: string, pod: string, container: string, path: string): Promise<string> {
  return c.exec(ns, pod, container, ["wget", "-qO-", `http://127.0.0.1:15000${path}`]);
}

/** TLS on the connection: SNI, the CA to verify the server with, and a client certificate (PEM). */
export interface ClientTls {
  readonly servername: string;
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * One HTTP/1.1 request from the cluster's external host (its network namespace) to ip:port, on a
 * fresh connection; over TLS when `tls` is given. `serverCn` in the answer says whose certificate
 * the server presented.
 */
export async function requestFromExternal(
  c: TestCluster,
  ip: string,
  port: number,
  path: string,
  opts: HttpRequestOptions & { readonly tls?: ClientTls } = {},
): Promise<HttpResponse> {
  const socket = await connectInNetns(c.cfg.netnsExternal, ip, port);
  const t = opts.tls;
  const conn = t ? tls.connect({ socket, servername: t.servername, ca: t.ca, ...(t.cert ? { cert: t.cert, key: t.key } : {}) }) : socket;
  try {
    return await httpRequest(`http://${ip}:${port}${path}`, { ...opts, connect: () => conn });
  } finally {
    conn.destroy();
  }
}

const SMALL = { requests: { cpu: "10m", memory: "16Mi" } };

/** ServiceAccount, Deployment (pods run as that account) and Service `name` of a testapp workload (container `name`). */
export function identifiedWorkload(ns: string, name: string, serviceAccount: string, image: string): Record<string, unknown>[] {
  const dep = testappDeployment(ns, name, { app: name }, name, ["-service", name, "-version", "v1"], image) as {
    spec: { template: { spec: Record<string, unknown> } };
  };
  dep.spec.template.spec["serviceAccountName"] = serviceAccount;
  return [{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccount, namespace: ns } }, dep, testappService(ns, name)];
}

/** A pod that only runs `sleep` (requests are sent from it with exec); labelled app=name. */
export function idlePod(ns: string, name: string, image: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name, image, imagePullPolicy: "Never", command: ["sleep", "3600"], resources: SMALL }],
    },
  };
}

/** One request's outcome as `testapp client -each` prints it. */
export interface RequestResult {
  status?: number;
  ms: number;
  body?: { service: string; version: string; path: string; headers: Record<string, string> };
  text?: string;
  error?: string;
}
export interface RequestTally {
  requests: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  lastError?: string;
}

/** Where requests are sent from inside the cluster: a container of a pod (captured by its sidecar when injected). */
export interface RequestSource {
  readonly ns: string;
  readonly pod: string;
  readonly container: string;
}

/** `n` sequential GETs of `url` with `testapp client` inside `from`: each result and the tally. */
export async function sendRequests(
  c: TestCluster,
  from: RequestSource,
  url: string,
  opts: { n?: number; headers?: readonly string[]; timeoutMs?: number } = {},
): Promise<{ each: RequestResult[]; tally: RequestTally }> {
  const n = opts.n ?? 1;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const h = (opts.headers ?? []).flatMap((x) => ["-H", x]);
  const args = ["testapp", "client", "-each", "-n", String(n), "-timeout-ms", String(timeoutMs), ...h, url];
  const out = await c.exec(from.ns, from.pod, from.container, args, { timeoutMs: 60_000 + n * 2 * timeoutMs });
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);
  return { each: lines.slice(0, -1) as RequestResult[], tally: lines[lines.length - 1] as RequestTally };
}

/** The status of one GET from inside `from` (0 when no HTTP answer came: refused, reset, timed out). */
export async function statusOf(c: TestCluster, from: RequestSource, url: string, headers: readonly string[] = []): Promise<number> {
  const { each } = await sendRequests(c, from, url, { headers });
  return each[0]?.status ?? 0;
}
