/**
 * A real kube-apiserver + etcd for tests, on loopback ephemeral ports in a temp dir. Binaries
 * come from scripts/ensure-kube.mjs (built from the Go module proxy into a cache dir, once).
 *
 * - Serving cert: the apiserver self-signs one into --cert-dir; clients trust that file.
 * - Auth: a static token file with an admin (system:masters) token; ServiceAccount tokens come
 *   from the TokenRequest API (signed with a key made here by openssl), so meshpilot can run
 *   with exactly the RBAC of deploy/.
 * - No controllers, scheduler or kubelet: tests create Pods, write their status through the
 *   status subresource, and create EndpointSlices themselves.
 * - `restartApiserver()` stops and starts the apiserver on the same port with the same etcd.
 *
 * Use one cluster per test FILE (startKube in beforeAll, with a long hook timeout: the first
 * call may build the binaries). Under CI=true a failure to start fails the tests; locally too,
 * unless MESHPILOT_SKIP_KUBE=1 (see `kubeTestsSkipped`).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { ensureKube } from "../../scripts/ensure-kube.mjs";
import { ensureGatewayApi } from "../../scripts/ensure-gateway-api.mjs";
import { KubeClient } from "../../src/sources/kube/client.js";
import { KINDS as REGISTRY } from "../../src/api/kinds.js";
import { freePort } from "./net.js";

export { freePort };

export const DEPLOY_DIR = fileURLToPath(new URL("../../deploy/", import.meta.url));

/** Outside CI, MESHPILOT_SKIP_KUBE=1 skips the real-apiserver tests. Under CI=true they always run. */
export const kubeTestsSkipped = process.env["CI"] !== "true" && process.env["MESHPILOT_SKIP_KUBE"] === "1";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown } };

interface KindInfo {
  readonly prefix: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const KINDS: Readonly<Record<string, KindInfo>> = {
  "v1/Namespace": { prefix: "/api/v1", plural: "namespaces", namespaced: false },
  "v1/Service": { prefix: "/api/v1", plural: "services", namespaced: true },
  "v1/Pod": { prefix: "/api/v1", plural: "pods", namespaced: true },
  "v1/ServiceAccount": { prefix: "/api/v1", plural: "serviceaccounts", namespaced: true },
  "v1/ConfigMap": { prefix: "/api/v1", plural: "configmaps", namespaced: true },
  "v1/Secret": { prefix: "/api/v1", plural: "secrets", namespaced: true },
  "discovery.k8s.io/v1/EndpointSlice": { prefix: "/apis/discovery.k8s.io/v1", plural: "endpointslices", namespaced: true },
  "apps/v1/Deployment": { prefix: "/apis/apps/v1", plural: "deployments", namespaced: true },
  "policy/v1/PodDisruptionBudget": { prefix: "/apis/policy/v1", plural: "poddisruptionbudgets", namespaced: true },
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": {
    prefix: "/apis/admissionregistration.k8s.io/v1",
    plural: "mutatingwebhookconfigurations",
    namespaced: false,
  },
  "rbac.authorization.k8s.io/v1/ClusterRole": { prefix: "/apis/rbac.authorization.k8s.io/v1", plural: "clusterroles", namespaced: false },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { prefix: "/apis/rbac.authorization.k8s.io/v1", plural: "clusterrolebindings", namespaced: false },
  "rbac.authorization.k8s.io/v1/Role": { prefix: "/apis/rbac.authorization.k8s.io/v1", plural: "roles", namespaced: true },
  "rbac.authorization.k8s.io/v1/RoleBinding": { prefix: "/apis/rbac.authorization.k8s.io/v1", plural: "rolebindings", namespaced: true },
  "apiextensions.k8s.io/v1/CustomResourceDefinition": { prefix: "/apis/apiextensions.k8s.io/v1", plural: "customresourcedefinitions", namespaced: false },
  "coordination.k8s.io/v1/Lease": { prefix: "/apis/coordination.k8s.io/v1", plural: "leases", namespaced: true },
};
// Every Istio kind in every version meshpilot reads (deploy/crds.yaml serves them all), and the
// Gateway API's (installGatewayApiCrds serves them), by the kind as the API spells it.
for (const k of REGISTRY.filter((i) => i.group.endsWith(".istio.io") || i.group === "gateway.networking.k8s.io")) {
  for (const v of k.versions)
    (KINDS as Record<string, KindInfo>)[`${k.group}/${v}/${k.apiKind ?? k.kind}`] = {
      prefix: `/apis/${k.group}/${v}`,
      plural: k.plural,
      namespaced: k.namespaced,
    };
}

/** The API path of an object (`collection` = without the name). */
export function objectPath(obj: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string } }, collection = false): string {
  const info = KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (!info) throw new Error(`test/support/kube.ts does not know ${obj.apiVersion} ${obj.kind}`);
  const ns = info.namespaced ? `/namespaces/${obj.metadata.namespace ?? "default"}` : "";
  return `${info.prefix}${ns}/${info.plural}${collection ? "" : `/${obj.metadata.name}`}`;
}

export function loadManifests(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null && typeof o === "object");
}

export class KubeTestClient extends KubeClient {
  /** Server-side apply (create or update); returns the object the server holds. */
  async apply(obj: object, opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<Obj> {
    const o = obj as Obj;
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? "meshpilot-tests", force: "true", ...(opts.dryRun ? { dryRun: "All" } : {}) });
    return (await this.call("PATCH", `${objectPath(o)}?${q.toString()}`, o, { contentType: "application/apply-patch+yaml" })) as Obj;
  }

  async applyAll(text: string, opts: { dryRun?: boolean } = {}): Promise<Obj[]> {
    const out: Obj[] = [];
    for (const o of loadManifests(text)) out.push(await this.apply(o, opts));
    return out;
  }

  async get(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<Obj | undefined> {
    const res = await this.request("GET", objectPath(obj));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${objectPath(obj)}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Obj;
  }

  async delete(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<void> {
    const res = await this.request("DELETE", objectPath(obj));
    if (res.status !== 200 && res.status !== 202 && res.status !== 404)
      throw new Error(`DELETE ${objectPath(obj)}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** Merge-patch the status subresource (Pods: podIP, phase, conditions). */
  async patchStatus(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }, status: object): Promise<Obj> {
    return (await this.call("PATCH", `${objectPath(obj)}/status`, { status }, { contentType: "application/merge-patch+json" })) as Obj;
  }
}

export interface KubeCluster {
  readonly server: string;
  readonly dir: string;
  /** etcd's client URL (plain HTTP on loopback). */
  readonly etcdUrl: string;
  /**
   * Compacts etcd's history up to its current revision (through etcd's HTTP gateway), so that a
   * watch from any older resourceVersion is answered 410 Gone. Returns that revision.
   */
  compactEtcd(): Promise<number>;
  readonly admin: KubeTestClient;
  /** A KubeConfig for a bearer token (trusting the apiserver's self-signed cert). */
  kubeConfig(token: string, user?: string, server?: string): KubeConfig;
  /** Writes a kubeconfig file for `token` and returns its path. */
  kubeconfigFile(token: string, name: string): string;
  client(token: string): KubeTestClient;
  /** A token for a ServiceAccount from the TokenRequest API. */
  /** A TokenRequest token; `audiences` default to the API server's own. */
  serviceAccountToken(namespace: string, name: string, seconds?: number, audiences?: readonly string[]): Promise<string>;
  /** Applies deploy/crds.yaml and waits until every CRD is Established. */
  installCrds(): Promise<void>;
  /** Applies the Gateway API release's CRDs (scripts/ensure-gateway-api.mjs) and waits until they are served. */
  installGatewayApiCrds(): Promise<void>;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  restartApiserver(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, "a");
  const child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

const tail = (file: string, n = 40) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
};

/**
 * `watchCache: false` serves every watch straight from etcd (the apiserver's --watch-cache=false):
 * then an etcd compaction is what makes an old resourceVersion 410 Gone, as in a cluster whose
 * watch cache no longer holds it.
 */
export async function startKube(opts: { name?: string; log?: (m: string) => void; watchCache?: boolean } = {}): Promise<KubeCluster> {
  // The ports are picked free and bound by etcd and the apiserver a moment later: another test's
  // process may take one in between. Then a new start, on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKubeOnce(opts);
    } catch (err) {
      if (attempt >= PORT_RACE_ATTEMPTS || !/address already in use/.test((err as Error).message)) throw err;
      (opts.log ?? console.log)(`[kube] a port was taken before etcd or the apiserver bound it; starting again (attempt ${attempt + 1})`);
    }
  }
}

const PORT_RACE_ATTEMPTS = 3;

async function startKubeOnce(opts: { name?: string; log?: (m: string) => void; watchCache?: boolean }): Promise<KubeCluster> {
  const log = opts.log ?? ((m: string) => console.log(`[kube] ${m}`));
  const t0 = performance.now();
  const bins = await ensureKube({ log });
  const tBuilt = performance.now();
  const dir = mkdtempSync(join(tmpdir(), `meshpilot-kube-${opts.name ?? "test"}-`));
  const certDir = join(dir, "certs");
  mkdirSync(certDir);
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  execFileSync("openssl", ["genrsa", "-out", saKey, "2048"], { stdio: "ignore" });
  execFileSync("openssl", ["rsa", "-in", saKey, "-pubout", "-out", saPub], { stdio: "ignore" });
  const adminToken = `admin-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, "tokens.csv"), `${adminToken},admin,admin-uid,"system:masters"\n`);

  const etcdPort = await freePort();
  const peerPort = await freePort();
  const apiPort = await freePort();
  const etcdLog = join(dir, "etcd.log");
  const apiLog = join(dir, "apiserver.log");
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = startProcess(
    bins.etcd,
    [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ],
    etcdLog,
  );
  const server = `https://127.0.0.1:${apiPort}`;
  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${certDir}`,
    `--secure-port=${apiPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--authorization-mode=RBAC",
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    "--disable-admission-plugins=ServiceAccount",
    "--allow-privileged=true",
    "--enable-priority-and-fairness=false",
    "--profiling=false",
    "--v=1",
    ...(opts.watchCache === false ? ["--watch-cache=false"] : []),
  ];
  let apiserver: ChildProcess | undefined;
  const cleanup = async () => {
    await stopProcess(apiserver);
    await stopProcess(etcd);
    if (process.env["MESHPILOT_KEEP_KUBE_DIR"] !== "1") rmSync(dir, { recursive: true, force: true });
  };

  let caData = "";
  const kubeConfig = (token: string, user = "user", via = server): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "test", server: via, caData, skipTLSVerify: false }],
      users: [{ name: user, token }],
      contexts: [{ name: "test", cluster: "test", user }],
      currentContext: "test",
    });
    return kc;
  };
  const waitReady = async (timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    for (;;) {
      if (apiserver?.exitCode !== null && apiserver?.exitCode !== undefined) throw new Error(`kube-apiserver exited (${apiserver.exitCode}):\n${tail(apiLog)}`);
      if (etcd.exitCode !== null) throw new Error(`etcd exited (${etcd.exitCode}):\n${tail(etcdLog)}`);
      try {
        if (!caData) caData = Buffer.from(readFileSync(join(certDir, "apiserver.crt"))).toString("base64");
        const c = new KubeTestClient(kubeConfig(adminToken, "admin"));
        const r = await c.request("GET", "/readyz", undefined, { timeoutMs: 2000 });
        if (r.status === 200) {
          const ns = await c.request("GET", "/api/v1/namespaces/default", undefined, { timeoutMs: 2000 });
          if (ns.status === 200) return;
          last = `default namespace: HTTP ${ns.status}`;
        } else last = `readyz: HTTP ${r.status} ${String(r.body).slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (performance.now() > deadline) throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (${last}):\n${tail(apiLog)}`);
      await sleep(250);
    }
  };
  const startApiserver = async () => {
    apiserver = startProcess(bins.apiserver, apiArgs, apiLog);
    await waitReady(90_000);
  };

  try {
    await startApiserver();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const admin = new KubeTestClient(kubeConfig(adminToken, "admin"));
  log(`etcd + kube-apiserver ${bins.version} ready at ${server} in ${Math.round(performance.now() - tBuilt)} ms (binaries: ${Math.round(tBuilt - t0)} ms)`);

  const installCrdFile = async (file: string, probe: string): Promise<void> => {
    const crds = await admin.applyAll(readFileSync(file, "utf8"));
    const deadline = performance.now() + 30_000;
    for (const crd of crds) {
      for (;;) {
        const cur = (await admin.get({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: crd.metadata.name } })) as
          { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined;
        if (cur?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
        if (performance.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established after 30 s`);
        await sleep(100);
      }
    }
    // Discovery for the new group can lag the Established condition a little.
    for (;;) {
      const r = await admin.request("GET", probe);
      if (r.status === 200) break;
      if (performance.now() > deadline) throw new Error(`${probe} not served after 30 s (HTTP ${r.status})`);
      await sleep(100);
    }
  };
  const etcdCall = async (path: string, body: object): Promise<{ header?: { revision?: string } }> => {
    const res = await fetch(`${etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as { header?: { revision?: string } };
  };
  const cluster: KubeCluster = {
    server,
    dir,
    etcdUrl,
    async compactEtcd() {
      // Any read answers with the store's current revision in its header.
      const head = await etcdCall("/v3/kv/range", { key: Buffer.from("/registry/").toString("base64"), limit: 1 });
      const revision = Number(head.header?.revision);
      if (!Number.isInteger(revision) || revision < 1) throw new Error(`etcd gave no revision: ${JSON.stringify(head)}`);
      await etcdCall("/v3/kv/compaction", { revision: String(revision), physical: true });
      return revision;
    },
    admin,
    kubeConfig,
    kubeconfigFile(token, name) {
      const path = join(dir, `kubeconfig-${name}`);
      writeFileSync(path, kubeConfig(token, name).exportConfig());
      return path;
    },
    client: (token) => new KubeTestClient(kubeConfig(token)),
    async serviceAccountToken(namespace, name, seconds = 3600, audiences) {
      const body = (await admin.call("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: seconds, ...(audiences ? { audiences } : {}) },
      })) as { status?: { token?: string } };
      if (!body.status?.token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      return body.status.token;
    },
    async installCrds() {
      await installCrdFile(join(DEPLOY_DIR, "crds.yaml"), "/apis/networking.istio.io/v1/virtualservices");
    },
    async installGatewayApiCrds() {
      const { crds } = await ensureGatewayApi({ log });
      await installCrdFile(crds, "/apis/gateway.networking.k8s.io/v1/httproutes");
    },
    stopApiserver: () => stopProcess(apiserver),
    startApiserver,
    async restartApiserver(downMs = 0) {
      await stopProcess(apiserver);
      await sleep(downMs);
      await startApiserver();
    },
    stop: cleanup,
  };
  return cluster;
}

export interface TcpProxy {
  readonly port: number;
  /** Existing connections go silent (bytes dropped both ways, sockets kept open); new ones work. */
  blackholeExisting(): void;
  /** The target becomes unreachable: open connections are reset, new ones reset at once, until `restore()`. */
  cut(): void;
  restore(): void;
  /** Connections reset while cut (open ones and refused new ones). */
  readonly resets: () => number;
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:`targetPort` that can make established streams stall silently. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const conns = new Set<{ client: net.Socket; upstream: net.Socket; dead: boolean }>();
  let isCut = false;
  let resets = 0;
  const reset = (s: net.Socket) => {
    resets++;
    s.on("error", () => undefined);
    s.resetAndDestroy();
  };
  const server = net.createServer((client) => {
    if (isCut) return reset(client);
    const upstream = net.connect(targetPort, "127.0.0.1");
    const c = { client, upstream, dead: false };
    conns.add(c);
    client.on("data", (d) => {
      if (!c.dead) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!c.dead) client.write(d);
    });
    const end = () => {
      if (c.dead) return; // a blackholed stream never tells the client anything
      client.destroy();
      upstream.destroy();
      conns.delete(c);
    };
    client.on("close", () => {
      upstream.destroy();
      conns.delete(c);
    });
    upstream.on("close", end);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackholeExisting() {
      for (const c of conns) c.dead = true;
    },
    cut() {
      isCut = true;
      for (const c of conns) {
        reset(c.client);
        c.upstream.destroy();
      }
      conns.clear();
    },
    restore() {
      isCut = false;
    },
    resets: () => resets,
    async close() {
      for (const c of conns) {
        c.client.destroy();
        c.upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
