/**
 * A real Envoy for tests and the demo: start one from a bootstrap object, read what it has
 * through its admin API, stop it. Also `validateStaticConfig`, which loads xDS resources into
 * `envoy --mode validate` without serving anything.
 *
 * Not tied to vitest: the binary comes from `options.envoyPath`, else $MESHPILOT_ENVOY_PATH
 * (set by test/support/global-setup.ts), else scripts/ensure-envoy.mjs installs it.
 *
 *   const envoy = await startEnvoy({ bootstrap });
 *   afterEach(() => envoy.stop());           // or afterAll(stopAllEnvoys)
 *   await envoy.waitReady();
 *   const { port } = await envoy.listenerAddress("0.0.0.0_9080");
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, linkSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy } from "../../scripts/ensure-envoy.mjs";
import { buildBootstrap, type BootstrapOptions } from "../../src/translate/bootstrap.js";
import type { Bridge, NetNs } from "./netns.js";
import { TestCerts } from "./certs.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObj = { [key: string]: Json };

/** Path of the Envoy binary: $MESHPILOT_ENVOY_PATH when set, else installed on demand. */
export async function resolveEnvoyPath(explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const fromEnv = process.env.MESHPILOT_ENVOY_PATH;
  if (fromEnv) return fromEnv;
  const path = await ensureEnvoy();
  process.env.MESHPILOT_ENVOY_PATH = path;
  return path;
}

export interface EnvoyOptions {
  /** Bootstrap as an object (proto JSON, camelCase or snake_case). Without `admin`, admin gets 127.0.0.1:<ephemeral>. */
  readonly bootstrap: object;
  readonly envoyPath?: string;
  /** Shown in errors and the temp dir name. */
  readonly name?: string;
  /** Default `warn`. */
  readonly logLevel?: string;
  /** e.g. `upstream:debug,config:debug` when chasing an xDS problem. */
  readonly componentLogLevel?: string;
  /** Default 1. */
  readonly concurrency?: number;
  readonly extraArgs?: readonly string[];
  /** How long start() waits for the admin address. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** Keep the temp dir (bootstrap, log) after stop(); also with MESHPILOT_KEEP_ENVOY_FILES=1. */
  readonly keepFiles?: boolean;
  /**
   * Run inside this network namespace (nsenter --net; the file system is shared). Its addresses,
   * xDS included, are the namespace's; `adminAddress` is a host loopback port bridged to admin.
   */
  readonly netns?: NetNs;
  /**
   * Run Envoy as this uid and gid (setpriv), as an injected sidecar runs as 1337 (the capture
   * rules let that user's traffic out). The binary is linked into Envoy's own temp directory,
   * which that user owns: the shared cache may sit where it cannot reach.
   */
  readonly runAs?: number;
}

export interface AdminAddress {
  readonly host: string;
  readonly port: number;
}

export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

const running = new Set<Envoy>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: never leave an Envoy behind when the test process exits.
  process.on("exit", () => {
    for (const e of running) e.killNow();
  });
}

/** Stops every Envoy this process started and has not stopped yet. */
export async function stopAllEnvoys(): Promise<void> {
  await Promise.all([...running].map((e) => e.stop()));
}

/**
 * Kills Envoy when this process dies without running its exit hooks (SIGKILL from a test-runner
 * timeout, a crash), so that no Envoy outlives its test run. Killed itself when Envoy exits.
 */
function startWatchdog(envoyPid: number): ChildProcess | undefined {
  try {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${envoyPid} 2>/dev/null`;
    const w = spawn("/bin/sh", ["-c", script], { stdio: "ignore", detached: true });
    w.on("error", () => undefined);
    w.unref();
    return w;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Envoy {
  readonly name: string;
  readonly dir: string;
  readonly bootstrapPath: string;
  readonly logPath: string;
  private readonly child: ChildProcess;
  private output = "";
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;
  private admin: AdminAddress | undefined;
  private readonly keepFiles: boolean;
  private readonly watchdog: ChildProcess | undefined;
  private readonly netns: NetNs | undefined;
  private adminBridge: { readonly target: string; readonly bridge: Bridge } | undefined;

  private constructor(name: string, dir: string, child: ChildProcess, keepFiles: boolean, netns: NetNs | undefined) {
    this.name = name;
    this.dir = dir;
    this.bootstrapPath = join(dir, "bootstrap.json");
    this.logPath = join(dir, "envoy.log");
    this.child = child;
    this.keepFiles = keepFiles;
    this.netns = netns;
    const append = (b: Buffer) => {
      this.output += b.toString();
      if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.watchdog = child.pid !== undefined ? startWatchdog(child.pid) : undefined;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        running.delete(this);
        this.watchdog?.kill("SIGKILL");
        resolve();
      });
      child.on("error", (err) => {
        this.output += `\nspawn error: ${err.message}\n`;
        this.exitInfo ??= { code: -1, signal: null };
        running.delete(this);
        resolve();
      });
    });
  }

  /** Starts Envoy and waits until its admin API answers (not until it is ready: see waitReady). */
  static async start(options: EnvoyOptions): Promise<Envoy> {
    const envoyPath = await resolveEnvoyPath(options.envoyPath);
    const name = options.name ?? "envoy";
    const dir = mkdtempSync(join(tmpdir(), `meshpilot-${name.replace(/[^a-zA-Z0-9_-]/g, "_")}-`));
    const bootstrap = { ...(options.bootstrap as JsonObj) };
    if (bootstrap["admin"] === undefined) {
      bootstrap["admin"] = { address: { socketAddress: { address: "127.0.0.1", portValue: 0 } } };
    }
    const bootstrapPath = join(dir, "bootstrap.json");
    const adminPath = join(dir, "admin-address");
    writeFileSync(bootstrapPath, JSON.stringify(bootstrap, null, 2));
    const args = [
      "-c",
      bootstrapPath,
      "--use-dynamic-base-id",
      "--concurrency",
      String(options.concurrency ?? 1),
      "--log-level",
      options.logLevel ?? "warn",
      "--drain-time-s",
      "0",
      "--parent-shutdown-time-s",
      "1",
      "--log-path",
      join(dir, "envoy.log"),
      // Envoy writes the admin address it bound (port 0 → a real port) to this file.
      "--admin-address-path",
      adminPath,
      ...(options.componentLogLevel ? ["--component-log-level", options.componentLogLevel] : []),
      ...(options.extraArgs ?? []),
    ];
    const stdio = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };
    let command = envoyPath;
    let commandArgs = args;
    if (options.runAs !== undefined) {
      const uid = String(options.runAs);
      const bin = join(dir, "envoy");
      try {
        linkSync(envoyPath, bin);
      } catch {
        copyFileSync(envoyPath, bin);
        chmodSync(bin, 0o755);
      }
      chownSync(dir, options.runAs, options.runAs);
      command = "setpriv";
      commandArgs = [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", bin, ...args];
    }
    const child = options.netns ? options.netns.spawn(command, commandArgs, stdio) : spawn(command, commandArgs, stdio);
    const keep = options.keepFiles ?? process.env.MESHPILOT_KEEP_ENVOY_FILES === "1";
    const envoy = new Envoy(name, dir, child, keep, options.netns);
    running.add(envoy);
    installExitHook();
    try {
      envoy.admin = await envoy.waitForAdminAddress(adminPath, options.startTimeoutMs ?? 20_000);
    } catch (err) {
      const logs = envoy.logs();
      await envoy.stop();
      throw new Error(`${(err as Error).message}\n--- ${name} logs ---\n${tail(logs)}`);
    }
    return envoy;
  }

  private async waitForAdminAddress(path: string, timeoutMs: number): Promise<AdminAddress> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitInfo) throw new Error(`${this.name} exited during startup (${describeExit(this.exitInfo)})`);
      if (existsSync(path)) {
        const text = readFileSync(path, "utf8").trim();
        const m = /^(.*):(\d+)$/.exec(text);
        if (m && m[2] !== "0") {
          const addr = await this.reachable({ host: (m[1] ?? "").replace(/^\[|\]$/g, ""), port: Number(m[2]) });
          // Any HTTP answer proves the address complete (the file could be caught mid-write).
          const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
          const answered = await fetch(`http://${host}:${addr.port}/ready`).then(
            () => true,
            () => false,
          );
          if (answered) return addr;
        }
      }
      if (Date.now() > deadline) throw new Error(`${this.name}: no admin address after ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Admin's address as the test process reaches it: itself, or a bridge into Envoy's namespace. */
  private async reachable(addr: AdminAddress): Promise<AdminAddress> {
    if (!this.netns) return addr;
    const target = `${addr.host}:${addr.port}`;
    if (this.adminBridge?.target !== target) {
      await this.adminBridge?.bridge.close();
      this.adminBridge = { target, bridge: await this.netns.bridge({ forward: [addr] }) };
    }
    return this.adminBridge.bridge.forward[0]!;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get adminAddress(): AdminAddress {
    if (!this.admin) throw new Error(`${this.name}: admin address not known yet`);
    return this.admin;
  }

  get adminUrl(): string {
    const { host, port } = this.adminAddress;
    return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  get isRunning(): boolean {
    return this.exitInfo === undefined;
  }

  /** A raw admin request; throws on a non-2xx status. */
  async adminRequest(path: string, method: "GET" | "POST" = "GET"): Promise<string> {
    const res = await fetch(`${this.adminUrl}${path}`, { method });
    const body = await res.text();
    if (!res.ok) throw new Error(`${this.name}: ${method} ${path} → ${res.status}: ${body.slice(0, 500)}`);
    return body;
  }

  async adminJson<T = JsonObj>(path: string): Promise<T> {
    return JSON.parse(await this.adminRequest(path)) as T;
  }

  /** Resolves when /ready answers 200 (server LIVE: initial CDS/LDS done). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    let last = "";
    try {
      await this.waitFor(
        async () => {
          const res = await fetch(`${this.adminUrl}/ready`);
          last = (await res.text()).trim();
          return res.status === 200;
        },
        { timeoutMs, what: "/ready" },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message} (last /ready: ${last || "no answer"})`);
    }
  }

  /**
   * Polls `check` until it returns true. Throws with the description and Envoy's log tail on
   * timeout or when Envoy exits meanwhile.
   */
  async waitFor(check: () => boolean | Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    let lastError: unknown;
    for (;;) {
      if (this.exitInfo)
        throw new Error(
          `${this.name} exited (${describeExit(this.exitInfo)}) while waiting for ${opts.what ?? "a condition"}\n--- logs ---\n${tail(this.logs())}`,
        );
      try {
        if (await check()) return;
        lastError = undefined;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        const why = lastError ? ` (last error: ${(lastError as Error).message})` : "";
        throw new Error(
          `${this.name}: timed out after ${opts.timeoutMs ?? 20_000} ms waiting for ${opts.what ?? "a condition"}${why}\n--- logs ---\n${tail(this.logs())}`,
        );
      }
      await sleep(opts.intervalMs ?? 50);
    }
  }

  /**
   * /config_dump, optionally one resource (e.g. `dynamic_active_clusters`), with EDS when
   * `includeEds`. Returns the parsed JSON (`{configs: [...]}`).
   */
  async configDump(resource?: string, opts: { includeEds?: boolean; mask?: string } = {}): Promise<JsonObj> {
    const q = new URLSearchParams();
    if (resource) q.set("resource", resource);
    if (opts.mask) q.set("mask", opts.mask);
    let path = `/config_dump${q.size ? `?${q}` : ""}`;
    if (opts.includeEds) path += q.size ? "&include_eds" : "?include_eds";
    return this.adminJson(path);
  }

  /** /clusters?format=json: `{cluster_statuses: [{name, host_statuses: [...]}, ...]}`. */
  async clusters(): Promise<JsonObj> {
    return this.adminJson("/clusters?format=json");
  }

  /**
   * Counters and gauges from /stats?format=json as a flat map name → value; `filter` is Envoy's
   * regex filter. Histograms are left out.
   */
  async stats(filter?: string): Promise<Record<string, number>> {
    const q = filter ? `&filter=${encodeURIComponent(filter)}` : "";
    const body = await this.adminJson<{ stats?: Array<{ name?: string; value?: number | string }> }>(`/stats?format=json${q}`);
    const out: Record<string, number> = {};
    for (const s of body.stats ?? []) {
      // Text readouts have string values: only numbers are kept.
      if (s.name !== undefined && s.value !== undefined && s.value !== "" && Number.isFinite(Number(s.value))) out[s.name] = Number(s.value);
    }
    return out;
  }

  /** One counter or gauge, or undefined when Envoy has no such stat. */
  async stat(name: string): Promise<number | undefined> {
    const all = await this.stats(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
    return all[name];
  }

  /** The address a listener is bound to (a port-0 listener's real port). */
  async listenerAddress(name: string): Promise<ListenerAddress> {
    const body = await this.adminJson<{
      listener_statuses?: Array<{ name?: string; local_address?: { socket_address?: { address?: string; port_value?: number } } }>;
    }>("/listeners?format=json");
    const l = body.listener_statuses?.find((s) => s.name === name);
    const sa = l?.local_address?.socket_address;
    if (!sa || sa.address === undefined) {
      const names = (body.listener_statuses ?? []).map((s) => s.name).join(", ");
      throw new Error(`${this.name}: no listener "${name}" (has: ${names || "none"})`);
    }
    return { host: sa.address, port: sa.port_value ?? 0 };
  }

  /** Envoy's log file plus anything it printed on stdout/stderr. */
  logs(): string {
    let file = "";
    try {
      file = readFileSync(this.logPath, "utf8");
    } catch {
      // not written yet
    }
    return [file, this.output].filter((s) => s.trim()).join("\n");
  }

  /** Terminates Envoy (SIGTERM, then SIGKILL after 3 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.exitInfo) {
        this.child.kill("SIGTERM");
        const killed = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
        if (!killed) {
          this.child.kill("SIGKILL");
          await this.exited;
        }
      }
      running.delete(this);
      await this.adminBridge?.bridge.close();
      if (!this.keepFiles) rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Synchronous SIGKILL, for process-exit hooks. */
  killNow(): void {
    if (!this.exitInfo) this.child.kill("SIGKILL");
    this.watchdog?.kill("SIGKILL");
  }
}

export function startEnvoy(options: EnvoyOptions): Promise<Envoy> {
  return Envoy.start(options);
}

function describeExit(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
}

function tail(text: string, lines = 60): string {
  const all = text.trimEnd().split("\n");
  return (all.length > lines ? ["…", ...all.slice(-lines)] : all).join("\n");
}

// ───────────────────────────── validation ─────────────────────────────

/**
 * A stock Envoy bootstrapped by `meshpilot bootstrap`'s builder (INTERCEPTION_MODE NONE unless
 * given), as the sidecar of the pod in `nodeId`, with admin on an ephemeral port instead of the
 * bootstrap's fixed 15000. Resolves once Envoy's admin answers /ready.
 */
export async function startSidecarEnvoy(
  name: string,
  options: BootstrapOptions & { readonly readyTimeoutMs?: number; readonly waitReady?: boolean; readonly netns?: NetNs },
): Promise<Envoy> {
  const { readyTimeoutMs = 20_000, waitReady = true, netns, ...bootstrapOptions } = options;
  const built = buildBootstrap({ interception: "NONE", ...bootstrapOptions });
  if (!built.bootstrap) throw new Error(`buildBootstrap: ${JSON.stringify(built.errors)}`);
  const { admin: _fixedAdmin, ...bootstrap } = built.bootstrap;
  const envoy = await startEnvoy({ name, bootstrap, ...(netns ? { netns } : {}) });
  if (waitReady) await envoy.waitReady(readyTimeoutMs);
  return envoy;
}

export interface XdsResources {
  readonly clusters?: readonly object[];
  readonly listeners?: readonly object[];
  /** RouteConfigurations (RDS); inlined into the HCMs that name them. */
  readonly routes?: readonly object[];
  /** ClusterLoadAssignments (EDS); inlined into the EDS clusters that name them. */
  readonly endpoints?: readonly object[];
  /** Secrets (SDS); clusters' SDS-over-ADS references to them become static references by name. */
  readonly secrets?: readonly object[];
}

export interface ValidationResult {
  readonly ok: boolean;
  /** Envoy's output (its reason when not ok), or ours for resources that cannot be wrapped. */
  readonly output: string;
  /** The static bootstrap that was validated. */
  readonly bootstrap: object;
}

const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

function field(o: JsonObj, camel: string, snake: string): Json | undefined {
  return o[camel] ?? o[snake];
}

function deleteField(o: JsonObj, camel: string, snake: string): void {
  delete o[camel];
  delete o[snake];
}

/** A resource as a plain message: a deep copy without the top-level "@type" of an Any. */
function asMessage(r: object): JsonObj {
  const copy = JSON.parse(JSON.stringify(r)) as JsonObj;
  delete copy["@type"];
  return copy;
}

function isAdsSds(v: Json | undefined): boolean {
  return (
    !!v &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    ((v["sdsConfig"] as JsonObj | undefined)?.["ads"] !== undefined || (v["sds_config"] as JsonObj | undefined)?.["ads"] !== undefined)
  );
}

/** SDS-over-ADS references inside `node` → static references to `given` Secrets (see validateStaticConfig). */
function inlineSds(node: Json, given: ReadonlySet<string>): void {
  if (Array.isArray(node)) {
    node.forEach((n) => inlineSds(n, given));
    return;
  }
  if (!node || typeof node !== "object") return;
  const certs = field(node, "tlsCertificateSdsSecretConfigs", "tls_certificate_sds_secret_configs");
  if (Array.isArray(certs)) {
    const kept = certs
      .filter((c) => !isAdsSds(c) || given.has(String((c as JsonObj)["name"])))
      .map((c) => (isAdsSds(c) ? { name: (c as JsonObj)["name"]! } : c));
    deleteField(node, "tlsCertificateSdsSecretConfigs", "tls_certificate_sds_secret_configs");
    if (kept.length) node["tlsCertificateSdsSecretConfigs"] = kept;
  }
  const combined = field(node, "combinedValidationContext", "combined_validation_context");
  if (combined && typeof combined === "object" && !Array.isArray(combined)) {
    const sds = field(combined, "validationContextSdsSecretConfig", "validation_context_sds_secret_config");
    if (isAdsSds(sds)) {
      const name = String((sds as JsonObj)["name"]);
      if (given.has(name)) {
        deleteField(combined, "validationContextSdsSecretConfig", "validation_context_sds_secret_config");
        combined["validationContextSdsSecretConfig"] = { name };
      } else {
        deleteField(node, "combinedValidationContext", "combined_validation_context");
        node["validationContext"] = field(combined, "defaultValidationContext", "default_validation_context") ?? {};
      }
    }
  }
  for (const v of Object.values(node)) inlineSds(v, given);
}

const MESH_SECRET_NAMES = ["default", "ROOTCA"];
let meshCerts: TestCerts | undefined;

/** A stand-in for the workload certificate (`default`) or the mesh root (`ROOTCA`), made once per process. */
function meshSecret(name: string): JsonObj {
  if (!meshCerts) {
    meshCerts = new TestCerts("meshpilot-validate-mesh-").leaf("workload", "URI:spiffe://cluster.local/ns/default/sa/default");
    const dir = meshCerts;
    process.once("exit", () => dir.remove());
  }
  const pem = (f: string) => readFileSync(meshCerts!.path(f), "utf8");
  return name === "ROOTCA"
    ? { name, validationContext: { trustedCa: { inlineString: pem("ca.pem") } } }
    : { name, tlsCertificate: { certificateChain: { inlineString: pem("workload.pem") }, privateKey: { inlineString: pem("workload-key.pem") } } };
}

/**
 * Wraps xDS resources (Envoy's proto JSON) as a static bootstrap and runs
 * `envoy --mode validate`: EDS clusters get the matching ClusterLoadAssignment inline (type
 * STATIC), HCMs with RDS get the matching RouteConfiguration inline. Route configurations no
 * listener names and assignments no cluster names are validated through stand-in listeners and
 * clusters (named `validate-only|…`). A name that cannot be resolved is reported as not ok.
 */
export async function validateStaticConfig(resources: XdsResources, opts: { envoyPath?: string; timeoutMs?: number } = {}): Promise<ValidationResult> {
  const problems: string[] = [];
  const cla = new Map<string, JsonObj>();
  for (const e of resources.endpoints ?? []) {
    const m = asMessage(e);
    const name = field(m, "clusterName", "cluster_name");
    if (typeof name !== "string") problems.push(`ClusterLoadAssignment without cluster_name: ${JSON.stringify(e).slice(0, 200)}`);
    else cla.set(name, m);
  }
  const routes = new Map<string, JsonObj>();
  for (const r of resources.routes ?? []) {
    const m = asMessage(r);
    const name = m["name"];
    if (typeof name !== "string") problems.push(`RouteConfiguration without name: ${JSON.stringify(r).slice(0, 200)}`);
    else routes.set(name, m);
  }
  const usedCla = new Set<string>();
  const usedRoutes = new Set<string>();

  const clusters: JsonObj[] = (resources.clusters ?? []).map((c) => {
    const m = asMessage(c);
    const eds = field(m, "edsClusterConfig", "eds_cluster_config");
    if (m["type"] === "EDS" || eds !== undefined) {
      const edsObj = eds && typeof eds === "object" && !Array.isArray(eds) ? eds : {};
      const serviceName = field(edsObj, "serviceName", "service_name");
      const key = typeof serviceName === "string" && serviceName ? serviceName : String(m["name"]);
      deleteField(m, "edsClusterConfig", "eds_cluster_config");
      m["type"] = "STATIC";
      const assignment = cla.get(key);
      if (assignment) {
        usedCla.add(key);
        m["loadAssignment"] = { ...assignment, clusterName: String(m["name"]) };
        delete m["cluster_name"];
      } else {
        // Envoy would wait for EDS and serve no endpoints: an empty assignment is the same.
        m["loadAssignment"] = { clusterName: String(m["name"]) };
      }
    }
    return m;
  });
  // SDS over ADS has no ADS stream here (validate mode crashes on it): a reference to a given
  // Secret becomes a static one (name only); one to a Secret not given (served later, or never)
  // is validated without it. The workload's own `default` and `ROOTCA` are never part of a
  // translation (the xDS server attaches them per connection): stand-ins from a test CA take
  // their place, so mTLS contexts are validated with real certificates.
  const secrets = [...(resources.secrets ?? []).map(asMessage)];
  const secretNames = new Set(secrets.map((x) => String(x["name"])));
  const text = JSON.stringify([resources.clusters ?? [], resources.listeners ?? []]);
  for (const standIn of MESH_SECRET_NAMES.filter((n) => !secretNames.has(n) && text.includes(JSON.stringify(n)))) {
    secrets.push(meshSecret(standIn));
    secretNames.add(standIn);
  }
  for (const c of clusters) inlineSds(c, secretNames);
  for (const [name, assignment] of cla) {
    if (!usedCla.has(name)) {
      clusters.push({
        name: `validate-only|${name}`,
        type: "STATIC",
        connectTimeout: "1s",
        loadAssignment: { ...assignment, clusterName: `validate-only|${name}` },
      });
    }
  }

  const inlineRds = (node: Json): void => {
    if (Array.isArray(node)) {
      node.forEach(inlineRds);
      return;
    }
    if (!node || typeof node !== "object") return;
    if (node["@type"] === HCM_TYPE) {
      const rds = field(node, "rds", "rds");
      if (rds && typeof rds === "object" && !Array.isArray(rds)) {
        const name = field(rds, "routeConfigName", "route_config_name");
        const rc = typeof name === "string" ? routes.get(name) : undefined;
        if (!rc) problems.push(`listener HCM names RouteConfiguration ${JSON.stringify(name)}, which is not among the routes given`);
        else {
          usedRoutes.add(name as string);
          delete node["rds"];
          node["routeConfig"] = rc;
        }
      }
    }
    for (const v of Object.values(node)) inlineRds(v);
  };
  const listeners: JsonObj[] = (resources.listeners ?? []).map((l) => {
    const m = asMessage(l);
    inlineRds(m);
    inlineSds(m, secretNames);
    return m;
  });
  // Route configurations no listener uses still get checked, each behind a stand-in listener.
  // In validate mode nothing binds, so the ports only need to differ.
  let standIn = 0;
  for (const [name, rc] of routes) {
    if (usedRoutes.has(name)) continue;
    standIn++;
    listeners.push({
      name: `validate-only|${name}`,
      address: { socketAddress: { address: "127.0.0.1", portValue: 60000 + standIn } },
      filterChains: [
        {
          filters: [
            {
              name: "envoy.filters.network.http_connection_manager",
              typedConfig: {
                "@type": HCM_TYPE,
                statPrefix: "validate_only",
                routeConfig: rc,
                httpFilters: [
                  { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
                ],
              },
            },
          ],
        },
      ],
    });
  }

  const bootstrap = {
    node: { id: "sidecar~127.0.0.1~validate.default~default.svc.cluster.local", cluster: "validate.default" },
    staticResources: { clusters, listeners, ...(secrets.length ? { secrets } : {}) },
  };
  if (problems.length) return { ok: false, output: problems.join("\n"), bootstrap };
  const res = await validateBootstrap(bootstrap, opts);
  return { ...res, bootstrap };
}

/** `envoy --mode validate` on a bootstrap object. */
export async function validateBootstrap(bootstrap: object, opts: { envoyPath?: string; timeoutMs?: number } = {}): Promise<{ ok: boolean; output: string }> {
  const envoyPath = await resolveEnvoyPath(opts.envoyPath);
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-validate-"));
  const file = join(dir, "bootstrap.json");
  writeFileSync(file, JSON.stringify(bootstrap, null, 2));
  // Output to a file, not a pipe: Envoy opens access logs at /dev/stdout while validating, and a
  // pipe from Node is a socket, which cannot be opened by path.
  const outFile = join(dir, "output.log");
  const out = openSync(outFile, "w");
  try {
    return await new Promise((resolve) => {
      const child = spawn(envoyPath, ["--mode", "validate", "-c", file, "--log-level", "warn", "--use-dynamic-base-id", "--concurrency", "1"], {
        stdio: ["ignore", out, out],
        timeout: opts.timeoutMs ?? 60_000,
      });
      const done = (err: Error | undefined, code: number | null) => {
        const output = readFileSync(outFile, "utf8").trim();
        const failed = err !== undefined || code !== 0;
        resolve({ ok: !failed, output: failed && !output ? (err?.message ?? `exit code ${code}`) : output });
      };
      child.on("error", (err) => done(err, null));
      child.on("exit", (code) => done(undefined, code));
    });
  } finally {
    closeSync(out);
    rmSync(dir, { recursive: true, force: true });
  }
}
