/**
 * The load generator on meshpilot's secure port (issue 10's 15012, in this process on loopback):
 * TLS verified against the mesh root, the proxies proven by a client certificate of the mesh CA
 * (a bearer token is proven against a real kube-apiserver in test/kube/kube-loadgen.test.ts), and
 * claiming the identity it names; each proxy asks for the `default` and `ROOTCA` secrets its
 * auto-mTLS clusters name, over delta and SotW, and is in sync only once it has them; the report
 * counts them per type and never shows a secret's bytes. Then every stream is dropped: delta
 * proxies resume with initial_resource_versions and get nothing they hold again, SotW proxies get
 * everything again, and a fleet that does not resume is sent everything it held again.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatReport, type LoadReport } from "../../src/loadgen/report.js";
import { runLoad, type LoadOptions } from "../../src/loadgen/run.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";

const SERVER_NAME = "meshpilot.meshpilot-system.svc";
const NO_SECRET_TEXT = /BEGIN|PRIVATE|CERTIFICATE/;

describe("meshpilot loadgen on meshpilot's secure port: TLS, a client certificate, SDS, resume", () => {
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-loadgen-secure-"));
  const configDir = join(dir, "config");
  let server: RunningServer | undefined;
  let secure: NonNullable<LoadOptions["secure"]>;
  const lines: string[] = [];

  beforeAll(async () => {
    mkdirSync(configDir);
    server = await startServer({
      configDir,
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      debounceMs: 20,
      logger: pino({ level: "info" }, { write: (s: string) => void lines.push(s) }),
      identity: { secureXdsAddress: "127.0.0.1:0", caNamespace: "meshpilot-system", dnsNames: [SERVER_NAME] },
    });
    const ca = server.identity!.ca;
    const issued = await ca.issueWorkload({ namespace: "shop", serviceAccount: "cart" });
    writeFileSync(join(dir, "root-cert.pem"), ca.rootPem);
    writeFileSync(join(dir, "cert-chain.pem"), issued.certChainPem);
    writeFileSync(join(dir, "key.pem"), issued.keyPem, { mode: 0o600 });
    secure = {
      caCertFile: join(dir, "root-cert.pem"),
      certChainFile: join(dir, "cert-chain.pem"),
      keyFile: join(dir, "key.pem"),
      serverName: SERVER_NAME,
    };
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (o: Partial<LoadOptions>): Promise<LoadReport> =>
    runLoad({
      target: `127.0.0.1:${server!.secureXdsPort}`,
      secure,
      fleet: [
        { protocol: "delta", count: 6 },
        { protocol: "sotw", count: 3 },
      ],
      services: 4,
      configDir,
      churnRate: 5,
      durationS: 1,
      maxChanges: 2,
      syncTimeoutMs: 60_000,
      changeTimeoutMs: 30_000,
      readyTimeoutMs: 60_000,
      serverPid: process.pid,
      ...o,
    });

  // First, on a fresh server: nothing changes between the sync and the drop (a later run rewrites the churned mesh while it syncs).
  it("without resume, a reconnecting delta proxy is sent everything it held again", async () => {
    const r = await run({ fleet: [{ protocol: "delta", count: 3 }], resume: false, durationS: 0, dropStreams: true });
    expect(r.errors).toEqual([]);
    const [delta] = r.fleets;
    expect(delta!.synced).toBe(3);
    for (const t of ["cds", "eds", "lds", "rds", "vhds", "sds"] as const) expect(delta!.offered[t], t).toBe(0);
    for (const t of ["cds", "eds", "lds", "rds", "vhds"] as const) expect(delta!.resumed[t].resources, t).toBe(3 * delta!.syncResourcesPerProxy[t].min);
    // The secrets come when the identity's certificate is minted again, maybe after the phase ended (see below).
    expect(delta!.resumed.sds.resources).toBeLessThanOrEqual(3 * 2);
    // Without versions kept, nothing can be counted as unchanged.
    for (const t of ["cds", "eds", "lds", "rds", "vhds", "sds"] as const) expect(delta!.resumed[t].unchanged, t).toBe(0);
    expect(formatReport(r)).toMatch(/re-sent resources/);
  });

  it("syncs every proxy with its default and ROOTCA secrets, converges on changes, and resumes after the streams drop", async () => {
    const r = await run({ dropStreams: true });
    expect(r.errors).toEqual([]);
    expect(r.transport).toBe("TLS with a client certificate");
    expect(r.fleets.map((f) => [f.protocol, f.proxies, f.synced, f.failed, f.streamErrors])).toEqual([
      ["delta", 6, 6, 0, 0],
      ["sotw", 3, 3, 0, 0],
    ]);
    for (const f of r.fleets) {
      // Both secrets, once each, for every proxy; they came over the same stream as the rest.
      expect(f.syncResourcesPerProxy.sds, f.protocol).toEqual({ min: 2, max: 2 });
      expect(f.syncReceived.sds.resources, f.protocol).toBe(2 * f.proxies);
      expect(f.syncResourceBytesPerProxy.sds.min, f.protocol).toBeGreaterThan(200);
      // Auto mTLS: the outbound clusters name those secrets (4 services × 3 clusters at least).
      expect(f.syncResourcesPerProxy.cds.min, f.protocol).toBeGreaterThanOrEqual(12);
    }
    expect(r.churn.changes.map((c) => [c.missing, c.converged])).toEqual([
      [0, 9],
      [0, 9],
    ]);

    // The resume: every new stream answered; delta proxies declared what they held and got none of it again.
    expect(r.resume).toMatchObject({ dropped: 9, answered: 9 });
    const [delta, sotw] = r.fleets;
    expect(delta!.resumedStreams).toBe(6);
    for (const t of ["cds", "eds", "lds", "rds", "vhds"] as const) {
      expect(delta!.resumed[t].unchanged, t).toBe(0);
      expect(delta!.resumed[t].resources, t).toBe(0);
      expect(delta!.resumed[t].removed, t).toBe(0);
    }
    // meshpilot forgets an identity's certificate when its last stream goes and mints a new one
    // when it comes back: `default` may come again, but changed, never as the version held.
    expect(delta!.resumed.sds.unchanged).toBe(0);
    expect(delta!.resumed.sds.resources).toBeLessThanOrEqual(6 * 2);
    expect(delta!.offered.cds).toBe(6 * delta!.syncResourcesPerProxy.cds.min);
    expect(delta!.offered.eds).toBe(6 * delta!.syncResourcesPerProxy.eds.min);
    expect(delta!.offered.sds).toBe(6 * 2);
    // SotW has no per-resource versions: clusters and listeners come again, whole.
    expect(sotw!.resumedStreams).toBe(3);
    expect(sotw!.resumed.cds.resources).toBe(3 * sotw!.syncResourcesPerProxy.cds.min);
    // All of an identity's streams dropped, so meshpilot forgot its certificate: the new one is
    // minted after the new streams' first SDS answer (empty), and may arrive after the phase ended.
    expect(sotw!.resumed.sds.resources).toBeLessThanOrEqual(3 * 2);
    expect(r.server?.resumeCpuS).toBeGreaterThanOrEqual(0);

    // The report names the secret type and its counts, never a secret's text; neither does the server's log.
    const text = formatReport(r);
    expect(text).toMatch(/SDS/);
    expect(text).not.toMatch(NO_SECRET_TEXT);
    expect(JSON.stringify(r)).not.toMatch(NO_SECRET_TEXT);
    expect(lines.join("")).not.toMatch(/PRIVATE KEY/);
  });

  it("refuses credentials without TLS, and the workloads label mode behind one identity", async () => {
    const { loadgenCommand } = await import("../../src/loadgen/cli.js");
    const base = { target: "127.0.0.1:1", proxies: "1", protocol: "delta", sotwProxies: "0", labels: "identical", groups: "10", services: "1" };
    const rest = {
      variant: "basic",
      churnRate: "1",
      duration: "0",
      changeKinds: "endpoint",
      syncTimeout: "1",
      changeTimeout: "1",
      readyTimeout: "1",
      reconnect: false,
    };
    await expect(loadgenCommand({ ...base, ...rest, tokenFile: join(dir, "token") })).rejects.toThrow("--token-file needs --ca-cert");
    await expect(run({ labels: "workloads" })).rejects.toThrow(/--labels workloads .* namespace shop/);
    await expect(run({ secure: { ...secure, keyFile: undefined } as unknown as typeof secure })).rejects.toThrow("--cert-chain and --key go together");
  });
});
