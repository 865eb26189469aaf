/** Which version of each kind the kube source watches, from the API server's discovery answers. */
import { describe, expect, it } from "vitest";
import type { KindInfo } from "../../../src/api/kinds.js";
import type { KubeClient, KubeResponse } from "../../../src/sources/kube/client.js";
import { discoverKinds, settledKinds } from "../../../src/sources/kube/discovery.js";

/** A server that serves these plurals per group version (a stand-in for discovery only). */
function server(served: Record<string, string[]>, fail?: string): { client: KubeClient; asked: string[] } {
  const asked: string[] = [];
  const client = {
    request: async (_method: string, path: string): Promise<KubeResponse> => {
      asked.push(path);
      if (path === fail) return { status: 503, body: {} };
      const gv = path.replace(/^\/apis\//, "");
      const plurals = served[gv];
      if (!plurals) return { status: 404, body: {} };
      return { status: 200, body: { resources: plurals.flatMap((p) => [{ name: p }, { name: `${p}/status` }]) } };
    },
  } as unknown as KubeClient;
  return { client, asked };
}

const watched = (d: Awaited<ReturnType<typeof discoverKinds>>) => Object.fromEntries(d.watched.map((w) => [w.info.kind, w.version]));

describe("discoverKinds", () => {
  it("watches each kind in the first registry version the server serves for it", async () => {
    const { client } = server({
      "discovery.k8s.io/v1": ["endpointslices"],
      // An older Istio: v1 lacks WorkloadGroup; v1beta1 has it.
      "networking.istio.io/v1": ["virtualservices", "destinationrules", "gateways", "serviceentries", "sidecars", "workloadentries"],
      "networking.istio.io/v1beta1": ["virtualservices", "workloadgroups", "proxyconfigs"],
      "networking.istio.io/v1alpha3": ["envoyfilters", "workloadgroups"],
      "security.istio.io/v1beta1": ["peerauthentications", "authorizationpolicies", "requestauthentications"],
      "telemetry.istio.io/v1alpha1": ["telemetries"],
      // Gateway API v1.5, experimental channel: TCPRoute only in v1alpha2; TLSRoute also in v1alpha2.
      "gateway.networking.k8s.io/v1": ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "referencegrants"],
      "gateway.networking.k8s.io/v1alpha2": ["tcproutes", "tlsroutes"],
    });
    const d = await discoverKinds(client);
    expect(watched(d)).toEqual({
      Namespace: "v1",
      Node: "v1",
      Service: "v1",
      EndpointSlice: "v1",
      Pod: "v1",
      Secret: "v1",
      VirtualService: "v1",
      DestinationRule: "v1",
      Gateway: "v1",
      ServiceEntry: "v1",
      Sidecar: "v1",
      WorkloadEntry: "v1",
      WorkloadGroup: "v1beta1",
      EnvoyFilter: "v1alpha3",
      ProxyConfig: "v1beta1",
      PeerAuthentication: "v1beta1",
      AuthorizationPolicy: "v1beta1",
      RequestAuthentication: "v1beta1",
      Telemetry: "v1alpha1",
      GatewayClass: "v1",
      KubernetesGateway: "v1",
      HTTPRoute: "v1",
      GRPCRoute: "v1",
      TLSRoute: "v1",
      TCPRoute: "v1alpha2",
      ReferenceGrant: "v1",
    });
    expect(d.missing.map((k) => k.kind)).toEqual(["WasmPlugin"]);
  });

  it("asks each group version once", async () => {
    const { client, asked } = server({ "discovery.k8s.io/v1": ["endpointslices"] });
    const d = await discoverKinds(client);
    expect(new Set(asked).size).toBe(asked.length);
    expect(d.watched.every((w) => w.info.group === "" || w.info.group === "discovery.k8s.io")).toBe(true);
  });

  it("fails (so the source retries) when the server answers with an error, not a 404", async () => {
    const { client } = server({ "discovery.k8s.io/v1": ["endpointslices"] }, "/apis/security.istio.io/v1");
    await expect(discoverKinds(client)).rejects.toThrow(/security\.istio\.io\/v1: HTTP 503/);
  });
});

describe("settledKinds (a CRD installed while meshpilot runs)", () => {
  const gatewayOnly = (plurals: Record<string, string[]>) =>
    server(Object.fromEntries(Object.entries(plurals).map(([v, p]) => [`gateway.networking.k8s.io/${v}`, p])));
  const pass = async (plurals: Record<string, string[]>, fallbackSeen: ReadonlyMap<KindInfo, string>) => {
    const d = await discoverKinds(gatewayOnly(plurals).client);
    const seen = d.watched.filter((w) => w.info.group === "gateway.networking.k8s.io");
    return settledKinds(seen, fallbackSeen);
  };

  it("waits a pass when a kind is offered only in a fallback version, and takes the preferred one once it appears", async () => {
    // Discovery updated v1beta1 before v1 for GatewayClass.
    const first = await pass({ v1: ["httproutes"], v1beta1: ["gatewayclasses", "httproutes"] }, new Map());
    expect(first.found.map((w) => `${w.info.kind} ${w.version}`)).toEqual(["HTTPRoute v1"]);
    expect([...first.fallbackSeen.entries()].map(([k, v]) => `${k.kind} ${v}`)).toEqual(["GatewayClass v1beta1"]);
    const second = await pass({ v1: ["gatewayclasses", "httproutes"], v1beta1: ["gatewayclasses", "httproutes"] }, first.fallbackSeen);
    expect(second.found.map((w) => `${w.info.kind} ${w.version}`)).toContain("GatewayClass v1");
    expect(second.fallbackSeen.size).toBe(0);
  });

  it("takes a kind the cluster serves only in a fallback version when the next pass offers the same", async () => {
    const first = await pass({ v1beta1: ["gatewayclasses"] }, new Map());
    expect(first.found).toEqual([]);
    const second = await pass({ v1beta1: ["gatewayclasses"] }, first.fallbackSeen);
    expect(second.found.map((w) => `${w.info.kind} ${w.version}`)).toEqual(["GatewayClass v1beta1"]);
  });
});
