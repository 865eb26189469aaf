/**
 * The nat-table rules that capture a pod's TCP traffic for its sidecar, laid out as
 * istio-iptables lays them out in REDIRECT mode (chains ISTIO_INBOUND, ISTIO_IN_REDIRECT,
 * ISTIO_OUTPUT, ISTIO_REDIRECT), and the init container's shell script that installs them.
 *
 * Rules are written in iptables-restore syntax and applied in one `iptables-restore --noflush`
 * call, so a pod never runs with half of them.
 */
import type { CaptureConfig } from "./capture-config.js";

/** iptables' multiport match takes at most 15 ports. */
const MULTIPORT_MAX = 15;

function portMatches(ports: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ports.length; i += MULTIPORT_MAX) {
    const chunk = ports.slice(i, i + MULTIPORT_MAX);
    out.push(chunk.length === 1 ? `--dport ${chunk[0]}` : `-m multiport --dports ${chunk.join(",")}`);
  }
  return out;
}

/** The rule lines (`-N …`, `-A …`) of the nat table, in order. */
export function captureRules(c: CaptureConfig): string[] {
  const r: string[] = ["-N ISTIO_INBOUND", "-N ISTIO_REDIRECT", "-N ISTIO_IN_REDIRECT", "-N ISTIO_OUTPUT"];
  r.push(`-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${c.outboundPort}`);
  r.push(`-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${c.inboundPort}`);

  // Inbound: everything (minus Envoy's own externally reached ports) or only the listed ports.
  const inbound = c.includeInboundPorts;
  if (inbound === "*" || inbound.length > 0) {
    r.push("-A PREROUTING -p tcp -j ISTIO_INBOUND");
    if (inbound === "*") {
      for (const m of portMatches(c.excludeInboundPorts)) r.push(`-A ISTIO_INBOUND -p tcp ${m} -j RETURN`);
      r.push("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT");
    } else {
      for (const p of inbound) if (!c.excludeInboundPorts.includes(p)) r.push(`-A ISTIO_INBOUND -p tcp --dport ${p} -j ISTIO_IN_REDIRECT`);
    }
  }

  r.push("-A OUTPUT -p tcp -j ISTIO_OUTPUT");
  for (const m of portMatches(c.excludeOutboundPorts)) r.push(`-A ISTIO_OUTPUT -p tcp ${m} -j RETURN`);
  // Envoy's inbound passthrough connects from 127.0.0.6: never capture it again.
  r.push("-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN");
  // For the proxy's uid, then its gid: a connection the proxy makes to this pod's own address
  // over loopback is inbound traffic (a call to a service this pod backs); other loopback traffic
  // of the application is left alone; everything else the proxy sends goes out uncaptured.
  for (const [flag, id] of [
    ["--uid-owner", c.proxyUid],
    ["--gid-owner", c.proxyGid],
  ] as const) {
    r.push(`-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner ${flag} ${id} -j ISTIO_IN_REDIRECT`);
    r.push(`-A ISTIO_OUTPUT -o lo -m owner ! ${flag} ${id} -j RETURN`);
    r.push(`-A ISTIO_OUTPUT -m owner ${flag} ${id} -j RETURN`);
  }
  r.push("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN");
  for (const cidr of c.excludeOutboundIPRanges) r.push(`-A ISTIO_OUTPUT -d ${cidr} -j RETURN`);
  for (const m of portMatches(c.includeOutboundPorts)) r.push(`-A ISTIO_OUTPUT -p tcp ${m} -j ISTIO_REDIRECT`);
  if (c.includeOutboundIPRanges === "*") r.push("-A ISTIO_OUTPUT -j ISTIO_REDIRECT");
  else for (const cidr of c.includeOutboundIPRanges) r.push(`-A ISTIO_OUTPUT -d ${cidr} -j ISTIO_REDIRECT`);
  return r;
}

/** The iptables-restore input for the nat table. */
export function captureRestoreInput(c: CaptureConfig): string {
  return ["*nat", ...captureRules(c), "COMMIT", ""].join("\n");
}

/**
 * The init container's script (busybox sh): install the rules atomically, then print the nat
 * table so `kubectl logs -c istio-init` shows what the pod got.
 */
export function captureScript(c: CaptureConfig): string {
  return ["set -eu", "iptables-restore --noflush <<'MESHPILOT_RULES'", captureRestoreInput(c) + "MESHPILOT_RULES", "iptables-save -t nat", ""].join("\n");
}
