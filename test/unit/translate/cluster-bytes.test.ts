// Outbound clusters carry their own bytes (translate/cluster-bytes.ts), put together from their
// template's encoded fields and their own: they must be exactly what the generic encoder makes of
// the same cluster's JSON, and must be left to it (undefined) wherever it would refuse or write
// otherwise.
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { buildMesh } from "../../../src/model/build.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { OWN_BYTES } from "../../../src/translate/assignment-bytes.js";
import type { ClusterJson } from "../../../src/translate/envoy.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { encodeMessage } from "../../../src/xds/encode.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { generateMesh, inputOf } from "../../bench/mesh.js";
import { benchProxy } from "../../bench/translation.js";
import { goldenCases, translateGoldenCase } from "../../support/golden-cases.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The generic encoder's bytes for the cluster's JSON (as a config dump would read it), or its error. */
function generic(c: ClusterJson): Uint8Array | Error {
  try {
    const json = JSON.parse(JSON.stringify(c)) as JsonValue;
    return toBinary(ClusterSchema, fromJson(ClusterSchema, json, { registry: envoyRegistry }));
  } catch (e) {
    return e as Error;
  }
}

type Own = (this: object, encode: (json: object) => Uint8Array | undefined) => Uint8Array | undefined;

function ownOf(c: ClusterJson): Own | undefined {
  return (c as { [OWN_BYTES]?: Own })[OWN_BYTES];
}

/** What the encoder is given for parts of a Cluster: the generic path's bytes for them. */
const encodePart = (json: object): Uint8Array | undefined => {
  const g = generic(json as ClusterJson);
  return g instanceof Error ? undefined : g;
};

/** Own bytes, when given, are the generic encoder's; returns whether they were given. */
function agrees(c: ClusterJson): boolean {
  const own = ownOf(c)?.call(c, encodePart);
  if (own === undefined) return false;
  const g = generic(c);
  expect(g, `the generic encoder refused what was written directly: ${JSON.stringify(c)}`).toBeInstanceOf(Uint8Array);
  expect(hex(own)).toBe(hex(g as Uint8Array));
  // And the encoder, which gives its own JSON encoder for the parts, makes the same.
  expect(hex(encodeMessage(TYPE_URL.cluster, c, c.name!))).toBe(hex(own));
  return true;
}

describe("outbound cluster bytes from templates", () => {
  it("every golden case's clusters: the generic encoder's bytes", () => {
    let written = 0;
    for (const name of goldenCases()) {
      for (const c of translateGoldenCase(name).resources.clusters) if (agrees(c)) written++;
    }
    expect(written).toBeGreaterThan(100);
  });

  for (const variant of ["basic", "full"] as const) {
    it(`bench mesh, 50 services, ${variant}: every outbound cluster written directly`, () => {
      const r = translateProxy(buildMesh(inputOf(generateMesh(50, variant))), benchProxy());
      let written = 0;
      for (const c of r.clusters) if (agrees(c)) written++;
      expect(written).toBe(150);
    });
  }

  // Generated DestinationRules, ports and services through the whole translation.
  const duration = fc.constantFrom("1s", "0.5s", "10s", "1h", "0.001s", "3m");
  const count = fc.constantFrom(0, 1, 7, 100, 1024, 65536, 4294967295);
  const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
  const loadBalancer = fc.oneof(
    fc.record(
      { simple: fc.constantFrom("ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"), warmupDurationSecs: opt(duration) },
      { requiredKeys: ["simple"] },
    ),
    fc.record({
      consistentHash: fc.record(
        { httpHeaderName: fc.constant("x-user"), ringHash: opt(fc.record({ minimumRingSize: count })) },
        { requiredKeys: ["httpHeaderName"] },
      ),
    }),
    fc.record({ consistentHash: fc.record({ httpHeaderName: fc.constant("x-user"), maglev: fc.record({ tableSize: fc.constantFrom(65537, 251) }) }) }),
    fc.record({ localityLbSetting: fc.record({ enabled: fc.boolean(), failover: fc.constant([{ from: "r", to: "r2" }]) }) }),
  );
  const connectionPool = fc.record(
    {
      tcp: fc.record(
        {
          maxConnections: count,
          connectTimeout: duration,
          maxConnectionDuration: duration,
          idleTimeout: duration,
          tcpKeepalive: fc.record({ probes: fc.constantFrom(1, 9), time: duration, interval: duration }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      ),
      http: fc.record(
        {
          http1MaxPendingRequests: count,
          http2MaxRequests: count,
          maxRetries: count,
          idleTimeout: duration,
          maxRequestsPerConnection: count,
          h2UpgradePolicy: fc.constantFrom("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"),
          useClientProtocol: fc.boolean(),
          maxConcurrentStreams: count,
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );
  const outlierDetection = fc.record(
    {
      consecutive5xxErrors: count,
      consecutiveGatewayErrors: count,
      interval: duration,
      baseEjectionTime: duration,
      maxEjectionPercent: fc.constantFrom(0, 10, 100),
      minHealthPercent: fc.constantFrom(0, 50),
      splitExternalLocalOriginErrors: fc.boolean(),
      consecutiveLocalOriginFailures: count,
    },
    { requiredKeys: [] },
  );
  const tls = fc.oneof(
    fc.record({ mode: fc.constantFrom("DISABLE", "ISTIO_MUTUAL") }),
    fc.record({ mode: fc.constant("SIMPLE"), sni: opt(fc.constant("a.example")), caCertificates: opt(fc.constant("/etc/ca.pem")) }, { requiredKeys: ["mode"] }),
  );
  const policy = fc.record({ loadBalancer, connectionPool, outlierDetection, tls }, { requiredKeys: [] });
  const text = fc.constantFrom("v1", "v2", "canary", "x".repeat(130), "ünï");
  const service = fc.record({
    headless: fc.boolean(),
    protocol: fc.constantFrom("http", "http2", "grpc", "tcp", "tls", "web"),
    policy: opt(policy),
    subsets: fc.array(fc.record({ name: text, policy: opt(policy) }, { requiredKeys: ["name"] }), { maxLength: 3 }),
    portLevel: opt(policy),
    mesh: fc.boolean(),
  });

  function objectsOf(services: readonly GeneratedService[]): StoredObject<InputObject>[] {
    const objects: InputObject[] = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "ns" } } as InputObject];
    services.forEach((s, i) => {
      const name = `svc-${i}`;
      objects.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: "ns" },
        spec: {
          clusterIP: s.headless ? "None" : `10.96.0.${i + 1}`,
          selector: { app: name },
          ports: [{ name: `${s.protocol}-p`, port: 8080, targetPort: 8080 }],
        },
      } as InputObject);
      objects.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `${name}-0`, namespace: "ns", labels: { app: name, version: "v1", ...(s.mesh ? { "security.istio.io/tlsMode": "istio" } : {}) } },
        spec: { containers: [{ name: "app" }] },
        status: { phase: "Running", podIP: `10.1.0.${i + 1}`, podIPs: [{ ip: `10.1.0.${i + 1}` }] },
      } as InputObject);
      const subsets = s.subsets.map((ss, j) => ({ name: `${ss.name}-${j}`, labels: { version: ss.name }, ...(ss.policy ? { trafficPolicy: ss.policy } : {}) }));
      const trafficPolicy =
        s.policy || s.portLevel ? { ...s.policy, ...(s.portLevel ? { portLevelSettings: [{ port: { number: 8080 }, ...s.portLevel }] } : {}) } : undefined;
      objects.push({
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name, namespace: "ns" },
        spec: { host: name, ...(trafficPolicy ? { trafficPolicy } : {}), subsets },
      } as InputObject);
    });
    return objects.map((object) => ({ object }));
  }

  type GeneratedService = typeof service extends fc.Arbitrary<infer T> ? T : never;

  it("generated rules, ports and services: the generic encoder's bytes, else left to it", () => {
    let written = 0;
    let withTls = 0;
    fc.assert(
      fc.property(fc.array(service, { minLength: 1, maxLength: 3 }), (services) => {
        const r = translateProxy(buildMesh(meshInputFrom(objectsOf(services))), benchProxy());
        for (const c of r.clusters) {
          if (!agrees(c)) continue;
          written++;
          if (c.transportSocket || c.transportSocketMatches) withTls++;
        }
      }),
      { numRuns: 300 },
    );
    expect(written).toBeGreaterThan(300);
    // Clusters with TLS of their own (ISTIO_MUTUAL, SIMPLE, auto mTLS) among them.
    expect(withTls).toBeGreaterThan(50);
  });

  it("a cluster whose JSON no longer holds its template, or holds values the JSON path must judge, is left to it", () => {
    const clusters = translateProxy(buildMesh(inputOf(generateMesh(2, "full"))), benchProxy()).clusters.filter((c) => ownOf(c));
    const keys = [
      "name",
      "type",
      "edsClusterConfig",
      "connectTimeout",
      "lbPolicy",
      "circuitBreakers",
      "metadata",
      "transportSocket",
      "clusterType",
      "connect_timeout",
      "junk",
    ];
    const values = fc.constantFrom<unknown>(
      undefined,
      null,
      "",
      "\ud800",
      "STATIC",
      "5s",
      7,
      Number.NaN,
      {},
      [],
      { filterMetadata: { istio: { a: [1, true, null, { b: "c" }], "\udc00": "x" } } },
      { filterMetadata: { "\ud800": {} } },
      { filterMetadata: null },
      { typedFilterMetadata: {} },
      { serviceName: "s" },
      { thresholds: [{ maxConnections: 1 }] },
    );
    let written = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: clusters.length - 1 }),
        fc.array(fc.tuple(fc.constantFrom(...keys), values), { minLength: 1, maxLength: 3 }),
        (i, edits) => {
          const c = clusters[i]!;
          const copy = Object.assign({}, c) as Record<string, unknown>;
          for (const [k, v] of edits) copy[k] = v;
          // The same own-bytes function (one per template, called on its cluster), over the edited JSON.
          Object.defineProperty(copy, OWN_BYTES, { value: ownOf(c) });
          const own = ownOf(copy as ClusterJson)!.call(copy, encodePart);
          if (own === undefined) return;
          const g = generic(copy as ClusterJson);
          expect(g).toBeInstanceOf(Uint8Array);
          expect(hex(own)).toBe(hex(g as Uint8Array));
          written++;
        },
      ),
      { numRuns: 3000 },
    );
    // Edits of the cluster's own fields (name, metadata, its TLS) are still written directly.
    expect(written).toBeGreaterThan(30);
  });
});
