/**
 * The capture (iptables) parameters of one pod: the injection settings plus the pod's
 * `traffic.sidecar.istio.io/*` annotations, validated as Istio validates them. A bad value is an
 * error naming the annotation (the pod is refused); IPv6 ranges are accepted but reported, as
 * the capture installs IPv4 rules only.
 */
import { isCIDR, isIPv4 } from "../api/validate-net.js";
import { TRAFFIC } from "./names.js";
import type { InjectionSettings } from "./settings.js";

export interface CaptureConfig {
  readonly proxyUid: number;
  readonly proxyGid: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly includeInboundPorts: "*" | readonly number[];
  readonly excludeInboundPorts: readonly number[];
  readonly includeOutboundIPRanges: "*" | readonly string[];
  readonly excludeOutboundIPRanges: readonly string[];
  readonly includeOutboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
}

export interface AnnotationProblem {
  readonly annotation: string;
  readonly message: string;
}

export interface CaptureConfigResult {
  readonly config?: CaptureConfig;
  readonly errors: readonly AnnotationProblem[];
  readonly warnings: readonly AnnotationProblem[];
}

function items(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function parsePorts(annotation: string, value: string, errors: AnnotationProblem[]): number[] {
  const out: number[] = [];
  for (const item of items(value)) {
    const n = /^\d{1,5}$/.test(item) ? Number(item) : NaN;
    if (!(n >= 1 && n <= 65535)) {
      errors.push({ annotation, message: `"${item}" is not a port number (1-65535); expected a comma-separated list of ports` });
      continue;
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

function parseRanges(annotation: string, value: string, errors: AnnotationProblem[], warnings: AnnotationProblem[]): string[] {
  const out: string[] = [];
  for (const item of items(value)) {
    if (!isCIDR(item)) {
      errors.push({ annotation, message: `"${item}" is not a CIDR range (like 10.0.0.0/8); expected a comma-separated list of CIDR ranges` });
      continue;
    }
    if (!isIPv4(item.slice(0, item.indexOf("/")))) {
      warnings.push({ annotation, message: `IPv6 range "${item}" not applied (capture is IPv4 only)` });
      continue;
    }
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

export function captureConfig(settings: InjectionSettings, annotations: Readonly<Record<string, string>>): CaptureConfigResult {
  const errors: AnnotationProblem[] = [];
  const warnings: AnnotationProblem[] = [];
  const get = (key: string): string | undefined => annotations[key];

  const inc = get(TRAFFIC.includeInboundPorts)?.trim();
  const includeInboundPorts: "*" | number[] = inc === undefined || inc === "*" ? "*" : parsePorts(TRAFFIC.includeInboundPorts, inc, errors);
  const excludeInboundPorts = [...settings.excludeInboundPorts];
  for (const p of parsePorts(TRAFFIC.excludeInboundPorts, get(TRAFFIC.excludeInboundPorts) ?? "", errors))
    if (!excludeInboundPorts.includes(p)) excludeInboundPorts.push(p);

  const incRanges = get(TRAFFIC.includeOutboundIPRanges)?.trim();
  const includeOutboundIPRanges: "*" | string[] =
    incRanges === undefined || incRanges === "*" ? "*" : parseRanges(TRAFFIC.includeOutboundIPRanges, incRanges, errors, warnings);
  const exRanges = get(TRAFFIC.excludeOutboundIPRanges)?.trim() ?? "";
  if (exRanges === "*")
    errors.push({
      annotation: TRAFFIC.excludeOutboundIPRanges,
      message: `"*" is not allowed; to capture no outbound traffic set ${TRAFFIC.includeOutboundIPRanges} to ""`,
    });
  const excludeOutboundIPRanges = exRanges === "*" ? [] : parseRanges(TRAFFIC.excludeOutboundIPRanges, exRanges, errors, warnings);

  const includeOutboundPorts = parsePorts(TRAFFIC.includeOutboundPorts, get(TRAFFIC.includeOutboundPorts) ?? "", errors);
  const excludeOutboundPorts = parsePorts(TRAFFIC.excludeOutboundPorts, get(TRAFFIC.excludeOutboundPorts) ?? "", errors);

  if (errors.length > 0) return { errors, warnings };
  return {
    config: {
      proxyUid: settings.proxyUid,
      proxyGid: settings.proxyGid,
      outboundPort: settings.outboundPort,
      inboundPort: settings.inboundPort,
      includeInboundPorts,
      excludeInboundPorts,
      includeOutboundIPRanges,
      excludeOutboundIPRanges,
      includeOutboundPorts,
      excludeOutboundPorts,
    },
    errors,
    warnings,
  };
}
