import { describe, expect, it } from "vitest";
import { captureConfig } from "../../../src/inject/capture-config.js";
import { captureRules, captureScript } from "../../../src/inject/iptables.js";
import { DEFAULT_INJECTION_SETTINGS } from "../../../src/inject/settings.js";

const rules = (annotations: Record<string, string> = {}) => {
  const r = captureConfig(DEFAULT_INJECTION_SETTINGS, annotations);
  if (!r.config) throw new Error(JSON.stringify(r.errors));
  return captureRules(r.config);
};

// Written out by hand from istio-iptables' REDIRECT layout; not produced by the code under test.
const HEAD = [
  "-N ISTIO_INBOUND",
  "-N ISTIO_REDIRECT",
  "-N ISTIO_IN_REDIRECT",
  "-N ISTIO_OUTPUT",
  "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
  "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
];
const OWNER = [
  "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN",
  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
  "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
  "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
  "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT",
  "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
  "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
  "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
];

describe("capture rules", () => {
  it("default: all inbound but Envoy's 15090/15021/15020, all outbound", () => {
    expect(rules()).toEqual([
      ...HEAD,
      "-A PREROUTING -p tcp -j ISTIO_INBOUND",
      "-A ISTIO_INBOUND -p tcp -m multiport --dports 15090,15021,15020 -j RETURN",
      "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
      "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
      ...OWNER,
      "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
    ]);
  });

  it("includeInboundPorts lists ports; excludeInboundPorts adds to Envoy's", () => {
    expect(rules({ "traffic.sidecar.istio.io/includeInboundPorts": "8080, 9090" }).slice(6, 9)).toEqual([
      "-A PREROUTING -p tcp -j ISTIO_INBOUND",
      "-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT",
      "-A ISTIO_INBOUND -p tcp --dport 9090 -j ISTIO_IN_REDIRECT",
    ]);
    expect(rules({ "traffic.sidecar.istio.io/excludeInboundPorts": "22" })[7]).toBe(
      "-A ISTIO_INBOUND -p tcp -m multiport --dports 15090,15021,15020,22 -j RETURN",
    );
  });

  it("includeInboundPorts empty: no inbound capture at all", () => {
    const r = rules({ "traffic.sidecar.istio.io/includeInboundPorts": "" });
    expect(r.some((l) => l.includes("PREROUTING"))).toBe(false);
  });

  it("excludeOutboundPorts, excludeOutboundIPRanges, includeOutboundPorts and includeOutboundIPRanges", () => {
    const r = rules({
      "traffic.sidecar.istio.io/excludeOutboundPorts": "5432",
      "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.5.0/24,169.254.169.254/32",
      "traffic.sidecar.istio.io/includeOutboundPorts": "3306,6379",
      "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8",
    });
    expect(r.slice(9)).toEqual([
      "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
      "-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN",
      ...OWNER,
      "-A ISTIO_OUTPUT -d 10.0.5.0/24 -j RETURN",
      "-A ISTIO_OUTPUT -d 169.254.169.254/32 -j RETURN",
      "-A ISTIO_OUTPUT -p tcp -m multiport --dports 3306,6379 -j ISTIO_REDIRECT",
      "-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT",
    ]);
  });

  it("includeOutboundIPRanges empty: outbound goes out uncaptured", () => {
    expect(rules({ "traffic.sidecar.istio.io/includeOutboundIPRanges": "" }).at(-1)).toBe("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN");
  });

  it("more than 15 ports split into several multiport rules", () => {
    const ports = Array.from({ length: 17 }, (_, i) => 1000 + i);
    const r = rules({ "traffic.sidecar.istio.io/excludeOutboundPorts": ports.join(",") });
    expect(r.filter((l) => l.startsWith("-A ISTIO_OUTPUT -p tcp") && l.endsWith("RETURN"))).toEqual([
      `-A ISTIO_OUTPUT -p tcp -m multiport --dports ${ports.slice(0, 15).join(",")} -j RETURN`,
      "-A ISTIO_OUTPUT -p tcp -m multiport --dports 1015,1016 -j RETURN",
    ]);
  });

  it("the script applies the rules in one iptables-restore and prints the table", () => {
    const s = captureScript(captureConfig(DEFAULT_INJECTION_SETTINGS, {}).config!);
    expect(s.split("\n").slice(0, 4)).toEqual(["set -eu", "iptables-restore --noflush <<'MESHPILOT_RULES'", "*nat", "-N ISTIO_INBOUND"]);
    expect(s).toContain("COMMIT\nMESHPILOT_RULES\niptables-save -t nat\n");
  });
});

describe("bad annotations", () => {
  const errors = (a: Record<string, string>) => captureConfig(DEFAULT_INJECTION_SETTINGS, a).errors;
  it.each([
    ["traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.0/33", '"10.0.0.0/33" is not a CIDR range'],
    ["traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.1.2.3", '"10.1.2.3" is not a CIDR range'],
    ["traffic.sidecar.istio.io/excludeOutboundIPRanges", "*", '"*" is not allowed'],
    ["traffic.sidecar.istio.io/includeInboundPorts", "80,http", '"http" is not a port number'],
    ["traffic.sidecar.istio.io/excludeInboundPorts", "0", '"0" is not a port number'],
    ["traffic.sidecar.istio.io/includeOutboundPorts", "70000", '"70000" is not a port number'],
    ["traffic.sidecar.istio.io/excludeOutboundPorts", "*", '"*" is not a port number'],
  ])("%s=%s is refused", (annotation, value, message) => {
    const e = errors({ [annotation]: value });
    expect(e).toHaveLength(1);
    expect(e[0]!.annotation).toBe(annotation);
    expect(e[0]!.message).toContain(message);
    expect(captureConfig(DEFAULT_INJECTION_SETTINGS, { [annotation]: value }).config).toBeUndefined();
  });

  it("IPv6 ranges are accepted but reported as not applied", () => {
    const r = captureConfig(DEFAULT_INJECTION_SETTINGS, { "traffic.sidecar.istio.io/excludeOutboundIPRanges": "fd00::/8,10.9.0.0/16" });
    expect(r.errors).toEqual([]);
    expect(r.config!.excludeOutboundIPRanges).toEqual(["10.9.0.0/16"]);
    expect(r.warnings[0]!.message).toBe('IPv6 range "fd00::/8" not applied (capture is IPv4 only)');
  });
});
