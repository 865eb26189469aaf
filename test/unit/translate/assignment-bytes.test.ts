// ClusterLoadAssignments carry their own bytes (translate/assignment-bytes.ts), written from the
// endpoint models: they must be exactly what the generic encoder makes of the same resource's
// JSON, and must be left to it (undefined) wherever it would refuse or write otherwise.
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClusterLoadAssignmentSchema } from "../../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { buildMesh } from "../../../src/model/build.js";
import type { EndpointModel } from "../../../src/model/ir.js";
import { OWN_BYTES } from "../../../src/translate/assignment-bytes.js";
import { edsTargetEndpoints, type LocalityLb } from "../../../src/translate/endpoints.js";
import type { ClusterLoadAssignmentJson } from "../../../src/translate/envoy.js";
import { translateProxy, type EdsTarget } from "../../../src/translate/proxy.js";
import { encodeMessage } from "../../../src/xds/encode.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { generateMesh, inputOf } from "../../bench/mesh.js";
import { benchProxy } from "../../bench/translation.js";
import { goldenCases, translateGoldenCase } from "../../support/golden-cases.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The generic encoder's bytes for the resource's JSON (as a config dump would read it), or its error. */
function generic(cla: ClusterLoadAssignmentJson): Uint8Array | Error {
  try {
    const json = JSON.parse(JSON.stringify(cla)) as JsonValue;
    return toBinary(ClusterLoadAssignmentSchema, fromJson(ClusterLoadAssignmentSchema, json, { registry: envoyRegistry }));
  } catch (e) {
    return e as Error;
  }
}

function ownBytes(cla: ClusterLoadAssignmentJson): Uint8Array | undefined {
  const own = (cla as { [OWN_BYTES]?: () => Uint8Array | undefined })[OWN_BYTES];
  expect(own, `${cla.clusterName} carries no encoding of its own`).toBeTypeOf("function");
  return own!();
}

/** Own bytes, when given, are the generic encoder's; returns whether they were given. */
function agrees(cla: ClusterLoadAssignmentJson): boolean {
  const own = ownBytes(cla);
  const g = generic(cla);
  if (own === undefined) return false;
  expect(g, `the generic encoder refused what was written directly: ${JSON.stringify(cla)}`).toBeInstanceOf(Uint8Array);
  expect(hex(own)).toBe(hex(g as Uint8Array));
  return true;
}

describe("ClusterLoadAssignment bytes from the endpoint models", () => {
  it("every golden case's assignments: the generic encoder's bytes, and the ones the encoder uses", () => {
    let n = 0;
    for (const name of goldenCases()) {
      for (const cla of translateGoldenCase(name).resources.endpoints) {
        expect(agrees(cla), `${name}: ${cla.clusterName} was left to the JSON path`).toBe(true);
        expect(hex(encodeMessage(TYPE_URL.endpoint, cla, cla.clusterName!))).toBe(hex(ownBytes(cla)!));
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  for (const variant of ["basic", "full"] as const) {
    it(`bench mesh, 50 services, ${variant}`, () => {
      const r = translateProxy(buildMesh(inputOf(generateMesh(50, variant))), benchProxy());
      expect(r.endpoints.length).toBeGreaterThan(100);
      for (const cla of r.endpoints) expect(agrees(cla)).toBe(true);
    });
  }

  const text = fc.oneof(
    fc.constantFrom("", "a", "v1", "x".repeat(200), "ünï", "\ud800", "a\udfffb", "😀"),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 6 }),
  );
  const number = fc.oneof(fc.constantFrom(0, 1, 127, 128, 65535, 0xffffffff, 0x100000000, -1, 1.5, Number.NaN), fc.integer({ min: 0, max: 70000 }));
  const locality = fc.oneof(fc.constant(undefined), fc.constantFrom("", "r", "r/z", "r/z/s", "/z", "//s", "r1/z1", "ré/zé/s"));
  const endpoint: fc.Arbitrary<EndpointModel> = fc
    .record(
      {
        address: text,
        port: number,
        weight: fc.option(number, { nil: undefined }),
        podName: fc.option(text, { nil: undefined }),
        namespace: text,
        app: fc.option(text, { nil: undefined }),
        version: fc.option(text, { nil: undefined }),
        mesh: fc.boolean(),
        locality,
      },
      { requiredKeys: ["address", "port", "namespace", "mesh"] },
    )
    .map((e) => {
      const labels: Record<string, string> = {};
      if (e.app !== undefined) labels["app"] = e.app;
      if (e.version !== undefined) labels["version"] = e.version;
      if (e.mesh) labels["security.istio.io/tlsMode"] = "istio";
      const ep: { -readonly [K in keyof EndpointModel]: EndpointModel[K] } = { address: e.address, port: e.port, namespace: e.namespace, labels };
      if (e.weight !== undefined) ep.weight = e.weight;
      if (e.podName !== undefined) ep.podName = e.podName;
      if (e.locality !== undefined) ep.locality = e.locality;
      return ep;
    });
  const localityLb: fc.Arbitrary<LocalityLb | undefined> = fc.option(
    fc.record({
      setting: fc.oneof(
        fc.constant({ enabled: true }),
        fc.constant({ enabled: true, distribute: [{ from: "r/*", to: { "r/z/*": 70, "r1/*": 30 } }] }),
        fc.constant({ enabled: true, failover: [{ from: "r", to: "r1" }] }),
        fc.constant({ enabled: true, failoverPriority: ["app", "version"] }),
      ),
      failover: fc.boolean(),
      proxyLocality: fc.constantFrom({ region: "r", zone: "z", subZone: "s" }, { region: "", zone: "", subZone: "" }),
      proxyLabels: fc.constantFrom<Readonly<Record<string, string>>>({}, { app: "a" }),
    }),
    { nil: undefined },
  );
  const tls = fc.option(fc.record({ ruleMode: fc.option(fc.constantFrom("ISTIO_MUTUAL", "SIMPLE", "DISABLE"), { nil: undefined }) }, { requiredKeys: [] }), {
    nil: undefined,
  });

  it("generated endpoints: the generic encoder's bytes, else left to it", () => {
    let written = 0;
    fc.assert(
      fc.property(fc.array(endpoint, { maxLength: 8 }), text, localityLb, tls, (endpoints, cluster, lb, t) => {
        const target: EdsTarget = { cluster, endpoints: "k", labels: {}, ...(lb ? { locality: lb } : {}), ...(t ? { tls: t } : {}) };
        if (agrees(edsTargetEndpoints(target, new Map([["k", endpoints]])))) written++;
      }),
      { numRuns: 2000 },
    );
    // Most generated assignments are written directly (the rest have values the JSON path must judge).
    expect(written).toBeGreaterThan(200);
  });

  it("a lone surrogate, a port beyond uint32 or a fractional weight is left to the JSON path", () => {
    const cla = (ep: EndpointModel): ClusterLoadAssignmentJson => edsTargetEndpoints({ cluster: "c", endpoints: "k", labels: {} }, new Map([["k", [ep]]]));
    const bad: EndpointModel[] = [
      { address: "10.0.0.1", port: 0x100000000, namespace: "n", labels: {} },
      { address: "10.0.0.\ud800", port: 80, namespace: "n", labels: {} },
      { address: "10.0.0.1", port: 80, namespace: "n", labels: { app: "\udc00" }, podName: "p" },
      { address: "10.0.0.1", port: 80, namespace: "n", labels: {}, weight: 2.5 },
    ];
    for (const ep of bad) {
      expect(ownBytes(cla(ep))).toBeUndefined();
      // What the encoder then does is the JSON path's: its bytes or its error.
      const g = generic(cla(ep));
      if (g instanceof Error) expect(() => encodeMessage(TYPE_URL.endpoint, cla(ep), "c")).toThrow();
      else expect(hex(encodeMessage(TYPE_URL.endpoint, cla(ep), "c"))).toBe(hex(g));
    }
  });
});
