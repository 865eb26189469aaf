// The direct JSON → binary encoder must give exactly the bytes of protobuf-es's
// toBinary(fromJson(...)) whenever it answers, and must not answer (so encode.ts falls back)
// whenever fromJson rejects the JSON.
import { fromJson, ScalarType, toBinary, type DescEnum, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import {
  AnySchema,
  BoolValueSchema,
  BytesValueSchema,
  DoubleValueSchema,
  DurationSchema,
  EmptySchema,
  FieldMaskSchema,
  FloatValueSchema,
  Int32ValueSchema,
  Int64ValueSchema,
  ListValueSchema,
  StringValueSchema,
  StructSchema,
  TimestampSchema,
  UInt32ValueSchema,
  UInt64ValueSchema,
  ValueSchema,
} from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "../../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "../../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import { SecretSchema } from "../../../src/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { buildMesh } from "../../../src/model/build.js";
import { translateProxy, type ProxyResources } from "../../../src/translate/proxy.js";
import { JsonBinaryEncoder } from "../../../src/xds/json-binary.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { generateMesh, inputOf } from "../../bench/mesh.js";
import { benchProxy } from "../../bench/translation.js";
import { goldenCases, translateGoldenCase } from "../../support/golden-cases.js";

const encoder = new JsonBinaryEncoder(envoyRegistry);
const ANY = "type.googleapis.com/";

function generic(schema: DescMessage, json: unknown): Uint8Array | Error {
  try {
    return toBinary(schema, fromJson(schema, json as JsonValue, { registry: envoyRegistry }));
  } catch (e) {
    return e as Error;
  }
}

/** Both encoders agree: the same bytes, or the direct one declines where fromJson rejects. */
function agree(schema: DescMessage, json: unknown): { direct: Uint8Array | undefined; generic: Uint8Array | Error } {
  const direct = encoder.encode(schema, json);
  const g = generic(schema, json);
  if (direct !== undefined) {
    expect(g, `fromJson rejected what the direct encoder accepted: ${JSON.stringify(json)}`).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(direct).toString("hex")).toBe(Buffer.from(g as Uint8Array).toString("hex"));
  }
  return { direct, generic: g };
}

/** Both encoders give the same bytes, and the direct one did not fall back. */
function same(schema: DescMessage, json: unknown): void {
  const r = agree(schema, json);
  expect(r.generic, `generic path failed for ${JSON.stringify(json)}`).toBeInstanceOf(Uint8Array);
  expect(r.direct, `direct encoder fell back for ${JSON.stringify(json)}`).toBeDefined();
}

/** fromJson rejects it, and the direct encoder declines (so the generic path's error is reported). */
function rejected(schema: DescMessage, json: unknown): void {
  const r = agree(schema, json);
  expect(r.generic).toBeInstanceOf(Error);
  expect(r.direct).toBeUndefined();
}

function everyResource(r: ProxyResources): void {
  const sets: [DescMessage, readonly unknown[]][] = [
    [ClusterSchema, r.clusters],
    [ClusterLoadAssignmentSchema, r.endpoints],
    [ListenerSchema, r.listeners],
    [RouteConfigurationSchema, r.routes],
    [SecretSchema, r.secrets],
  ];
  for (const [schema, items] of sets) for (const json of items) same(schema, json);
}

describe("JsonBinaryEncoder: translator output", () => {
  for (const name of goldenCases()) {
    it(`golden case ${name}`, () => everyResource(translateGoldenCase(name).resources));
  }
  for (const variant of ["basic", "full"] as const) {
    it(`bench mesh, 50 services, ${variant}`, () => {
      const r = translateProxy(buildMesh(inputOf(generateMesh(50, variant))), benchProxy());
      expect(r.clusters.length).toBeGreaterThan(50);
      everyResource(r);
    });
  }
});

describe("JsonBinaryEncoder: field rules", () => {
  it("writes fields in field-number order whatever the JSON order", () => {
    same(ClusterSchema, { type: "EDS", name: "c", connectTimeout: "1s", edsClusterConfig: { serviceName: "c", edsConfig: { ads: {} } } });
    same(ClusterSchema, { name: "c", connect_timeout: "1s", lb_policy: "RING_HASH" });
  });

  it("omits implicit-presence defaults and writes explicit presence (oneof members, messages) even when default", () => {
    same(ClusterSchema, { name: "", type: "STATIC", lbPolicy: "ROUND_ROBIN", ignoreHealthOnHostRemoval: false, perConnectionBufferLimitBytes: 0 });
    same(RouteConfigurationSchema, {
      name: "r",
      virtualHosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "" }, directResponse: { status: 200 } }] }],
    });
    same(ClusterSchema, { name: "c", http2ProtocolOptions: {}, commonLbConfig: {} });
    expect(encoder.encode(RouteConfigurationSchema, { virtualHosts: [{ routes: [{ match: { prefix: "" } }] }] })!.length).toBeGreaterThan(4);
  });

  it("enums by name, proto name and number", () => {
    same(ClusterSchema, { name: "c", lbPolicy: 2 });
    same(ClusterSchema, { name: "c", lbPolicy: 0, dnsLookupFamily: "V4_ONLY" });
    rejected(ClusterSchema, { name: "c", lbPolicy: "NO_SUCH_POLICY" });
    rejected(ClusterSchema, { name: "c", lbPolicy: 1.5 });
  });

  it("packed repeated scalars, repeated strings and messages", () => {
    same(RouteConfigurationSchema, {
      name: "r",
      virtualHosts: [{ name: "v", domains: ["a", "b"], retryPolicy: { retriableStatusCodes: [503, 0, 4294967295], retryOn: "5xx" } }],
    });
    same(RouteConfigurationSchema, { name: "r", virtualHosts: [{ name: "v", retryPolicy: { retriableStatusCodes: [] } }] });
    rejected(RouteConfigurationSchema, { virtualHosts: [{ retryPolicy: { retriableStatusCodes: [-1] } }] });
    rejected(RouteConfigurationSchema, { virtualHosts: [null] });
  });

  it("maps of messages, Struct metadata and Any values", () => {
    same(ClusterSchema, {
      name: "c",
      metadata: { filterMetadata: { istio: { a: 1, b: "x", c: true, d: null, e: [1, "2", { f: [] }], g: {} }, "10": {}, "2": { z: -0 } } },
      typedExtensionProtocolOptions: {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
          "@type": `${ANY}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
          explicitHttpConfig: { http2ProtocolOptions: {} },
        },
      },
    });
    rejected(ClusterSchema, { name: "c", metadata: { filterMetadata: { a: null } } });
    rejected(ClusterSchema, { name: "c", metadata: { filterMetadata: { a: [] } } });
  });

  it("null clears a field, is skipped for a oneof scalar, and counts as setting a oneof message", () => {
    same(ClusterSchema, { name: "c", connectTimeout: null, lbPolicy: null, healthChecks: null, typedExtensionProtocolOptions: null, metadata: null });
    same(RouteConfigurationSchema, { name: "r", virtualHosts: [{ name: "v", routes: [{ match: { prefix: null, path: "/p" }, route: { cluster: "x" } }] }] });
    rejected(RouteConfigurationSchema, { virtualHosts: [{ routes: [{ match: { prefix: "/" }, route: { cluster: "x" }, redirect: null }] }] });
  });

  it("rejects unknown fields, fields set twice, oneofs set twice and wrong types", () => {
    rejected(ClusterSchema, { name: "c", noSuchField: 1 });
    rejected(ClusterSchema, { name: "c", connect_timeout: "1s", connectTimeout: "2s" });
    rejected(RouteConfigurationSchema, { virtualHosts: [{ routes: [{ match: { prefix: "/", path: "/x" } }] }] });
    rejected(ClusterSchema, { name: 5 });
    rejected(ClusterSchema, { name: "c", hosts: {} });
    rejected(ClusterSchema, { name: "c", connectTimeout: undefined });
    rejected(ClusterSchema, [] as unknown);
    rejected(ClusterSchema, { name: "\ud800" });
    // The same message type nested and side by side: each object is checked on its own.
    same(RouteConfigurationSchema, {
      virtualHosts: [
        { name: "a", routes: [{ match: { prefix: "/" } }, { match: { path: "/x" } }] },
        { name: "b", request_headers_to_add: [] },
      ],
    });
    rejected(RouteConfigurationSchema, { virtualHosts: [{ name: "a" }, { name: "b", request_headers_to_add: [], requestHeadersToAdd: [] }] });
    rejected(RouteConfigurationSchema, { virtualHosts: [{ routes: [{ match: { prefix: "/" } }, { match: { path: "/x", safeRegex: { regex: "x" } } }] }] });
  });

  it("reads only an object's own keys, as fromJson does (inherited ones are not fields)", () => {
    const inherits = Object.create({ connectTimeout: "9s" }) as Record<string, unknown>;
    inherits["name"] = "c";
    const r = agree(ClusterSchema, inherits);
    expect(r.generic).toBeInstanceOf(Uint8Array);
    // Declining is fine (the generic path is exact); what it must not do is write the inherited field.
    if (r.direct !== undefined) expect(Buffer.from(r.direct).toString("hex")).toBe(Buffer.from(r.generic as Uint8Array).toString("hex"));
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { name: "c", connectTimeout: "1s" });
    agree(ClusterSchema, bare);
    expect(generic(ClusterSchema, bare)).toBeInstanceOf(Uint8Array);
  });

  it("leaves nothing of one message on the field stack for the next (deep, wide and failed messages)", () => {
    const wide = { name: "c", type: "EDS", connectTimeout: "1s", lbPolicy: "LEAST_REQUEST", edsClusterConfig: { serviceName: "s", edsConfig: { ads: {} } } };
    rejected(ClusterSchema, { ...wide, noSuchField: 1 });
    same(ClusterSchema, wide);
    same(ClusterSchema, { name: "d" });
    same(RouteConfigurationSchema, {
      name: "r",
      virtualHosts: [{ name: "v", domains: ["a", "b"], routes: [{ match: { prefix: "/" }, route: { cluster: "x" } }] }],
    });
  });
});

describe("JsonBinaryEncoder: frozen sub-messages (bytes kept by identity)", () => {
  it("a frozen object gives fromJson's bytes wherever it appears, as whatever message type holds it", () => {
    const source = Object.freeze({ ads: Object.freeze({}), initialFetchTimeout: "0s", resourceApiVersion: "V3" });
    const struct = Object.freeze({ workload: "w;ns;app;v1;Kubernetes", n: 1 });
    for (const name of ["a", "bb", "c".repeat(200)]) {
      same(ClusterSchema, { name, type: "EDS", edsClusterConfig: { serviceName: name, edsConfig: source }, metadata: { filterMetadata: { istio: struct } } });
    }
    same(RouteConfigurationSchema, {
      name: "r",
      vhds: { configSource: source },
      virtualHosts: [{ name: "v", metadata: { filterMetadata: { istio: struct, x: struct } } }],
    });
    // In a list, next to equal objects that are not frozen.
    const ep = Object.freeze({ endpoint: Object.freeze({ address: Object.freeze({ socketAddress: Object.freeze({ address: "10.0.0.1", portValue: 80 }) }) }) });
    same(ClusterLoadAssignmentSchema, { clusterName: "c", endpoints: [{ lbEndpoints: [ep, { ...ep }, ep] }, { lbEndpoints: [ep] }] });
  });

  it("a frozen object the schema rejects is declined every time it appears, not remembered as bytes", () => {
    const bad = Object.freeze({ ads: {}, noSuchField: 1 });
    rejected(ClusterSchema, { name: "a", edsClusterConfig: { edsConfig: bad } });
    rejected(ClusterSchema, { name: "b", edsClusterConfig: { edsConfig: bad } });
    const good = Object.freeze({ ads: {} });
    same(ClusterSchema, { name: "c", edsClusterConfig: { edsConfig: good } });
    // Valid alone, but set twice in its parent: the parent is still checked.
    rejected(ClusterSchema, { name: "d", edsClusterConfig: { edsConfig: good, eds_config: good } });
  });
});

describe("JsonBinaryEncoder: well-known types", () => {
  it("Duration", () => {
    for (const d of ["0s", "1s", "1.5s", "-1.5s", "-0.5s", "0.000000001s", "315576000000s", "-315576000000.999999999s", "3s trailing"]) same(DurationSchema, d);
    for (const d of ["1", "1.5", "s", "1.0000000001s", "315576000001s", 1]) rejected(DurationSchema, d);
    same(ClusterSchema, { name: "c", connectTimeout: "0s" });
  });

  it("Timestamp, FieldMask and Empty", () => {
    for (const t of ["1970-01-01T00:00:00Z", "2026-12-04T15:48:08.123456789Z", "2026-12-04T15:48:08+02:00"]) same(TimestampSchema, t);
    rejected(TimestampSchema, "yesterday");
    same(FieldMaskSchema, "a.bC,d");
    same(FieldMaskSchema, "");
    rejected(FieldMaskSchema, "a_b");
    same(EmptySchema, {});
    rejected(EmptySchema, { a: 1 });
  });

  it("wrappers as plain values", () => {
    same(UInt32ValueSchema, 0);
    same(UInt32ValueSchema, 4294967295);
    same(Int32ValueSchema, -5);
    same(Int64ValueSchema, "-9223372036854775808");
    same(Int64ValueSchema, 42);
    same(UInt64ValueSchema, "18446744073709551615");
    same(BoolValueSchema, false);
    same(StringValueSchema, "");
    same(BytesValueSchema, "aGVsbG8=");
    same(BytesValueSchema, "");
    for (const v of [0, -0, 1.5, "NaN", "Infinity", "-Infinity", 1e308]) same(DoubleValueSchema, v);
    for (const v of [0, 1.5, "NaN", "-Infinity", 3.4e38]) same(FloatValueSchema, v);
    rejected(FloatValueSchema, 1e39);
    rejected(UInt32ValueSchema, -1);
    rejected(UInt64ValueSchema, "-1");
    rejected(Int64ValueSchema, "");
    rejected(Int64ValueSchema, 1.5);
    rejected(BoolValueSchema, "true");
    same(ClusterSchema, { name: "c", perConnectionBufferLimitBytes: 0, commonLbConfig: { healthyPanicThreshold: { value: 0 } } });
  });

  it("Struct, Value, ListValue and NullValue", () => {
    same(StructSchema, { a: null, b: [null, 1, "s", false, { c: {} }], "": 0 });
    same(ValueSchema, null);
    same(ValueSchema, "\ud800"); // Value strings are not checked for UTF-16 by protobuf-es
    same(ListValueSchema, []);
    same(ListValueSchema, [[], {}]);
    rejected(StructSchema, []);
    rejected(ListValueSchema, {});
  });

  it("Any: @type and fields, `value` for a well-known type, the registry decides", () => {
    same(AnySchema, {});
    same(AnySchema, { "@type": `${ANY}envoy.extensions.filters.http.router.v3.Router` });
    same(AnySchema, { "@type": "example.com/envoy.extensions.filters.http.router.v3.Router", suppressEnvoyHeaders: true });
    same(AnySchema, { "@type": `${ANY}google.protobuf.Duration`, value: "1.5s" });
    same(AnySchema, { "@type": `${ANY}google.protobuf.UInt32Value`, value: 7 });
    same(AnySchema, { "@type": `${ANY}google.protobuf.Struct`, value: { a: 1 } });
    same(AnySchema, { "@type": `${ANY}google.protobuf.Any`, value: { "@type": `${ANY}google.protobuf.Empty` } });
    rejected(AnySchema, { "@type": `${ANY}no.such.Type` });
    rejected(AnySchema, { "@type": "" });
    rejected(AnySchema, { "@type": `${ANY}envoy.extensions.filters.http.router.v3.Router`, noSuchField: 1 });
    rejected(AnySchema, { "@type": `${ANY}google.protobuf.Duration`, value: 5 });
  });
});

/** Random JSON shaped like `desc` (known keys, values of roughly the right kind), with noise. */
function shaped(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  if (desc.typeName === "google.protobuf.Duration") return fc.oneof(fc.constantFrom("1s", "0.5s", "-2.000001s", "0s"), fc.string());
  if (desc.typeName === "google.protobuf.Any")
    return fc.constantFrom(
      {},
      { "@type": `${ANY}envoy.extensions.filters.http.router.v3.Router` },
      { "@type": `${ANY}google.protobuf.UInt32Value`, value: 3 },
      { "@type": "x" },
    );
  if (desc.typeName.startsWith("google.protobuf.")) return fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null));
  if (depth > 3 || desc.fields.length === 0) return fc.constant({});
  const keys: Record<string, fc.Arbitrary<unknown>> = {};
  // A few fields per object, and some objects empty: a random full Cluster is almost never valid.
  for (const f of desc.fields) keys[f.number % 5 === 0 ? f.name : f.jsonName] = fieldValue(f, depth);
  return fc.oneof(
    fc.constant({}),
    fc
      .shuffledSubarray(Object.keys(keys), { maxLength: Math.min(4, Object.keys(keys).length) })
      .chain((picked) => fc.record(Object.fromEntries(picked.map((k) => [k, keys[k]!])))),
  );
}

/** Mostly values of the field's own kind (the forms canonical proto-JSON uses), some of other kinds. */
function scalarValue(f: DescField & { scalar: ScalarType }): fc.Arbitrary<unknown> {
  const odd = fc.constantFrom<unknown>("", "x", 0, -1, 4294967296, 2147483648, "12", true, 1.5, "NaN", "Infinity", "aGk=", "\ud800");
  // One past each end, too.
  const int64 = fc.bigInt({ min: -(2n ** 63n) - 1n, max: 2n ** 63n }).map(String);
  const uint64 = fc.bigInt({ min: -1n, max: 2n ** 64n }).map(String);
  const own: Record<ScalarType, fc.Arbitrary<unknown>> = {
    [ScalarType.STRING]: fc.string({ maxLength: 4 }),
    [ScalarType.BOOL]: fc.boolean(),
    [ScalarType.BYTES]: fc.constantFrom("", "aGk=", "AAEC"),
    [ScalarType.DOUBLE]: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom("NaN", "-Infinity")),
    [ScalarType.FLOAT]: fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constant("Infinity")),
    [ScalarType.INT32]: fc.integer(),
    [ScalarType.SINT32]: fc.integer(),
    [ScalarType.SFIXED32]: fc.integer(),
    [ScalarType.UINT32]: fc.nat(),
    [ScalarType.FIXED32]: fc.nat(),
    [ScalarType.INT64]: fc.oneof(int64, fc.integer()),
    [ScalarType.SINT64]: int64,
    [ScalarType.SFIXED64]: int64,
    [ScalarType.UINT64]: fc.oneof(uint64, fc.nat()),
    [ScalarType.FIXED64]: uint64,
  };
  return fc.oneof({ weight: 8, arbitrary: own[f.scalar] }, { weight: 1, arbitrary: odd });
}

function fieldValue(f: DescField, depth: number): fc.Arbitrary<unknown> {
  const noise = fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 1 }));
  const enumValue = (e: DescEnum): fc.Arbitrary<unknown> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...e.values.map((v) => v.name)) },
      { weight: 2, arbitrary: fc.integer({ min: -1, max: 5 }) },
      { weight: 1, arbitrary: fc.constant("NO_SUCH") },
    );
  let own: fc.Arbitrary<unknown>;
  switch (f.fieldKind) {
    case "scalar":
      own = scalarValue(f);
      break;
    case "enum":
      own = enumValue(f.enum);
      break;
    case "message":
      own = shaped(f.message, depth + 1);
      break;
    case "list":
      own = fc.array(f.listKind === "message" ? shaped(f.message, depth + 1) : f.listKind === "enum" ? enumValue(f.enum) : scalarValue(f), { maxLength: 3 });
      break;
    case "map":
      own = fc.dictionary(
        fc.string({ maxLength: 3 }),
        f.mapKind === "message" ? shaped(f.message, depth + 1) : f.mapKind === "enum" ? enumValue(f.enum) : scalarValue(f),
        { maxKeys: 2 },
      );
      break;
  }
  return fc.oneof({ weight: 12, arbitrary: own }, { weight: 1, arbitrary: noise });
}

describe("JsonBinaryEncoder: property", () => {
  for (const schema of [ClusterLoadAssignmentSchema, RouteConfigurationSchema, ClusterSchema, StructSchema]) {
    it(`agrees with fromJson + toBinary on random ${schema.name} JSON`, () => {
      let answered = 0;
      fc.assert(
        fc.property(shaped(schema, 0), (json) => {
          const r = agree(schema, json);
          if (r.generic instanceof Error) expect(r.direct).toBeUndefined();
          if (r.direct !== undefined) answered++;
        }),
        { numRuns: 400 },
      );
      // The property must not hold vacuously.
      expect(answered).toBeGreaterThan(10);
    });
  }
});
