/**
 * A private mesh served by `meshpilot serve` as a real process (the built CLI), for fault tests
 * that kill it or watch its log: services whose pods are small backends on loopback addresses of
 * their own (as in traffic-fixture.ts), and one real Envoy (delta ADS, NONE interception) as the
 * client's sidecar. Its config directory is the test's to edit.
 *
 *   const mesh = await startProcessMesh({ name: "x", services, files: (a) => ({ "istio.yaml": … }) });
 *   mesh.write("istio.yaml", text);
 *   await mesh.restart();            // a new process on the same xDS port
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackend, type Backend } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { ensureBuilt, startServeProcess, type ServeProcess } from "../support/serve-process.js";
import { addressingOf, pickAddresses, yamlFor, type MeshAddressing, type ServiceSpec } from "./traffic-fixture.js";

export interface ProcessMeshOptions {
  readonly name: string;
  /** A service without workloads only reserves a port (nothing is written or started for it). */
  readonly services: readonly ServiceSpec[];
  /** Files of the config directory besides workloads.yaml, given the addresses picked. */
  readonly files: (a: MeshAddressing) => Readonly<Record<string, string>>;
  /** serve's --log-level (default info). */
  readonly logLevel?: string;
}

export interface ProcessMesh {
  readonly a: MeshAddressing;
  readonly dir: string;
  /** The running serve process (the newest one after restart()). */
  readonly serve: ServeProcess;
  readonly envoy: Envoy;
  /** http://127.0.0.1:<port>/ of a service's listener in Envoy. */
  url(service: string): string;
  /** Writes a file of the config directory (plainly: open, truncate, write). */
  write(file: string, text: string): void;
  /** Starts serve again on the same xDS port (the running one must be gone). */
  restart(): Promise<ServeProcess>;
  stop(): Promise<void>;
}

export async function startProcessMesh(opts: ProcessMeshOptions): Promise<ProcessMesh> {
  ensureBuilt(opts.name);
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async (): Promise<void> => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()?.()).catch(() => undefined);
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), `meshpilot-${opts.name}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = addressingOf(await pickAddresses(opts.services));
    const served = opts.services.filter((s) => s.workloads.length > 0);
    writeFileSync(join(dir, "workloads.yaml"), yamlFor(served, a, new Map(served.map((s, i) => [s.name, `10.96.210.${i + 1}`]))));
    for (const [file, text] of Object.entries(opts.files(a))) writeFileSync(join(dir, file), text);
    for (const s of served)
      for (const w of s.workloads) {
        if (w.backend === false) continue;
        const b: Backend = await startBackend({ version: w.version, name: `${s.name}-${w.version}`, host: a.ip(s.name, w.version), port: a.port(s.name) });
        cleanups.push(() => b.close());
      }

    let serve = await startServeProcess({ configDir: dir, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) });
    cleanups.push(() => serve.stop());
    const xdsPort = serve.xdsPort;
    const first = served[0]!;
    const clientIp = `${a.ip(first.name, first.workloads[0]!.version).split(".").slice(0, 3).join(".")}.2`;
    const envoy = await startSidecarEnvoy(opts.name, {
      nodeId: `sidecar~${clientIp}~client-0.default~default.svc.cluster.local`,
      xdsAddress: `127.0.0.1:${xdsPort}`,
      labels: { app: "client" },
    });
    cleanups.push(() => envoy.stop());
    for (const s of served) {
      const l = `127.0.0.1_${a.port(s.name)}`;
      await envoy.waitFor(async () => (await envoy.listenerAddress(l)).port === a.port(s.name), { timeoutMs: 20_000, what: `listener ${l}` });
    }
    return {
      a,
      dir,
      get serve() {
        return serve;
      },
      envoy,
      url: (s) => `http://127.0.0.1:${a.port(s)}/`,
      write: (file, text) => writeFileSync(join(dir, file), text),
      restart: async () => {
        serve = await startServeProcess({ configDir: dir, xdsAddress: `127.0.0.1:${xdsPort}`, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) });
        return serve;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
