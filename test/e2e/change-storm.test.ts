// A storm of 1000 changes written back to back (about a second on an idle machine), through a
// watched config directory into a running meshpilot (in-process serve, real gRPC delta clients as
// proxies): the changes are coalesced, and every proxy ends on the final state having received each pushed state once, in order,
// never one older than what it already had. Each change sets the port of a ServiceEntry
// endpoint, so a proxy reads which change a push carries from its ClusterLoadAssignment.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { AdsClient, type DeltaStream } from "../support/xds-client.js";
import { sleep, until } from "../support/wait.js";

const CHANGES = 1000;
const PROXIES = 20;
const BASE_PORT = 20_000;
const CLUSTER = "outbound|80||storm.example.internal";

const serviceEntry = (k: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: storm, namespace: shop }
spec:
  hosts: [storm.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP }
  endpoints:
    - address: 10.10.0.1
      ports: { http: ${BASE_PORT + k} }
`;

/** A proxy subscribed to the entry's endpoints: records the change each push carries, ACKs it. */
class Proxy {
  readonly seen: number[] = [];
  error: string | undefined;
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly s: DeltaStream,
  ) {
    s.send({ node: { id }, typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: [CLUSTER] });
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (!this.stopped) {
      try {
        const r = await this.s.nextOf(TYPE_URL.endpoint, 60_000);
        for (const res of r.resources) {
          const cla = fromBinary(ClusterLoadAssignmentSchema, res.resource!.value);
          const addr = cla.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
          if (addr?.case !== "endpoint") throw new Error(`push without an endpoint for ${res.name}`);
          const port = addr.value.address?.address.case === "socketAddress" ? addr.value.address.address.value.portSpecifier.value : undefined;
          if (typeof port !== "number") throw new Error("endpoint without a port");
          this.seen.push(port - BASE_PORT);
        }
        this.s.ack(r);
      } catch (e) {
        if (!this.stopped) this.error = (e as Error).message;
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.s.end();
  }
}

let dir = "";
let server: RunningServer | undefined;
let client: AdsClient | undefined;
const proxies: Proxy[] = [];

afterEach(async () => {
  for (const p of proxies.splice(0)) p.stop();
  client?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a storm of changes", () => {
  it("1000 changes written back to back reach every proxy coalesced, once each, in order, ending on the last", { timeout: 180_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), "meshpilot-storm-"));
    const target = join(dir, "storm.yaml");
    // In place, not by rename: Node 20's recursive fs.watch on Linux stops reporting a file once
    // it was replaced by a rename. A read that catches the file half-written only drops the entry
    // for one build (the next has it back, with a later port), which keeps the order checked below.
    const write = (k: number): void => writeFileSync(target, serviceEntry(k));
    write(0);
    server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }) });
    client = new AdsClient(`127.0.0.1:${server.xdsPort}`);
    for (let i = 0; i < PROXIES; i++) {
      proxies.push(new Proxy(`sidecar~10.0.1.${i + 1}~client-${i}.shop~shop.svc.cluster.local`, client.delta()));
    }
    await until(() => proxies.every((p) => p.seen.length > 0), "every proxy's first push", 60_000);
    expect(proxies.map((p) => p.seen)).toEqual(proxies.map(() => [0]));

    const started = performance.now();
    for (let k = 1; k <= CHANGES; k++) {
      write(k);
      if (k % 20 === 0) await sleep(5); // ~1000 changes per second, with turns for the server
    }
    const stormMs = performance.now() - started;
    await until(() => proxies.every((p) => p.seen.at(-1) === CHANGES || p.error !== undefined), "every proxy on the last change", 60_000);

    for (const p of proxies) {
      expect(p.error, p.id).toBeUndefined();
      // Strictly increasing: never an older state than one it had, never the same one twice.
      for (let i = 1; i < p.seen.length; i++) expect(p.seen[i], `${p.id} push ${i}`).toBeGreaterThan(p.seen[i - 1]!);
      expect(p.seen.at(-1)).toBe(CHANGES);
    }
    const pushes = proxies.map((p) => p.seen.length - 1);
    console.log(`storm: ${CHANGES} changes written in ${Math.round(stormMs)} ms → ${Math.min(...pushes)}–${Math.max(...pushes)} pushes per proxy`);
    // Coalesced: a handful of pushes per proxy, far below one per change.
    expect(Math.max(...pushes)).toBeLessThanOrEqual(CHANGES / 20);
  });
});
