import type { Protocol } from "./ir.js";

const BY_NAME: ReadonlyMap<string, Protocol> = new Map<string, Protocol>([
  ["http", "HTTP"],
  ["http2", "HTTP2"],
  ["h2c", "HTTP2"],
  ["grpc", "GRPC"],
  ["grpc-web", "GRPC-Web"],
  ["tcp", "TCP"],
  ["tls", "TLS"],
  ["https", "HTTPS"],
  ["mongo", "Mongo"],
  ["mysql", "MySQL"],
  ["redis", "Redis"],
  ["udp", "UDP"],
]);

/** A protocol as a port declares it by name (`HTTP`, `tcp`, …; any case); anything else is detected. */
export function protocolByName(name: string): Protocol {
  return BY_NAME.get(name.toLowerCase()) ?? "Unsupported";
}

/**
 * Istio's port protocol: `appProtocol` first, then the port name's prefix (`http-web` → HTTP),
 * else "Unsupported" (Istio would sniff the protocol). UDP ports are never proxied.
 */
export function portProtocol(p: { name?: string; appProtocol?: string; protocol?: string }): Protocol {
  if (p.protocol === "UDP") return "UDP";
  if (p.appProtocol) {
    const ap = p.appProtocol.toLowerCase();
    const byAp = BY_NAME.get(ap) ?? (ap === "kubernetes.io/h2c" ? "HTTP2" : ap === "kubernetes.io/ws" ? "HTTP" : undefined);
    if (byAp) return byAp;
  }
  if (p.name) {
    const lower = p.name.toLowerCase();
    const exact = BY_NAME.get(lower);
    if (exact) return exact;
    if (lower.startsWith("grpc-web-")) return "GRPC-Web";
    const dash = lower.indexOf("-");
    if (dash > 0) {
      const byPrefix = BY_NAME.get(lower.slice(0, dash));
      if (byPrefix) return byPrefix;
    }
  }
  return "Unsupported";
}

export function isHttpProtocol(p: Protocol): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-Web";
}

export function isHttp2Protocol(p: Protocol): boolean {
  return p === "HTTP2" || p === "GRPC";
}
