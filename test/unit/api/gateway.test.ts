// Istio Gateway validation: the webhook's rules, each reported with its field.
import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

const gw = (spec: unknown) =>
  parseObject({ value: { apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "g", namespace: "istio-system" }, spec } });
const findings = (r: ReturnType<typeof parseObject>, severity: "error" | "warning") =>
  r.diagnostics.filter((d) => d.severity === severity).map((d) => `${d.path}: ${d.message}`);

const HTTP = { number: 80, name: "http", protocol: "HTTP" };

describe("Gateway validation", () => {
  it("accepts the forms of Istio's documentation", () => {
    const r = gw({
      selector: { istio: "ingressgateway" },
      servers: [
        { port: HTTP, hosts: ["bookinfo.app", "ns1/*.example.com", "./a.example.com", "*/b.example.com"], tls: { httpsRedirect: true } },
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "cert", minProtocolVersion: "TLSV1_2" },
        },
        {
          port: { number: 8443, name: "mtls", protocol: "https" },
          hosts: ["*"],
          tls: { mode: "MUTUAL", serverCertificate: "/c", privateKey: "/k", caCertificates: "/ca" },
        },
        { port: { number: 9443, name: "tls", protocol: "TLS" }, hosts: ["*.x.com"], tls: { mode: "PASSTHROUGH" } },
        { port: { number: 31400, name: "tcp", protocol: "TCP" }, hosts: ["*"] },
      ],
    });
    expect(findings(r, "error")).toEqual([]);
    expect(findings(r, "warning")).toEqual([]);
    expect(r.status).toBe("valid");
  });

  it.each([
    [{ servers: [] }, "spec.servers: gateway must have at least one server"],
    [{ servers: [{ port: HTTP, hosts: [] }] }, "spec.servers[0].hosts: server config must contain at least one host"],
    [{ servers: [{ port: HTTP, hosts: ["bad_host"] }] }, 'spec.servers[0].hosts[0]: invalid host "bad_host"'],
    [{ servers: [{ port: HTTP, hosts: ["Not_NS/a.com"] }] }, 'spec.servers[0].hosts[0]: invalid namespace "Not_NS"'],
    [{ servers: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["*"] }] }, "spec.servers[0].port.name: port name must be set"],
    [{ servers: [{ port: { number: 80, name: "x", protocol: "QUIC" }, hosts: ["*"] }] }, 'spec.servers[0].port.protocol: invalid protocol "QUIC"'],
    [
      { servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["*"] }] },
      "spec.servers[0].tls: server must have TLS settings for HTTPS protocol",
    ],
    [
      { servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["*"], tls: { mode: "SIMPLE" } }] },
      "spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate",
    ],
    [
      {
        servers: [
          { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["*"], tls: { mode: "MUTUAL", serverCertificate: "/c", privateKey: "/k" } },
        ],
      },
      "spec.servers[0].tls.caCertificates: MUTUAL TLS requires a client CA bundle",
    ],
    [
      {
        servers: [
          {
            port: { number: 443, name: "https", protocol: "HTTPS" },
            hosts: ["*"],
            tls: { mode: "SIMPLE", credentialName: "c", minProtocolVersion: "TLSV1_3", maxProtocolVersion: "TLSV1_2" },
          },
        ],
      },
      "spec.servers[0].tls: minimum TLS version TLSV1_3 is higher than the maximum TLSV1_2",
    ],
    [{ servers: [{ port: HTTP, hosts: ["*"], bind: "localhost" }] }, 'spec.servers[0].bind: bind "localhost" must be an IP address'],
    [
      {
        servers: [
          { port: HTTP, hosts: ["a.com"] },
          { port: { ...HTTP, number: 81 }, hosts: ["b.com"] },
        ],
      },
      'spec.servers[1].port.name: port names in servers must be unique: duplicate name "http"',
    ],
    [{ servers: [{ port: HTTP, hosts: ["*"], tls: { mode: "BOGUS" } }] }, "spec.servers[0].tls.mode: expected one of"],
    [{ servers: [{ port: HTTP, hostz: ["*"] }] }, 'spec.servers[0].hostz: unknown field "hostz"'],
  ])("refuses %j", (spec, want) => {
    const r = gw(spec);
    expect(r.status).not.toBe("valid");
    expect(
      findings(r, "error").some((e) => e.startsWith(want)),
      findings(r, "error").join("\n"),
    ).toBe(true);
  });

  it("warns about cipher suites Envoy does not know, and fields meshpilot ignores", () => {
    const r = gw({
      servers: [
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "c", cipherSuites: ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"], caCrl: "/crl" },
        },
      ],
    });
    expect(findings(r, "error")).toEqual([]);
    expect(findings(r, "warning").join("\n")).toMatch(/cipherSuites\[1\]: cipher suite "TLS_AES_128_GCM_SHA256" is not supported/);
    expect(findings(r, "warning").join("\n")).toMatch(/caCrl is accepted but ignored/);
  });
});
