/**
 * Name formats from Kubernetes (DNS-1123 labels and subdomains, DNS-1035 labels, qualified names,
 * label values, IANA service names) and Istio (hosts with a wildcard first label).
 */
import type { Issues } from "./issues.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
/** Istio host labels are case-insensitive. */
const HOST_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_HOST_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isDNS1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDNS1035Label(s: string): boolean {
  return s.length <= 63 && DNS1035_LABEL.test(s);
}

export function isDNS1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export function dns1123LabelError(s: string): string | undefined {
  if (isDNS1123Label(s)) return undefined;
  if (s.length > 63) return `"${s}" must be no more than 63 characters`;
  return `"${s}" is not a valid DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`;
}

export function dns1035LabelError(s: string): string | undefined {
  if (isDNS1035Label(s)) return undefined;
  if (s.length > 63) return `"${s}" must be no more than 63 characters`;
  return `"${s}" is not a valid DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`;
}

export function dns1123SubdomainError(s: string): string | undefined {
  if (isDNS1123Subdomain(s)) return undefined;
  if (s.length > 253) return `"${s}" must be no more than 253 characters`;
  return `"${s}" is not a valid DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`;
}

/** A label or annotation key: `[prefix/]name`. */
export function qualifiedNameError(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0) return `"${key}": prefix part must not be empty`;
    const e = dns1123SubdomainError(prefix);
    if (e) return `"${key}": prefix part ${e}`;
    if (key.split("/").length > 2) return `"${key}": a qualified name has at most one '/'`;
  }
  if (name.length === 0) return `"${key}": name part must not be empty`;
  if (name.length > 63) return `"${key}": name part must be no more than 63 characters`;
  if (!QUALIFIED_NAME.test(name)) {
    return `"${key}": name part must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric`;
  }
  return undefined;
}

export function labelValueError(v: string): string | undefined {
  if (v === "") return undefined;
  if (v.length > 63) return `label value "${v}" must be no more than 63 characters`;
  if (!QUALIFIED_NAME.test(v)) return `label value "${v}" must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric`;
  return undefined;
}

/** IANA service name, as Kubernetes checks a named targetPort/containerPort. */
export function ianaSvcNameError(s: string): string | undefined {
  if (s.length === 0) return "a port name must not be empty";
  if (s.length > 15) return `port name "${s}" must be no more than 15 characters`;
  if (!IANA_SVC_NAME.test(s)) return `port name "${s}" must contain only lowercase letters, digits and '-'`;
  if (!/[a-z]/.test(s)) return `port name "${s}" must contain at least one letter`;
  if (s.includes("--")) return `port name "${s}" must not contain consecutive hyphens`;
  if (s.startsWith("-") || s.endsWith("-")) return `port name "${s}" must not begin or end with a hyphen`;
  return undefined;
}

function dnsLabelsError(domain: string, labels: string): string | undefined {
  const parts = labels.split(".");
  const tld = parts[parts.length - 1] ?? "";
  if (tld !== "" && /^[0-9]+$/.test(tld)) return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i] ?? "";
    if (i === parts.length - 1 && label === "" && i > 0) return undefined; // trailing dot: `istio.io.`
    if (label.length > 63 || !HOST_LABEL.test(label)) return `domain name "${domain}" invalid (label "${label}" invalid)`;
  }
  return undefined;
}

function domainPreconditions(domain: string): string | undefined {
  if (domain.length === 0) return "empty domain name not allowed";
  if (domain.length > 255) return `domain name "${domain}" too long (max 255)`;
  return undefined;
}

/** A host name (FQDN or short name), no wildcard. */
export function fqdnError(domain: string): string | undefined {
  return domainPreconditions(domain) ?? dnsLabelsError(domain, domain);
}

/** A host name whose first label may be a wildcard: `*`, `*.example.com`, `*-foo.example.com`. */
export function wildcardDomainError(domain: string): string | undefined {
  const pre = domainPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf(".");
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (first.length > 63 || !WILDCARD_HOST_LABEL.test(first)) return `domain name "${domain}" invalid (label "${first}" invalid)`;
  if (dot < 0) return undefined;
  return dnsLabelsError(domain, domain.slice(dot + 1));
}

/** Whether two host patterns overlap (`*.foo.com` and `bar.foo.com`, `*` and anything). */
export function hostsOverlap(a: string, b: string): boolean {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la === lb) return true;
  const covers = (wild: string, other: string): boolean => wild.startsWith("*") && other.endsWith(wild.slice(1));
  return covers(la, lb) || covers(lb, la);
}

/** Whether host `a` is equal to or more specific than pattern `b` (`a` ⊆ `b`). */
export function hostSubsetOf(a: string, b: string): boolean {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la === lb || lb === "*") return true;
  if (!lb.startsWith("*")) return false;
  const suffix = lb.slice(1);
  if (la.startsWith("*")) return la.slice(1).endsWith(suffix);
  return la.endsWith(suffix);
}

/** Kubernetes label map: keys are qualified names, values label values. Values must be strings. */
export function validateLabelMap(value: unknown, issues: Issues): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) {
    issues.error(`expected a map of strings, got ${describe(value)}`);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const at = issues.at(k);
    const ke = qualifiedNameError(k);
    if (ke) at.error(`invalid label key ${ke}`);
    if (typeof v !== "string") {
      at.error(`label value must be a string, got ${describe(v)} (quote it in YAML)`);
      continue;
    }
    const ve = labelValueError(v);
    if (ve) at.error(ve);
  }
}

/** Human description of a decoded YAML/JSON value's type. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number") return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  return `${typeof v} ${String(v)}`;
}
