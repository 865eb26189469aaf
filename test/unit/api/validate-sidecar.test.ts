/** Sidecar validation: every rule of Istio's webhook for the Sidecar resource, in all served versions. */
import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

type Spec = Record<string, unknown>;
const sidecar = (spec: unknown, version = "v1") => ({
  apiVersion: `networking.istio.io/${version}`,
  kind: "Sidecar",
  metadata: { name: "sc", namespace: "shop" },
  spec,
});

function findings(value: unknown, severity = "error"): string[] {
  return parseObject({ value })
    .diagnostics.filter((d) => d.severity === severity)
    .map((d) => `${d.path}: ${d.message}`);
}
const errors = (spec: unknown) => findings(sidecar(spec));

describe("Sidecar validation", () => {
  const full: Spec = {
    workloadSelector: { labels: { app: "web" } },
    ingress: [
      { port: { number: 9080, protocol: "HTTP", name: "http" }, defaultEndpoint: "127.0.0.1:8080", captureMode: "IPTABLES" },
      {
        port: { number: 9443, protocol: "HTTPS", name: "https" },
        defaultEndpoint: "unix:///var/run/app.sock",
        tls: { mode: "SIMPLE", serverCertificate: "/c.pem", privateKey: "/k.pem" },
      },
      { port: { number: 9081, protocol: "TCP", name: "tcp" }, defaultEndpoint: "[::1]:8081", bind: "0.0.0.0", connectionPool: { tcp: { maxConnections: 10 } } },
    ],
    egress: [
      { port: { number: 3306, protocol: "MYSQL", name: "mysql" }, bind: "127.0.0.1", captureMode: "NONE", hosts: ["*/mysql.db.svc.cluster.local"] },
      { port: { number: 0, protocol: "HTTP", name: "uds" }, bind: "unix:///var/run/egress.sock", hosts: ["istio-system/*"] },
      { hosts: ["./*", "istio-system/*", "*/*.example.com", "~/*", "prod/reviews.prod.svc.cluster.local"] },
    ],
    outboundTrafficPolicy: { mode: "ALLOW_ANY", egressProxy: { host: "egress.istio-system.svc.cluster.local", subset: "v1", port: { number: 443 } } },
    inboundConnectionPool: { http: { http1MaxPendingRequests: 100 } },
  };

  it("accepts a Sidecar using every field, in v1, v1beta1 and v1alpha3", () => {
    for (const v of ["v1", "v1beta1", "v1alpha3"]) {
      expect(findings(sidecar(full, v))).toEqual([]);
      expect(findings(sidecar(full, v), "warning")).toEqual([]);
    }
  });

  it("refuses an empty Sidecar", () => {
    expect(errors({})).toEqual(["spec: empty configuration provided: a Sidecar needs egress, ingress, outboundTrafficPolicy or inboundConnectionPool"]);
    expect(errors({ egress: [] })).toHaveLength(1);
    expect(errors({ outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } })).toEqual([]);
  });

  it("checks egress hosts: namespace/dnsName with *, ., ~ or a namespace, and a (wildcard) host", () => {
    expect(errors({ egress: [{ hosts: ["reviews"] }] })).toEqual([
      'spec.egress[0].hosts[0]: host "reviews" must be of the form namespace/dnsName (e.g. "./*", "istio-system/*", "*/example.com")',
    ]);
    expect(errors({ egress: [{ hosts: ["/x.com"] }] })[0]).toMatch(/must not be empty/);
    expect(errors({ egress: [{ hosts: ["./"] }] })[0]).toMatch(/must not be empty/);
    expect(errors({ egress: [{ hosts: ["Bad_NS/*"] }] })[0]).toMatch(/^spec\.egress\[0\]\.hosts\[0\]: host "Bad_NS\/\*": invalid namespace "Bad_NS"/);
    expect(errors({ egress: [{ hosts: ["./in valid"] }] })[0]).toMatch(/label "in valid" invalid/);
    expect(errors({ egress: [{ hosts: ["./*.a.*"] }] })).toHaveLength(1);
    expect(errors({ egress: [{ hosts: [] }] })).toEqual(["spec.egress[0].hosts: an egress listener must list at least one host"]);
    expect(errors({ egress: [{}] })).toEqual(["spec.egress[0].hosts: an egress listener must list at least one host"]);
    expect(findings(sidecar({ egress: [{ hosts: ["./*", "./reviews"] }] }), "warning")).toEqual([
      'spec.egress[0].hosts[1]: duplicated egress host "./reviews": an earlier host of namespace "." already imports it',
    ]);
  });

  it("allows one catch-all egress listener, last; ports and sockets unique", () => {
    expect(errors({ egress: [{ hosts: ["./*"] }, { port: { number: 80, protocol: "HTTP" }, hosts: ["./*"] }] })).toEqual([
      "spec.egress[0]: the egress listener without a port (the catch-all) must be the last in the list",
    ]);
    expect(errors({ egress: [{ hosts: ["./*"] }, { hosts: ["*/*"] }] })).toContain("spec.egress[1]: only one egress listener may have no port (the catch-all)");
    const p = { number: 80, protocol: "HTTP" };
    expect(
      errors({
        egress: [
          { port: p, hosts: ["./*"] },
          { port: p, hosts: ["*/*"] },
        ],
      }),
    ).toEqual(["spec.egress[1].port.number: port 80 is also used by egress[0]; ports of IP-bound listeners must be unique"]);
    const u = { number: 0, protocol: "HTTP" };
    expect(
      errors({
        egress: [
          { port: u, bind: "unix:///s", hosts: ["./*"] },
          { port: u, bind: "unix:///s", hosts: ["*/*"] },
        ],
      }),
    ).toEqual(['spec.egress[1].bind: unix domain socket "unix:///s" is also used by egress[0]; each listener needs its own']);
  });

  it("checks egress ports, bind and captureMode", () => {
    expect(errors({ egress: [{ port: { number: 80 }, hosts: ["./*"] }] })).toEqual([
      'spec.egress[0].port.protocol: "" is not a valid protocol (one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP, TLS, UDP)',
    ]);
    expect(errors({ egress: [{ port: { number: 70000, protocol: "TCP" }, hosts: ["./*"] }] })).toEqual([
      "spec.egress[0].port.number: port number 70000 must be in the range 1..65535",
    ]);
    expect(errors({ egress: [{ port: { number: 80, protocol: "HTTP", name: "Web_Port" }, hosts: ["./*"] }] })[0]).toMatch(
      /^spec\.egress\[0\]\.port\.name: invalid port name/,
    );
    expect(errors({ egress: [{ port: { number: 80, protocol: "HTTP" }, bind: "localhost", hosts: ["./*"] }] })).toEqual([
      'spec.egress[0].bind: bind "localhost" must be an IP address or unix://<path>',
    ]);
    expect(errors({ egress: [{ port: { number: 80, protocol: "HTTP" }, bind: "unix:///s", hosts: ["./*"] }] })).toEqual([
      "spec.egress[0].port.number: the port of a listener bound to a unix domain socket must be 0",
    ]);
    expect(errors({ egress: [{ port: { number: 0, protocol: "HTTP" }, bind: "unix://rel", captureMode: "IPTABLES", hosts: ["./*"] }] })).toEqual([
      'spec.egress[0].bind: unix domain socket "unix://rel" must be an absolute path (unix:///path) or abstract (unix://@name)',
      "spec.egress[0].captureMode: captureMode must be DEFAULT or NONE for a unix domain socket listener",
    ]);
    expect(errors({ egress: [{ captureMode: "SOMETIMES", hosts: ["./*"] }] })).toEqual([
      'spec.egress[0].captureMode: expected one of DEFAULT, IPTABLES, NONE, got string "SOMETIMES"',
    ]);
  });

  it("checks ingress listeners: port, bind, defaultEndpoint, tls", () => {
    expect(errors({ ingress: [{ defaultEndpoint: "127.0.0.1:80" }] })).toEqual(["spec.ingress[0].port: port is required for ingress listeners"]);
    const port = { number: 80, protocol: "HTTP" };
    expect(errors({ ingress: [{ port, defaultEndpoint: "10.0.0.1:80" }] })[0]).toMatch(
      /^spec\.ingress\[0\]\.defaultEndpoint: defaultEndpoint "10\.0\.0\.1:80" must be of the form 127\.0\.0\.1:<port>/,
    );
    expect(errors({ ingress: [{ port, defaultEndpoint: "127.0.0.1:http" }] })).toEqual([
      'spec.ingress[0].defaultEndpoint: defaultEndpoint "127.0.0.1:http": port "http" is not a number',
    ]);
    expect(errors({ ingress: [{ port, defaultEndpoint: ":8080" }] })).toEqual([]);
    expect(errors({ ingress: [{ port, bind: "::x" }] })).toEqual(['spec.ingress[0].bind: bind "::x" must be an IP address']);
    expect(errors({ ingress: [{ port }, { port }] })).toEqual([
      "spec.ingress[1].port.number: port 80 is also used by ingress[0]; ingress ports must be unique",
    ]);
    expect(errors({ ingress: [{ port, tls: { mode: "ISTIO_MUTUAL" } }] })).toEqual([
      "spec.ingress[0].tls.mode: mode ISTIO_MUTUAL cannot be used in Sidecar ingress tls",
      'spec.ingress[0].tls: TLS settings need an HTTPS or TLS port, not "HTTP"',
    ]);
    const https = { number: 443, protocol: "HTTPS" };
    expect(
      errors({ ingress: [{ port: https, tls: { mode: "MUTUAL", serverCertificate: "/c", privateKey: "/k", credentialName: "x", subjectAltNames: ["a"] } }] }),
    ).toEqual([
      "spec.ingress[0].tls.subjectAltNames: subjectAltNames is not supported in Sidecar ingress tls",
      "spec.ingress[0].tls.credentialName: credentialName is not supported in Sidecar ingress tls",
      "spec.ingress[0].tls.caCertificates: mode MUTUAL needs caCertificates",
    ]);
    expect(errors({ ingress: [{ port, connectionPool: {} }] })).toEqual([
      "spec.ingress[0].connectionPool: connection pool must have at least one field (tcp or http)",
    ]);
  });

  it("checks the outbound traffic policy and egressProxy", () => {
    expect(errors({ outboundTrafficPolicy: { mode: "DENY" } })).toEqual([
      'spec.outboundTrafficPolicy.mode: expected one of REGISTRY_ONLY, ALLOW_ANY, got string "DENY"',
    ]);
    // The mode's default is REGISTRY_ONLY, so an egressProxy alone is refused.
    expect(errors({ outboundTrafficPolicy: { egressProxy: { host: "egress.example.com", port: { number: 80 } } } })).toEqual([
      "spec.outboundTrafficPolicy.egressProxy: egressProxy may be set only with mode ALLOW_ANY",
    ]);
    expect(errors({ outboundTrafficPolicy: { mode: "ALLOW_ANY", egressProxy: { subset: "V1" } } })).toEqual([
      "spec.outboundTrafficPolicy.egressProxy.host: egressProxy needs a host",
      expect.stringMatching(/^spec\.outboundTrafficPolicy\.egressProxy\.subset: invalid subset name/),
      "spec.outboundTrafficPolicy.egressProxy.port.number: egressProxy needs a port number in the range 1..65535",
    ]);
  });

  it("checks the workload selector and unknown fields", () => {
    expect(errors({ workloadSelector: { labels: { "app*": "x" } }, egress: [{ hosts: ["./*"] }] })[0]).toMatch(/wildcard is not supported in selector/);
    expect(findings(sidecar({ workloadSelector: {}, egress: [{ hosts: ["./*"] }] }), "warning")).toEqual([
      "spec.workloadSelector: workload selector specified without labels: the Sidecar applies to every workload of its namespace",
    ]);
    expect(errors({ workloadSelector: { matchLabels: { app: "x" } }, egress: [{ hosts: ["./*"] }] })).toEqual([
      'spec.workloadSelector.matchLabels: unknown field "matchLabels" in Istio WorkloadSelector',
    ]);
    expect(errors({ egress: [{ host: ["./*"] }] })).toContain('spec.egress[0].host: unknown field "host" in Istio IstioEgressListener (did you mean "hosts"?)');
  });
});
