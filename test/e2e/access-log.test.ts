/**
 * Access logs through a real Envoy driven by meshpilot: the mesh config's accessLogFile (what
 * `serve --access-log` sets) makes the client sidecar write Istio's text format, and each line
 * says what a user debugging a request needs: the response code, the response flags (NR: no
 * route, UH: no healthy upstream, UF/URX: connection failure after retries) and the upstream
 * cluster. A Telemetry then moves the logs to a provider of its own with a CEL filter, and a
 * workload Telemetry turns them off.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshConfigFrom, type MeshConfig } from "../../src/model/mesh-config.js";
import { eventually, startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

/** Istio's default text format, field by field (model: translate/access-log.ts), as a user reads a line. */
const LINE =
  /^\[(?<start>\S+)\] "(?<method>\S+) (?<path>\S+) (?<protocol>\S+)" (?<code>\d+) (?<flags>\S+) (?<details>\S+) (?<termination>\S+) "(?<failure>[^"]*)" (?<received>\d+) (?<sent>\d+) (?<duration>\d+) (?<upstreamTime>\S+) "(?<xff>[^"]*)" "(?<agent>[^"]*)" "(?<requestId>[^"]*)" "(?<authority>[^"]*)" "(?<upstreamHost>[^"]*)" (?<cluster>\S+) (?<upstreamLocal>\S+) (?<downstreamLocal>\S+) (?<downstreamRemote>\S+) (?<sni>\S+) (?<route>\S+)$/;

type Line = Record<string, string>;

function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

const routes = (m: MeshAddressing): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: default }
spec:
  host: web
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: nobody, labels: { version: nobody } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - name: no-endpoints
      match: [{ headers: { x-case: { exact: uh } } }]
      route: [{ destination: { host: web, subset: nobody } }]
    - name: ok
      match: [{ uri: { prefix: /ok } }]
      route: [{ destination: { host: web, subset: v1, port: { number: ${m.port("web")} } } }]
`;

describe("access logs through a real Envoy", () => {
  let mesh: TrafficMesh;
  let dir: string;
  let meshConfig: MeshConfig;
  const defaultLog = () => join(dir, "default.log");
  const errorsLog = () => join(dir, "errors.log");

  /** The parsed line of the one request with `path`, once Envoy has flushed it to `file`. */
  const lineFor = async (file: string, path: string): Promise<Line> => {
    let found: Line | undefined;
    await eventually(() => {
      const raw = linesOf(file).find((l) => l.includes(` ${path} `));
      if (!raw) return false;
      const m = LINE.exec(raw);
      expect(m, `not Istio's format: ${raw}`).not.toBeNull();
      found = m!.groups!;
      return true;
    }, `the access log line of ${path} in ${file}`);
    return found!;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meshpilot-access-log-"));
    const parsed = meshConfigFrom({
      accessLogFile: join(dir, "default.log"),
      extensionProviders: [{ name: "errors", envoyFileAccessLog: { path: join(dir, "errors.log") } }],
    });
    if ("error" in parsed) throw new Error(parsed.error);
    meshConfig = parsed.config;
    mesh = await startTrafficMesh({
      name: "access-log",
      services: [
        { name: "web", workloads: [{ version: "v1" }] },
        // An endpoint where nothing listens: connections are refused.
        { name: "down", workloads: [{ version: "v1", backend: false }] },
      ],
      istio: routes,
      meshConfig,
    });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes a served request in Istio's text format, with the route and the upstream cluster and host", async () => {
    const r = await mesh.get("web", "/ok/first", { headers: { "user-agent": "access-log-test" } });
    expect(r.status).toBe(200);
    const l = await lineFor(defaultLog(), "/ok/first");
    expect(l).toMatchObject({
      method: "GET",
      protocol: "HTTP/1.1",
      code: "200",
      flags: "-",
      details: "via_upstream",
      agent: "access-log-test",
      authority: "web",
      upstreamHost: `${mesh.ip("web", "v1")}:${mesh.port("web")}`,
      cluster: mesh.cluster("web", "v1"),
      route: "ok",
    });
    expect(Number(l["sent"])).toBe(Buffer.byteLength(r.body));
  });

  it("flags a request no route takes NR (404), with no upstream cluster", async () => {
    const r = await mesh.get("web", "/no-such-route");
    expect(r.status).toBe(404);
    expect(await lineFor(defaultLog(), "/no-such-route")).toMatchObject({ code: "404", flags: "NR", details: "route_not_found", cluster: "-" });
  });

  it("flags a subset without endpoints UH (503) and names its cluster", async () => {
    const r = await mesh.get("web", "/no-endpoints", { headers: { "x-case": "uh" } });
    expect(r.status).toBe(503);
    expect(await lineFor(defaultLog(), "/no-endpoints")).toMatchObject({
      code: "503",
      flags: "UH",
      cluster: mesh.cluster("web", "nobody"),
      route: "no-endpoints",
    });
  });

  it("flags refused connections UF and exhausted retries URX (503), with the upstream host tried", async () => {
    const r = await mesh.get("down", "/refused");
    expect(r.status).toBe(503);
    const l = await lineFor(defaultLog(), "/refused");
    expect(l["code"]).toBe("503");
    expect(l["flags"]!.split(",").sort()).toEqual(["UF", "URX"]);
    expect(l["cluster"]).toBe(mesh.cluster("down"));
    expect(l["upstreamHost"]).toBe(`${mesh.ip("down", "v1")}:${mesh.port("down")}`);
    expect(l["failure"]).toMatch(/connection/i);
  });

  it("follows a Telemetry: its own provider with a CEL filter replaces the mesh default", async () => {
    mesh.setIstio(`${routes(mesh)}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: errors-only, namespace: default }
spec:
  accessLogging:
    - providers: [{ name: errors }]
      filter: { expression: "response.code >= 400" }
`);
    // Until the new listeners arrive the old ones log to default.log: wait for a first error line.
    await eventually(async () => {
      await mesh.get("web", "/probe-telemetry");
      return linesOf(errorsLog()).some((l) => l.includes("/probe-telemetry"));
    }, "the Telemetry's provider in use");
    expect((await mesh.get("web", "/ok/filtered-out")).status).toBe(200);
    expect((await mesh.get("web", "/filtered-in")).status).toBe(404);
    expect(await lineFor(errorsLog(), "/filtered-in")).toMatchObject({ code: "404", flags: "NR" });
    // Lines of one file are written in order: the 200 before it was filtered out, and the mesh
    // default is no longer written.
    expect(linesOf(errorsLog()).filter((l) => l.includes("/ok/filtered-out"))).toEqual([]);
    expect(linesOf(defaultLog()).filter((l) => l.includes("/filtered-in") || l.includes("/ok/filtered-out"))).toEqual([]);
  });

  it("turns logging off for a workload with disabled, over the namespace's Telemetry", async () => {
    const telemetry = (disabled: boolean) => `${routes(mesh)}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: errors-only, namespace: default }
spec:
  accessLogging: [{ providers: [{ name: errors }], filter: { expression: "response.code >= 400" } }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: client-quiet, namespace: default }
spec:
  selector: { matchLabels: { app: client } }
  accessLogging: [{ disabled: ${disabled} }]
`;
    mesh.setIstio(telemetry(true));
    await eventually(async () => {
      const dump = await mesh.envoy.configDump();
      return !JSON.stringify(dump).includes("errors.log");
    }, "the listeners without access logs");
    expect((await mesh.get("web", "/quiet")).status).toBe(404);
    // Turn it back on: the next error is logged, and the one sent while disabled never was.
    mesh.setIstio(telemetry(false));
    await eventually(async () => {
      await mesh.get("web", "/loud");
      return linesOf(errorsLog()).some((l) => l.includes("/loud"));
    }, "logging back on");
    expect(linesOf(errorsLog()).filter((l) => l.includes("/quiet"))).toEqual([]);
    expect(linesOf(defaultLog()).filter((l) => l.includes("/quiet"))).toEqual([]);
  });
});
