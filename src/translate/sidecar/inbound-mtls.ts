/**
 * The inbound side of PeerAuthentication: which filter chains a workload port gets for its mode,
 * as Istio 1.30 builds them (listener_inbound.go, filterchain_options.go), and the TLS inspector
 * that tells the chains apart.
 * - STRICT: only TLS connections match, terminated with the workload certificate and a client
 *   certificate required from the mesh root.
 * - PERMISSIVE: mTLS from mesh clients (matched on Istio's ALPN values, `istio` among them) beside
 *   plaintext; on TCP and undeclared ports also one-way TLS of the application, passed through.
 * - DISABLE: plaintext only, in the chain shapes of a port without mTLS (no transport match: the
 *   TLS inspector does not run on such ports, so an application's own TLS still passes).
 * Declared HTTP ports match no ALPN beyond Istio's; a port whose protocol is detected splits HTTP
 * and TCP (plaintext by the HTTP inspector, mTLS by the client's ALPN: upstream Envoy clients send
 * `istio`, not Istio's `istio-http/*`, so their HTTP over mTLS takes the TCP chain).
 */
import type { MtlsMode } from "../../model/peer-authentication.js";
import { typed, type FilterChainJson, type FilterJson, type ListenerJson } from "../envoy.js";
import { inboundMtlsSocket } from "../tls.js";

/** What the HTTP inspector reports for plaintext HTTP/1 and HTTP/2 with prior knowledge. */
export const HTTP_PROTOCOLS = ["http/1.1", "h2c"];
/** ALPN of HTTP over mTLS as Istio's clients mark it. */
const MTLS_HTTP_ALPNS = ["istio-http/1.0", "istio-http/1.1", "istio-h2"];
/** ALPN of TCP over mTLS from Istio's clients (and `istio` from meshpilot's). */
const MTLS_TCP_ALPNS = ["istio-peer-exchange", "istio"];
const ALL_MTLS_ALPNS = ["istio", "istio-peer-exchange", ...MTLS_HTTP_ALPNS];

export type ChainKind = "http" | "tcp" | "auto";
type Match = NonNullable<FilterChainJson["filterChainMatch"]>;

interface Variant {
  readonly role: "http" | "tcp";
  /** Added to the role's chain name: chains of one port need names of their own. */
  readonly suffix: "" | "-mtls" | "-tls";
  readonly match: Match;
  readonly mtls?: true;
}

const TLS: Match = { transportProtocol: "tls" };
const RAW: Match = { transportProtocol: "raw_buffer" };

const VARIANTS: Readonly<Record<MtlsMode, Readonly<Record<ChainKind, readonly Variant[]>>>> = {
  DISABLE: {
    http: [{ role: "http", suffix: "", match: {} }],
    tcp: [{ role: "tcp", suffix: "", match: {} }],
    auto: [
      { role: "http", suffix: "", match: { applicationProtocols: HTTP_PROTOCOLS } },
      { role: "tcp", suffix: "", match: {} },
    ],
  },
  STRICT: {
    http: [{ role: "http", suffix: "-mtls", match: TLS, mtls: true }],
    tcp: [{ role: "tcp", suffix: "-mtls", match: TLS, mtls: true }],
    auto: [
      { role: "http", suffix: "-mtls", match: { ...TLS, applicationProtocols: MTLS_HTTP_ALPNS }, mtls: true },
      { role: "tcp", suffix: "-mtls", match: TLS, mtls: true },
    ],
  },
  PERMISSIVE: {
    http: [
      { role: "http", suffix: "-mtls", match: { ...TLS, applicationProtocols: ALL_MTLS_ALPNS }, mtls: true },
      { role: "http", suffix: "", match: RAW },
    ],
    tcp: [
      { role: "tcp", suffix: "-mtls", match: { ...TLS, applicationProtocols: ALL_MTLS_ALPNS }, mtls: true },
      { role: "tcp", suffix: "", match: RAW },
      { role: "tcp", suffix: "-tls", match: TLS },
    ],
    auto: [
      { role: "http", suffix: "-mtls", match: { ...TLS, applicationProtocols: MTLS_HTTP_ALPNS }, mtls: true },
      { role: "http", suffix: "", match: { ...RAW, applicationProtocols: HTTP_PROTOCOLS } },
      { role: "tcp", suffix: "-mtls", match: { ...TLS, applicationProtocols: MTLS_TCP_ALPNS }, mtls: true },
      { role: "tcp", suffix: "", match: RAW },
      { role: "tcp", suffix: "-tls", match: TLS },
    ],
  },
};

export interface ChainSpec {
  /** Chain names per role (a role's variants add a suffix). */
  readonly names: { readonly http: string; readonly tcp: string };
  /** What every chain of the port matches (its destination port or address range). */
  readonly match: Match;
  readonly kind: ChainKind;
  readonly mode: MtlsMode;
  /** The network filters per role (only the roles the kind uses are read). */
  readonly filters: { readonly http?: readonly FilterJson[]; readonly tcp?: readonly FilterJson[] };
}

/** A port's filter chains under its mTLS mode. */
export function inboundChains(spec: ChainSpec): FilterChainJson[] {
  return VARIANTS[spec.mode][spec.kind].map((v) => ({
    name: spec.names[v.role] + v.suffix,
    filterChainMatch: { ...spec.match, ...v.match },
    filters: [...spec.filters[v.role]!],
    ...(v.mtls ? { transportSocket: inboundMtlsSocket() } : {}),
  }));
}

type ListenerFilter = NonNullable<ListenerJson["listenerFilters"]>[number];
type Predicate = NonNullable<ListenerFilter["filterDisabled"]>;

function anyPort(ports: readonly number[]): Predicate {
  const rules = ports.map((p) => ({ destinationPortRange: { start: p, end: p + 1 } }));
  return rules.length === 1 ? rules[0]! : { orMatch: { rules } };
}

/**
 * The TLS inspector, where some chain matches on TLS: on every port when the undeclared ports
 * (the passthrough chains) take mTLS, else on the ports that do. None without mTLS anywhere.
 */
export function tlsInspector(ports: readonly { readonly port: number; readonly mode: MtlsMode }[], passthrough: MtlsMode): ListenerFilter | undefined {
  const tls = ports.filter((p) => p.mode !== "DISABLE").map((p) => p.port);
  const plain = ports.filter((p) => p.mode === "DISABLE").map((p) => p.port);
  let filterDisabled: Predicate | undefined;
  if (passthrough !== "DISABLE") filterDisabled = plain.length ? anyPort(plain) : undefined;
  else if (tls.length) filterDisabled = { notMatch: anyPort(tls) };
  else return undefined;
  return {
    name: "envoy.filters.listener.tls_inspector",
    typedConfig: typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", {}),
    ...(filterDisabled ? { filterDisabled } : {}),
  };
}
