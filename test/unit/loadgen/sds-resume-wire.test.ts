// What the load client reads and writes for SDS and for resuming a delta stream: the secrets a
// cluster's or listener's TLS transport sockets ask for over ADS (and only those), Envoy's warming
// on them (LDS waits for a cluster's secrets as for its endpoints), and a resumed stream's first
// request carrying initial_resource_versions as protobuf-es reads it.
import { create, fromBinary, fromJson, toBinary, type JsonObject } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ListenerSchema } from "../../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { NodeSchema } from "../../../src/gen/envoy/config/core/v3/base_pb.js";
import { SecretSchema } from "../../../src/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryResponseSchema,
} from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { EnvoyFlow, type FlowSender } from "../../../src/loadgen/flow.js";
import {
  clusterRefs,
  deltaRequestBytes,
  edsServiceName,
  readDeltaResponse,
  readSotwResponse,
  sdsSecretNames,
  WireResource,
} from "../../../src/loadgen/wire.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const ADS = { ads: {}, resourceApiVersion: "V3" };
const sds = (name: string, source: JsonObject | undefined = ADS) => ({ name, ...(source ? { sdsConfig: source } : {}) });

/** An ISTIO_MUTUAL-like upstream context: a certificate and a combined validation context, both over SDS. */
const upstream = (cert: string, root: string) => ({
  name: "envoy.transport_sockets.tls",
  typedConfig: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [sds(cert)],
      combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: sds(root) },
    },
  },
});

const clusterBody = (json: JsonObject): Uint8Array =>
  toBinary(ClusterSchema, fromJson(ClusterSchema, { type: "EDS", edsClusterConfig: { edsConfig: ADS }, ...json }, { registry: envoyRegistry }));
const res = (name: string, body: Uint8Array) => WireResource.of(name, body);

describe("SDS in the load client", () => {
  it("finds the secrets a cluster asks for over ADS: its transport socket and its transport socket matches", () => {
    const autoMtls = clusterBody({
      name: "outbound|80||a.ns.svc.cluster.local",
      transportSocketMatches: [
        { name: "tlsMode-istio", match: { tlsMode: "istio" }, transportSocket: upstream("default", "ROOTCA") },
        { name: "tlsMode-disabled", match: {}, transportSocket: { name: "envoy.transport_sockets.raw_buffer" } },
      ],
    });
    expect(sdsSecretNames(res("a", autoMtls), "cluster")).toEqual(["ROOTCA", "default"]);
    const credential = clusterBody({ name: "b", transportSocket: upstream("kubernetes://tls", "kubernetes://tls-cacert") });
    expect(sdsSecretNames(res("b", credential), "cluster")).toEqual(["kubernetes://tls", "kubernetes://tls-cacert"]);
    // A secret from another config source (a file, an agent's SDS cluster) is not asked of the ADS server.
    const elsewhere = clusterBody({
      name: "c",
      transportSocket: {
        name: "tls",
        typedConfig: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          commonTlsContext: {
            tlsCertificateSdsSecretConfigs: [
              sds("default", { apiConfigSource: { apiType: "GRPC", grpcServices: [{ envoyGrpc: { clusterName: "sds-grpc" } }] } }),
            ],
            validationContextSdsSecretConfig: sds("ROOTCA"),
          },
        },
      },
    });
    expect(sdsSecretNames(res("c", elsewhere), "cluster")).toEqual(["ROOTCA"]);
    expect(sdsSecretNames(res("d", clusterBody({ name: "d" })), "cluster")).toEqual([]);
    // The flow reads a cluster's EDS name and secrets in one pass: the same answers.
    for (const r of [res("a", autoMtls), res("b", credential), res("c", elsewhere), res("d", clusterBody({ name: "d" }))])
      expect(clusterRefs(r)).toEqual({ eds: edsServiceName(r), secrets: sdsSecretNames(r, "cluster") });
  });

  it("finds the secrets a listener's filter chains ask for over ADS (DownstreamTlsContext)", () => {
    const downstream = (cert: string) => ({
      name: "tls",
      typedConfig: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds(cert)], validationContextSdsSecretConfig: sds("ROOTCA") },
      },
    });
    const body = toBinary(
      ListenerSchema,
      fromJson(
        ListenerSchema,
        {
          name: "virtualInbound",
          filterChains: [{ name: "mtls", transportSocket: downstream("default") }, { name: "plain" }],
          defaultFilterChain: { transportSocket: downstream("kubernetes://gw") },
        },
        { registry: envoyRegistry },
      ),
    );
    expect(sdsSecretNames(res("virtualInbound", body), "listener")).toEqual(["ROOTCA", "default", "kubernetes://gw"]);
  });

  it("asks for secrets with the EDS names of the clusters; listeners wait for both; the proxy is in sync only with its secrets", () => {
    const sent: string[] = [];
    const sender: FlowSender = { subscribe: (t, a, r) => void sent.push(`${t} +${a.join(",")} -${r.join(",")}`) };
    const flow = new EnvoyFlow(sender);
    flow.start();
    const cluster = clusterBody({ name: "c", transportSocketMatches: [{ name: "m", transportSocket: upstream("default", "ROOTCA") }] });
    flow.onClusters([res("c", cluster)], [], false);
    expect(sent).toEqual(["cds +* -", "eds +c -", "sds +ROOTCA,default -"]);
    flow.onEndpoints([res("c", new Uint8Array())]);
    expect(flow.waitingFor()).toEqual(["SDS: 2 of 2 not received (ROOTCA and 1 more)", "LDS: not asked for yet (clusters still warming)"]);
    // Secret bodies are never read: any bytes will do.
    flow.onSecrets([res("ROOTCA", Uint8Array.from([0xff, 0xff])), res("default", new Uint8Array())]);
    expect(sent.at(-1)).toBe("lds +* -");
    flow.onListeners([], [], false);
    expect(flow.synced).toBe(true);

    // The cluster goes: its secrets are no longer asked for; a reconnect asks again for what is left.
    flow.onClusters([], ["c"], false);
    expect(sent.slice(-2)).toEqual(["eds + -c", "sds + -ROOTCA,default"]);
    expect(flow.names().sds).toEqual([]);
    sent.length = 0;
    flow.onClusters([res("c", cluster)], [], false);
    flow.resubscribe();
    expect(sent.slice(-4)).toEqual(["cds +* -", "eds +c -", "sds +ROOTCA,default -", "lds +* -"]);
  });

  it("reads Secret resources by name, in delta and SotW, without their bodies", () => {
    const secret = toBinary(SecretSchema, fromJson(SecretSchema, { name: "default", tlsCertificate: { certificateChain: { inlineString: "x" } } }));
    const delta = readDeltaResponse(
      toBinary(
        DeltaDiscoveryResponseSchema,
        create(DeltaDiscoveryResponseSchema, {
          typeUrl: TYPE_URL.secret,
          nonce: "1",
          resources: [{ name: "default", version: "v9", resource: { typeUrl: TYPE_URL.secret, value: secret } }],
        }),
      ),
    );
    expect(delta.resources.map((r) => [r.name, r.version])).toEqual([["default", "v9"]]);
    const sotw = readSotwResponse(
      toBinary(
        DiscoveryResponseSchema,
        create(DiscoveryResponseSchema, {
          typeUrl: TYPE_URL.secret,
          versionInfo: "1",
          nonce: "2",
          resources: [anyPack(SecretSchema, fromBinary(SecretSchema, secret))],
        }),
      ),
    );
    expect(sotw.resources.map((r) => r.name)).toEqual(["default"]);
  });
});

describe("a resumed delta stream's first request", () => {
  it("carries initial_resource_versions (with the node and the subscription) as protobuf-es reads it", () => {
    const node = create(NodeSchema, { id: "sidecar~10.0.0.1~p.ns~ns.svc.cluster.local", cluster: "p.ns" });
    const held = new Map([
      ["outbound|80||a.ns.svc.cluster.local", "h1"],
      ["ü", "h2"],
    ]);
    const bytes = deltaRequestBytes(
      { typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: [...held.keys()], initialResourceVersions: held },
      toBinary(NodeSchema, node),
    );
    expect(fromBinary(DeltaDiscoveryRequestSchema, bytes)).toEqual(
      create(DeltaDiscoveryRequestSchema, {
        node,
        typeUrl: TYPE_URL.endpoint,
        resourceNamesSubscribe: [...held.keys()],
        initialResourceVersions: { "outbound|80||a.ns.svc.cluster.local": "h1", ü: "h2" },
      }),
    );
    // A wildcard type declares what it holds too.
    const cds = fromBinary(
      DeltaDiscoveryRequestSchema,
      deltaRequestBytes({ typeUrl: TYPE_URL.cluster, resourceNamesSubscribe: ["*"], initialResourceVersions: new Map([["c", "1"]]) }),
    );
    expect(cds.initialResourceVersions).toEqual({ c: "1" });
    expect(cds.resourceNamesSubscribe).toEqual(["*"]);
  });
});
