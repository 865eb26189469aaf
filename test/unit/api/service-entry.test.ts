// ServiceEntry and WorkloadEntry validation: Istio's webhook rules, each reported with its field.
import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

const se = (spec: unknown) =>
  parseObject({ value: { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "x", namespace: "shop" }, spec } });
const we = (spec: unknown) =>
  parseObject({ value: { apiVersion: "networking.istio.io/v1beta1", kind: "WorkloadEntry", metadata: { name: "w", namespace: "shop" }, spec } });
const errors = (r: ReturnType<typeof parseObject>) => r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.path}: ${d.message}`);

const HTTP = [{ number: 80, name: "http", protocol: "HTTP" }];

describe("ServiceEntry validation", () => {
  it("accepts each resolution in its valid form", () => {
    for (const spec of [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "NONE", addresses: ["10.0.0.0/24"] },
      { hosts: ["a.example.com"], ports: HTTP, resolution: "STATIC", endpoints: [{ address: "10.0.0.1", ports: { http: 8080 }, weight: 2 }] },
      { hosts: ["a.example.com"], ports: HTTP, resolution: "DNS", endpoints: [{ address: "b.example.com" }] },
      { hosts: ["a.example.com"], ports: HTTP, resolution: "DNS_ROUND_ROBIN" },
      { hosts: ["a.example.com"], ports: HTTP, resolution: "STATIC", workloadSelector: { labels: { app: "vm" } }, exportTo: ["~"] },
    ]) {
      const r = se(spec);
      expect(errors(r), JSON.stringify(spec)).toEqual([]);
      expect(r.status).toBe("valid");
    }
  });

  it.each([
    [{ ports: HTTP }, "spec.hosts: a ServiceEntry must have at least one host"],
    [{ hosts: ["*"], ports: HTTP }, 'spec.hosts[0]: invalid host "*": a ServiceEntry cannot capture every host'],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "DNS", addresses: ["10.0.0.0/8"] },
      "spec.addresses: CIDR addresses are allowed only with resolution NONE or STATIC, not DNS",
    ],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "STATIC", endpoints: [{ address: "vm.example.com" }] },
      'spec.endpoints[0].address: endpoint address "vm.example.com" is not a valid IP address',
    ],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "STATIC", endpoints: [{ address: "10.0.0.1", ports: { grpc: 1 } }] },
      'spec.endpoints[0].ports.grpc: endpoint port "grpc" is not defined by the ServiceEntry (its ports: http)',
    ],
    [
      { hosts: ["*.example.com"], ports: HTTP, resolution: "DNS" },
      "spec.hosts[0]: hosts must be FQDNs (no wildcard) when no endpoints are given with resolution DNS",
    ],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "DNS_ROUND_ROBIN", endpoints: [{ address: "a.b.c" }, { address: "d.e.f" }] },
      "spec.endpoints: there must be 0 or 1 endpoint with resolution DNS_ROUND_ROBIN, found 2",
    ],
    [
      { hosts: ["a.example.com", "b.example.com"], ports: [{ number: 5432, name: "tcp", protocol: "TCP" }], resolution: "DNS" },
      "spec.ports: multiple hosts need HTTP or TLS ports (a TCP port cannot tell the hosts apart) unless resolution is NONE",
    ],
    [
      { hosts: ["a.example.com"], ports: [{ number: 80, name: "http", protocol: "SPDY" }] },
      'spec.ports[0].protocol: unrecognized protocol "SPDY"; one of TCP, UDP, GRPC, GRPC-Web, HTTP, HTTP_PROXY, HTTP2, HTTPS, TLS, Mongo, Redis, MySQL',
    ],
    [{ hosts: ["a.example.com"], ports: [...HTTP, { number: 80, name: "web", protocol: "HTTP" }] }, "spec.ports[1].number: port 80 is already defined"],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "NONE", endpoints: [{ address: "10.0.0.1" }] },
      "spec.endpoints: no endpoints may be given with resolution NONE",
    ],
    [
      { hosts: ["a.example.com"], ports: HTTP, resolution: "STATIC", endpoints: [{ address: "10.0.0.1" }], workloadSelector: { labels: { a: "b" } } },
      "spec: only one of workloadSelector or endpoints may be set",
    ],
    [{ hosts: ["a.example.com"], ports: HTTP, resolution: "PROXY" }, 'spec.resolution: expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, got string "PROXY"'],
    [
      { hosts: ["a.example.com"], ports: HTTP, exportTo: ["~", "."] },
      'spec.exportTo[0]: exportTo "~" (exported nowhere) cannot be combined with other entries',
    ],
  ])("refuses %j", (spec, message) => {
    const r = se(spec);
    expect(r.status).toBe("invalid");
    expect(errors(r)).toContain(message);
  });

  it("warns about a TCP port without addresses, as Istio does, and keeps the entry", () => {
    const r = se({ hosts: ["db.example.com"], ports: [{ number: 5432, name: "tcp", protocol: "TCP" }], resolution: "DNS" });
    expect(r.status).toBe("valid");
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      "addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE is not set on a proxy",
    ]);
  });
});

describe("WorkloadEntry validation", () => {
  it("accepts an IP or a host name", () => {
    expect(we({ address: "10.0.0.1", ports: { http: 8080 }, labels: { app: "vm" }, weight: 5, locality: "eu/zone-a" }).status).toBe("valid");
    expect(we({ address: "vm-1.example.com" }).status).toBe("valid");
  });

  it.each([
    [{ labels: { app: "vm" } }, "spec.address: address is required"],
    [{ address: "not an ip" }, 'spec.address: address "not an ip" is not a valid FQDN or an IP address'],
    [{ address: "10.0.0.1", ports: { http: 70000 } }, "spec.ports.http: port number 70000 must be in the range 1..65535"],
    [{ address: "unix:///var/run/vm.sock", ports: { http: 80 } }, "spec.ports: unix endpoint unix:///var/run/vm.sock must not include ports"],
    [{ address: "10.0.0.1", weight: "heavy" }, 'spec.weight: expected a non-negative 32-bit integer, got string "heavy"'],
  ])("refuses %j", (spec, message) => {
    const r = we(spec);
    expect(r.status).toBe("invalid");
    expect(errors(r)).toContain(message);
  });
});
