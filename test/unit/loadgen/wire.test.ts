// The load client's wire reader (src/loadgen/wire.ts) against protobuf-es: it reads what an ADS
// client must know (names, nonce, removals; versions when asked) and, from bodies, only the field
// Envoy's flow needs; a body nobody needs is never parsed, so even bytes that are no protobuf at
// all are taken (and ACKed) like any other.
import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ListenerSchema } from "../../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { HttpConnectionManagerSchema } from "../../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryResponseSchema,
  ResourceSchema,
} from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { EnvoyFlow, type FlowSender } from "../../../src/loadgen/flow.js";
import { deltaRequestBytes, edsServiceName, listenerRouteNames, readDeltaResponse, readSotwResponse, routeUsesVhds } from "../../../src/loadgen/wire.js";
import { NodeSchema } from "../../../src/gen/envoy/config/core/v3/base_pb.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

/** Not a protobuf message: a field key of wire type 7, which no reader can skip. */
const GARBAGE = Uint8Array.from([0xff, 0xff, 0xff, 0x07, 0x00]);

function deltaResponse(type: string, resources: { name: string; version: string; body: Uint8Array }[], removed: string[] = []): Buffer {
  const msg = create(DeltaDiscoveryResponseSchema, {
    typeUrl: type,
    nonce: "n-7",
    systemVersionInfo: "sys",
    removedResources: removed,
    resources: resources.map((r) => ({ name: r.name, version: r.version, resource: { typeUrl: type, value: r.body } })),
  });
  return Buffer.from(toBinary(DeltaDiscoveryResponseSchema, msg));
}

const edsCluster = (name: string, serviceName = ""): Uint8Array =>
  toBinary(ClusterSchema, fromJson(ClusterSchema, { name, type: "EDS", edsClusterConfig: { serviceName, edsConfig: { ads: {} } } }));
const staticCluster = (name: string): Uint8Array => toBinary(ClusterSchema, fromJson(ClusterSchema, { name, type: "STATIC" }));

describe("the load client's wire reader", () => {
  it("reads names, nonce, removals and versions of a delta response, and never parses an endpoint body", () => {
    const buf = deltaResponse(
      TYPE_URL.endpoint,
      [
        { name: "outbound|80||a.ns.svc.cluster.local", version: "v1", body: GARBAGE },
        { name: "outbound|80||ü.ns.svc.cluster.local", version: "v2", body: new Uint8Array(0) },
      ],
      ["gone"],
    );
    const r = readDeltaResponse(buf);
    expect(r.typeUrl).toBe(TYPE_URL.endpoint);
    expect(r.nonce).toBe("n-7");
    expect(r.removed).toEqual(["gone"]);
    expect(r.resources.map((x) => [x.name, x.version])).toEqual([
      ["outbound|80||a.ns.svc.cluster.local", "v1"],
      ["outbound|80||ü.ns.svc.cluster.local", "v2"],
    ]);
    expect(r.resourceBytes).toBe(GARBAGE.length);
    expect(Buffer.from(r.resources[0]!.body)).toEqual(Buffer.from(GARBAGE));

    // Envoy's flow takes the endpoints by name alone.
    const sent: string[] = [];
    const sender: FlowSender = { subscribe: (t, a) => void sent.push(`${t} ${a.join(",")}`) };
    const flow = new EnvoyFlow(sender);
    flow.start();
    flow.onClusters(
      readDeltaResponse(deltaResponse(TYPE_URL.cluster, [{ name: "c", version: "1", body: edsCluster("c", "outbound|80||a.ns.svc.cluster.local") }])).resources,
      [],
      false,
    );
    flow.onEndpoints(r.resources);
    expect(sent).toEqual(["cds *", "eds outbound|80||a.ns.svc.cluster.local", "lds *"]);
  });

  it("finds a cluster's EDS name, a listener's route names and a route configuration's VHDS inside a response", () => {
    const hcm = (routeConfigName: string) =>
      anyPack(
        HttpConnectionManagerSchema,
        create(HttpConnectionManagerSchema, { statPrefix: "x", routeSpecifier: { case: "rds", value: { routeConfigName } } }),
      );
    const listener = toBinary(
      ListenerSchema,
      create(ListenerSchema, {
        name: "0.0.0.0_8080",
        filterChains: [{ filters: [{ name: "hcm", configType: { case: "typedConfig", value: hcm("8080") } }] }],
        defaultFilterChain: { filters: [{ name: "hcm", configType: { case: "typedConfig", value: hcm("9090") } }] },
      }),
    );
    const route = (vhds: boolean): Uint8Array =>
      toBinary(RouteConfigurationSchema, create(RouteConfigurationSchema, { name: "r", ...(vhds ? { vhds: { configSource: {} } } : {}) }));

    const clusters = readDeltaResponse(
      deltaResponse(TYPE_URL.cluster, [
        { name: "with-service", version: "1", body: edsCluster("with-service", "cla-name") },
        { name: "plain", version: "1", body: edsCluster("plain") },
        { name: "static", version: "1", body: staticCluster("static") },
      ]),
    ).resources;
    expect(clusters.map(edsServiceName)).toEqual(["cla-name", "plain", undefined]);
    const [l] = readDeltaResponse(deltaResponse(TYPE_URL.listener, [{ name: "0.0.0.0_8080", version: "1", body: listener }])).resources;
    expect(listenerRouteNames(l!)).toEqual(["8080", "9090"]);
    const routes = readDeltaResponse(
      deltaResponse(TYPE_URL.route, [
        { name: "a", version: "1", body: route(true) },
        { name: "b", version: "1", body: route(false) },
      ]),
    ).resources;
    expect(routes.map(routeUsesVhds)).toEqual([true, false]);
  });

  it("reads a SotW response, names from the bodies, wrapped in discovery.v3.Resource or not", () => {
    const wrapped = create(ResourceSchema, { name: "b", resource: anyPack(ClusterSchema, fromJson(ClusterSchema, { name: "b", type: "STATIC" })) });
    const msg = create(DiscoveryResponseSchema, {
      versionInfo: "v3",
      nonce: "9",
      typeUrl: TYPE_URL.cluster,
      resources: [anyPack(ClusterSchema, fromJson(ClusterSchema, { name: "a", type: "EDS" })), anyPack(ResourceSchema, wrapped)],
    });
    const r = readSotwResponse(toBinary(DiscoveryResponseSchema, msg));
    expect([r.typeUrl, r.versionInfo, r.nonce]).toEqual([TYPE_URL.cluster, "v3", "9"]);
    expect(r.resources.map((x) => x.name)).toEqual(["a", "b"]);
    expect(r.resources.map(edsServiceName)).toEqual(["a", undefined]);
  });

  it("writes the requests it sends as protobuf-es would read them", () => {
    const node = create(NodeSchema, { id: "sidecar~10.0.0.1~p.ns~ns.svc.cluster.local", cluster: "p.ns" });
    const init = { typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ["a", "ü".repeat(200)], resourceNamesUnsubscribe: ["b"], responseNonce: "n1" };
    for (const withNode of [true, false]) {
      const bytes = deltaRequestBytes(init, withNode ? toBinary(NodeSchema, node) : undefined);
      const expected = create(DeltaDiscoveryRequestSchema, { ...init, ...(withNode ? { node } : {}) });
      expect(fromBinary(DeltaDiscoveryRequestSchema, bytes)).toEqual(expected);
    }
    expect(fromBinary(DeltaDiscoveryRequestSchema, deltaRequestBytes({ typeUrl: TYPE_URL.cluster }))).toEqual(
      create(DeltaDiscoveryRequestSchema, { typeUrl: TYPE_URL.cluster }),
    );
  });
});
