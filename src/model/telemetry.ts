/**
 * Telemetry access logging as Istio 1.30 composes it for a proxy: the mesh-wide Telemetry (root
 * namespace, no selector), the namespace's (no selector), then the first workload Telemetry whose
 * selector the proxy's labels match; within one namespace the oldest wins. Their `accessLogging`
 * entries are merged per mode (CLIENT: outbound and gateway listeners, SERVER: inbound): a level
 * that names providers replaces the providers above it, one that names none inherits them,
 * `disabled` turns the providers it names (or inherits) off, and a `filter` belongs to the
 * providers named in its own entry. When no Telemetry logging applies, MeshConfig decides
 * (`defaultProviders.accessLogging`, else the legacy `accessLogFile`).
 *
 * Only `envoyFileAccessLog` providers write logs here; tracing, metrics and targetRefs are
 * reported per field as not translated.
 */
import { notTranslatedYet as notYet, type Diagnostic, type ObjectRef } from "../api/diagnostics.js";
import type { TelemetryObject } from "../api/istio-resource.js";
import type { StoredObject } from "../api/objects.js";
import {
  ACCESS_LOG_PROVIDER_KINDS,
  extensionProviders,
  findProvider,
  isFileLogProvider,
  jsonLabels,
  type AccessLogEncoding,
  type AccessLogFormat,
  type MeshAccessLogSettings,
} from "./access-log-config.js";
import { indexByNamespace, type NamespacedPolicy } from "./namespace-policies.js";
import { selects } from "./named-ports.js";
import { DEFAULT_ROOT_NAMESPACE } from "./sidecar-scope.js";

export type WorkloadMode = "CLIENT" | "SERVER";

/** One `spec.accessLogging` entry. */
export interface AccessLoggingRule {
  readonly providers: readonly string[];
  /** Unset: both modes. */
  readonly mode?: WorkloadMode;
  readonly disabled?: boolean;
  /** A CEL expression (Envoy's CEL access-log filter). */
  readonly filter?: string;
}

export interface TelemetryModel extends NamespacedPolicy {
  readonly accessLogging: readonly AccessLoggingRule[];
}

export interface Telemetries {
  readonly rootNamespace: string;
  /** Telemetries that can apply to a proxy, by namespace, oldest first. */
  readonly byNamespace: ReadonlyMap<string, readonly TelemetryModel[]>;
}

/** Where and how one access log is written for a proxy. */
export interface AccessLogSink {
  readonly path: string;
  /** The user's format; undefined: Istio's default for `encoding`. */
  readonly format?: AccessLogFormat;
  readonly encoding: AccessLogEncoding;
  readonly omitEmptyValues?: true;
  /** A CEL expression: only requests and connections for which it is true are logged. */
  readonly filter?: string;
}

export const TelemetryCodes = {
  /** A Telemetry names a provider the mesh config does not define, or one that writes no access log here. */
  UnknownProvider: "MP1101",
  /** A Telemetry (or part of one) Istio ignores: a second namespace-wide one, a filter that names no provider. */
  Ignored: "MP1102",
} as const;

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function buildTelemetries(
  stored: readonly StoredObject<TelemetryObject>[],
  settings: MeshAccessLogSettings & { readonly rootNamespace?: string },
): { telemetries: Telemetries; diagnostics: Diagnostic[] } {
  const rootNamespace = settings.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const diagnostics: Diagnostic[] = [];
  const all: TelemetryModel[] = [];
  for (const { object } of stored) {
    const namespace = object.metadata.namespace ?? "default";
    const ref: ObjectRef = { kind: "Telemetry", namespace, name: object.metadata.name };
    const spec = object.spec;
    diagnostics.push(...untranslatedParts(spec, ref));
    const accessLogging = arr(spec["accessLogging"]).map((raw, i) => ruleOf(rec(raw) ?? {}, `spec.accessLogging[${i}]`, ref, settings, diagnostics));
    // Bound to gateways by reference only: that attachment is not translated, so it applies to nothing.
    if (spec["targetRef"] !== undefined || arr(spec["targetRefs"]).length > 0) continue;
    const labels = rec(rec(spec["selector"])?.["matchLabels"]) as Record<string, string> | undefined;
    all.push({
      name: object.metadata.name,
      namespace,
      creationTimestamp: object.metadata.creationTimestamp ?? "",
      ref,
      ...(labels && Object.keys(labels).length ? { selector: labels } : {}),
      accessLogging,
    });
  }
  const indexed = indexByNamespace(all, rootNamespace, TelemetryCodes.Ignored);
  diagnostics.push(...indexed.diagnostics);
  const byNamespace = indexed.byNamespace;
  return { telemetries: { rootNamespace, byNamespace }, diagnostics };
}

function ruleOf(raw: Rec, at: string, ref: ObjectRef, settings: MeshAccessLogSettings, diagnostics: Diagnostic[]): AccessLoggingRule {
  const providers: string[] = [];
  arr(raw["providers"]).forEach((p, j) => {
    const name = rec(p)?.["name"];
    if (typeof name !== "string") return;
    providers.push(name);
    const problem = providerProblem(settings, name);
    if (problem)
      diagnostics.push({ severity: "warning", code: TelemetryCodes.UnknownProvider, message: problem, object: ref, path: `${at}.providers[${j}].name` });
  });
  const mode = rec(raw["match"])?.["mode"];
  const filter = rec(raw["filter"])?.["expression"];
  const hasFilter = typeof filter === "string" && filter !== "";
  if (hasFilter && providers.length === 0)
    diagnostics.push({
      severity: "warning",
      code: TelemetryCodes.Ignored,
      message: "this filter applies to no provider: Istio attaches a filter only to the providers named in the same entry; name them here",
      object: ref,
      path: `${at}.filter`,
    });
  return {
    providers,
    ...(mode === "CLIENT" || mode === "SERVER" ? { mode } : {}),
    ...(raw["disabled"] === true ? { disabled: true } : {}),
    ...(hasFilter ? { filter } : {}),
  };
}

/** Why naming `name` writes no access log, if it does not. */
function providerProblem(settings: MeshAccessLogSettings, name: string): string | undefined {
  const p = findProvider(settings, name);
  if (!p) {
    const known = extensionProviders(settings)
      .map((q) => q.name)
      .sort()
      .join(", ");
    return `no extension provider "${name}" in the mesh config (known: ${known}); no access log is written for it`;
  }
  if (isFileLogProvider(p)) return undefined;
  if (ACCESS_LOG_PROVIDER_KINDS.includes(p.kind))
    return `provider "${p.name}" is an ${p.kind} provider, which meshpilot does not support: no access log is written for it; use an envoyFileAccessLog provider`;
  return `provider "${p.name}" is a ${p.kind} provider, which writes no access log`;
}

function untranslatedParts(spec: Readonly<Rec>, ref: ObjectRef): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (arr(spec["tracing"]).length) out.push(notYet(ref, "spec.tracing", "tracing is not configured on any proxy: no spans are reported"));
  if (arr(spec["metrics"]).length)
    out.push(notYet(ref, "spec.metrics", "metrics settings are not applied: proxies keep Envoy's own statistics, without Istio's metrics"));
  if (spec["targetRef"] !== undefined) out.push(notYet(ref, "spec.targetRef", "attachment by targetRef: this Telemetry applies to no proxy; use selector"));
  if (arr(spec["targetRefs"]).length) out.push(notYet(ref, "spec.targetRefs", "attachment by targetRefs: this Telemetry applies to no proxy; use selector"));
  return out;
}

/** The Telemetries that apply to a proxy, in order of precedence (the last wins). */
export function applicableTelemetries(t: Telemetries | undefined, namespace: string, labels: Readonly<Record<string, string>>): TelemetryModel[] {
  if (!t) return [];
  const wideOf = (ns: string) => t.byNamespace.get(ns)?.find((x) => !x.selector);
  const out: TelemetryModel[] = [];
  const mesh = wideOf(t.rootNamespace);
  if (mesh) out.push(mesh);
  if (namespace !== t.rootNamespace) {
    const ns = wideOf(namespace);
    if (ns) out.push(ns);
  }
  const workload = t.byNamespace.get(namespace)?.find((x) => x.selector && selects(x.selector, labels));
  if (workload) out.push(workload);
  return out;
}

interface Merged {
  readonly disabled?: boolean;
  readonly filter?: string;
}

/**
 * Istio's merge of the applicable access-logging levels for one mode: provider name → its filter,
 * or disabled. Undefined when no Telemetry logging (nor a default provider) applies.
 */
function mergeLogging(levels: readonly (readonly AccessLoggingRule[])[], defaults: readonly string[], mode: WorkloadMode): Map<string, Merged> {
  const out = new Map<string, Merged>();
  if (levels.length === 0) {
    for (const d of defaults) out.set(d, {});
    return out;
  }
  const matches = (r: AccessLoggingRule) => r.mode === undefined || r.mode === mode;
  let inScope: readonly string[] = defaults;
  const filters = new Map<string, Merged>();
  for (const rules of levels) {
    const names = new Set<string>();
    for (const r of rules.filter(matches)) {
      for (const p of r.providers) {
        names.add(p);
        filters.set(p, r.filter !== undefined ? { filter: r.filter } : {});
      }
    }
    if (names.size) inScope = [...names];
  }
  let parent: readonly string[] = defaults;
  for (const rules of levels) {
    for (const r of rules) {
      const names = r.providers.length ? r.providers : parent;
      parent = names;
      if (!matches(r)) continue;
      for (const p of names) {
        if (!inScope.includes(p)) continue;
        out.set(p, r.disabled ? { disabled: true } : (filters.get(p) ?? {}));
      }
    }
  }
  return out;
}

/**
 * The access logs of a proxy in `namespace` with `labels` on its `mode` side, sorted by provider
 * name: from Telemetry when any of its logging applies (an empty list: logging is off), else the
 * mesh config's `accessLogFile`.
 */
export function accessLogSinks(
  telemetries: Telemetries | undefined,
  settings: MeshAccessLogSettings,
  namespace: string,
  labels: Readonly<Record<string, string>>,
  mode: WorkloadMode,
): AccessLogSink[] {
  const levels = applicableTelemetries(telemetries, namespace, labels)
    .map((t) => t.accessLogging)
    .filter((l) => l.length > 0);
  const defaults = settings.defaultProviders?.accessLogging ?? [];
  if (levels.length === 0 && defaults.length === 0) return meshFileSink(settings);
  const merged = mergeLogging(levels, defaults, mode);
  const sinks: { name: string; sink?: AccessLogSink }[] = [];
  for (const [name, m] of merged) {
    const p = findProvider(settings, name);
    if (!p || !isFileLogProvider(p)) continue;
    if (m.disabled) {
      sinks.push({ name: p.name });
      continue;
    }
    // The built-in provider without a format of its own writes in the mesh config's format.
    const meshFormat = p.name === "envoy" && !p.format && !p.omitEmptyValues;
    const base = meshFormat ? meshFormatOf(settings, p.path) : providerSink(p.path, p.format, p.omitEmptyValues);
    sinks.push({ name: p.name, sink: { ...base, ...(m.filter !== undefined ? { filter: m.filter } : {}) } });
  }
  // Nothing Istio could build (only unknown or non-file providers): the mesh config decides, as in Istio.
  if (sinks.length === 0) return meshFileSink(settings);
  return sinks.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).flatMap((s) => (s.sink ? [s.sink] : []));
}

function meshFileSink(settings: MeshAccessLogSettings): AccessLogSink[] {
  return settings.accessLogFile ? [meshFormatOf(settings, settings.accessLogFile)] : [];
}

function meshFormatOf(settings: MeshAccessLogSettings, path: string): AccessLogSink {
  const encoding = settings.accessLogEncoding ?? "TEXT";
  const text = settings.accessLogFormat;
  if (text === undefined) return { path, encoding };
  if (encoding === "TEXT") return { path, encoding, format: { text } };
  const labels = jsonLabels(text);
  return labels ? { path, encoding, format: { labels } } : { path, encoding };
}

function providerSink(path: string, format: AccessLogFormat | undefined, omitEmptyValues: boolean | undefined): AccessLogSink {
  const omit = omitEmptyValues ? { omitEmptyValues: true as const } : {};
  if (!format) return { path, encoding: "TEXT", ...omit };
  if ("text" in format) return { path, encoding: "TEXT", ...(format.text ? { format } : {}), ...omit };
  // Labels without any key: Istio's default JSON.
  return { path, encoding: "JSON", ...(Object.keys(format.labels).length ? { format } : {}), ...omit };
}
