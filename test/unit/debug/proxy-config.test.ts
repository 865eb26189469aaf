import { readFileSync, rmSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { proxyConfigCommand } from "../../../src/cli/proxy-config.js";
import { compareHeld } from "../../../src/debug/proxy-config/compare.js";
import { fromConfigDump } from "../../../src/debug/proxy-config/held.js";
import { configTable } from "../../../src/debug/proxy-config/tables.js";
import { TestCerts } from "../../support/certs.js";

const certs = new TestCerts("meshpilot-pconfig-").leaf("web", "DNS:web.example.com");
afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

const ADMIN = "type.googleapis.com/envoy.admin.v3";

/** A dump as Envoy's admin writes it: snake_case, Anys with @type. */
function envoyDump(weightV1: number, key: string): unknown {
  return {
    configs: [
      {
        "@type": `${ADMIN}.ClustersConfigDump`,
        dynamic_active_clusters: [
          {
            version_info: "c1",
            cluster: {
              "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
              name: "outbound|9080|v1|reviews.default.svc.cluster.local",
              type: "EDS",
              eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
              connect_timeout: "10s",
              metadata: { filter_metadata: { istio: { config: "/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews" } } },
            },
          },
          { version_info: "c1", cluster: { "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", name: "BlackHoleCluster", type: "STATIC" } },
        ],
      },
      {
        "@type": `${ADMIN}.RoutesConfigDump`,
        dynamic_route_configs: [
          {
            version_info: "r1",
            route_config: {
              "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
              name: "9080",
              virtual_hosts: [
                {
                  name: "reviews.default.svc.cluster.local:9080",
                  domains: ["reviews.default.svc.cluster.local", "reviews"],
                  routes: [
                    {
                      match: { prefix: "/", headers: [{ name: "x-test-user", string_match: { exact: "true" } }] },
                      route: { weighted_clusters: { clusters: [{ name: "a", weight: weightV1 }] } },
                      metadata: { filter_metadata: { istio: { config: "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews" } } },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
      {
        "@type": `${ADMIN}.EndpointsConfigDump`,
        dynamic_endpoint_configs: [
          {
            endpoint_config: {
              "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
              cluster_name: "outbound|9080|v1|reviews.default.svc.cluster.local",
              endpoints: [
                {
                  locality: {},
                  lb_endpoints: [
                    {
                      endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 9080 } } },
                      health_status: "HEALTHY",
                      load_balancing_weight: 1,
                    },
                  ],
                },
              ],
              policy: { overprovisioning_factor: 140 },
            },
          },
          { endpoint_config: { "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", cluster_name: "BlackHoleCluster" } },
        ],
      },
      {
        "@type": `${ADMIN}.SecretsConfigDump`,
        dynamic_active_secrets: [
          {
            name: "kubernetes://web",
            secret: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
              name: "kubernetes://web",
              tls_certificate: {
                certificate_chain: { inline_bytes: Buffer.from(readFileSync(certs.path("web.pem"))).toString("base64") },
                private_key: { inline_string: key },
              },
            },
          },
        ],
      },
    ],
  };
}

describe("proxy-config tables and diff", () => {
  const key = readFileSync(certs.path("web-key.pem"), "utf8");
  const { held, problems } = fromConfigDump(envoyDump(90, key));

  it("reads Envoy's snake_case dump into Istio-style rows", () => {
    expect(problems).toEqual([]);
    expect(configTable("clusters", held, { now: new Date() }).rows).toContainEqual([
      "reviews.default.svc.cluster.local",
      "9080",
      "v1",
      "outbound",
      "EDS",
      "reviews.default",
    ]);
    expect(configTable("routes", held, { now: new Date() }).rows).toEqual([
      ["9080", "reviews.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local, reviews", "/* x-test-user=true", "reviews.default"],
    ]);
    // Only EDS clusters' host sets count as endpoints.
    expect(held.endpoints.map((e) => e.name)).toEqual(["outbound|9080|v1|reviews.default.svc.cluster.local"]);
  });

  it("shows a certificate's serial and validity, never its key", () => {
    const cert = new X509Certificate(readFileSync(certs.path("web.pem")));
    const rows = configTable("secrets", held, { now: new Date() }).rows;
    expect(rows).toEqual([
      [
        "kubernetes://web",
        "Cert Chain",
        "ACTIVE",
        "true",
        cert.serialNumber.toLowerCase(),
        new Date(cert.validTo).toISOString(),
        new Date(cert.validFrom).toISOString(),
      ],
    ]);
    expect(JSON.stringify(held)).not.toContain(key.split("\n")[1]!);
    expect(JSON.stringify(held)).not.toContain("PRIVATE KEY");
  });

  it("names a differing resource with a line diff, and nothing for equal content written differently", () => {
    const other = fromConfigDump(envoyDump(70, "another key")).held;
    const d = compareHeld(other, held, ["clusters", "routes", "endpoints", "secrets"], { left: "a", right: "b" });
    expect(d.map((x) => [x.type, x.name, x.change])).toEqual([["routes", "9080", "differs"]]);
    expect(d[0]!.diff).toMatch(/^-\s+weight: 70$/m);
    expect(d[0]!.diff).toMatch(/^\+\s+weight: 90$/m);
  });

  it("reads meshpilot's intent offline from a config directory", async () => {
    const r = await proxyConfigCommand({
      type: "clusters",
      nodeId: "sidecar~127.0.0.10~productpage-v1.default~default.svc.cluster.local",
      configDir: new URL("../../../examples/reviews-canary/", import.meta.url).pathname,
      output: "text",
    });
    expect(r.output.split("\n")[0]).toMatch(/^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE$/);
    expect(r.output).toMatch(/reviews\.default\.svc\.cluster\.local\s+9080\s+v2\s+outbound\s+EDS\s+reviews\.default/);
    await expect(proxyConfigCommand({ type: "routes", nodeId: "x", configDir: "/nonexistent", output: "text", diff: true })).rejects.toThrow(/--envoy-admin/);
  });
});
