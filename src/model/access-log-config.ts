/**
 * The access-log settings of Istio's MeshConfig: the legacy default (`accessLogFile`,
 * `accessLogEncoding`, `accessLogFormat`), the extension providers a Telemetry names, and the
 * default access-log providers. Istio's built-in providers (`envoy`: a file log to /dev/stdout,
 * `prometheus`, `stackdriver`) are always there; a user provider of the same name replaces one.
 */

export type AccessLogEncoding = "TEXT" | "JSON";
export const ACCESS_LOG_ENCODINGS: readonly AccessLogEncoding[] = ["TEXT", "JSON"];

/** How a file access log formats a line: a text template, or JSON with these keys. */
export type AccessLogFormat = { readonly text: string } | { readonly labels: Readonly<Record<string, string>> };

/** An `envoyFileAccessLog` provider: the only kind of access log meshpilot writes. */
export interface FileLogProvider {
  readonly name: string;
  readonly kind: "envoyFileAccessLog";
  readonly path: string;
  readonly format?: AccessLogFormat;
  readonly omitEmptyValues?: boolean;
}

/** Any other provider, kept by its kind (the one key beside `name`) so that a reference to it can be reported. */
export interface OtherProvider {
  readonly name: string;
  readonly kind: string;
}

export type ExtensionProvider = FileLogProvider | OtherProvider;

export function isFileLogProvider(p: ExtensionProvider): p is FileLogProvider {
  return p.kind === "envoyFileAccessLog";
}

/** Provider kinds Istio turns into access logs; meshpilot writes only the file one and reports the others. */
export const ACCESS_LOG_PROVIDER_KINDS: readonly string[] = ["envoyFileAccessLog", "envoyHttpAls", "envoyTcpAls", "envoyOtelAls"];

export const BUILTIN_PROVIDERS: readonly ExtensionProvider[] = [
  { name: "prometheus", kind: "prometheus" },
  { name: "stackdriver", kind: "stackdriver" },
  { name: "envoy", kind: "envoyFileAccessLog", path: "/dev/stdout" },
];

/** The part of MeshConfig this module parses. */
export interface MeshAccessLogSettings {
  /** Every proxy's access log when no Telemetry decides (empty or unset: none). */
  readonly accessLogFile?: string;
  readonly accessLogEncoding?: AccessLogEncoding;
  /** A text template (TEXT) or a JSON object of keys to templates (JSON); unset: Istio's default. */
  readonly accessLogFormat?: string;
  /** The user's providers; the built-ins are added by `extensionProviders()`. */
  readonly extensionProviders?: readonly ExtensionProvider[];
  readonly defaultProviders?: { readonly accessLogging?: readonly string[] };
}

/** The providers Telemetry can name: the built-ins, with the user's replacing those of the same name. */
export function extensionProviders(settings: MeshAccessLogSettings): readonly ExtensionProvider[] {
  const own = settings.extensionProviders ?? [];
  if (own.length === 0) return BUILTIN_PROVIDERS;
  const byName = new Map(own.map((p) => [p.name, p]));
  const merged = BUILTIN_PROVIDERS.map((b) => byName.get(b.name) ?? b);
  return [...merged, ...own.filter((p) => !BUILTIN_PROVIDERS.some((b) => b.name === p.name))];
}

/** A provider by name; Istio compares provider names case-insensitively. */
export function findProvider(settings: MeshAccessLogSettings, name: string): ExtensionProvider | undefined {
  const lower = name.toLowerCase();
  return extensionProviders(settings).find((p) => p.name.toLowerCase() === lower);
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);

/** The access-log fields of a mesh config document, or why they are wrong. */
export function accessLogSettingsFrom(doc: Rec): { settings: MeshAccessLogSettings } | { error: string } {
  const out: { -readonly [K in keyof MeshAccessLogSettings]: MeshAccessLogSettings[K] } = {};
  const file = doc["accessLogFile"];
  if (file !== undefined && file !== null) {
    if (typeof file !== "string") return { error: "accessLogFile must be a path such as /dev/stdout" };
    if (file !== "") out.accessLogFile = file;
  }
  const enc = doc["accessLogEncoding"];
  if (enc !== undefined && enc !== null) {
    if (enc !== "TEXT" && enc !== "JSON") return { error: `accessLogEncoding must be TEXT or JSON, got ${JSON.stringify(enc)}` };
    out.accessLogEncoding = enc;
  }
  const format = doc["accessLogFormat"];
  if (format !== undefined && format !== null && format !== "") {
    if (typeof format !== "string") return { error: "accessLogFormat must be a string" };
    if (out.accessLogEncoding === "JSON" && !jsonLabels(format))
      return { error: "accessLogFormat must be a JSON object of field names to format strings when accessLogEncoding is JSON" };
    out.accessLogFormat = format;
  }
  const providers = doc["extensionProviders"];
  if (providers !== undefined && providers !== null) {
    if (!Array.isArray(providers)) return { error: "extensionProviders must be a list" };
    const parsed: ExtensionProvider[] = [];
    for (const [i, p] of providers.entries()) {
      const one = providerFrom(p, `extensionProviders[${i}]`);
      if ("error" in one) return one;
      if (parsed.some((q) => q.name === one.provider.name)) return { error: `extensionProviders[${i}].name "${one.provider.name}" is used twice` };
      parsed.push(one.provider);
    }
    if (parsed.length) out.extensionProviders = parsed;
  }
  const defaults = doc["defaultProviders"];
  if (defaults !== undefined && defaults !== null) {
    const d = rec(defaults);
    if (!d) return { error: "defaultProviders must be a mapping" };
    const al = d["accessLogging"];
    if (al !== undefined && al !== null) {
      if (!Array.isArray(al) || !al.every((n) => typeof n === "string" && n !== ""))
        return { error: "defaultProviders.accessLogging must be a list of provider names" };
      if (al.length) out.defaultProviders = { accessLogging: al as string[] };
    }
  }
  return { settings: out };
}

function providerFrom(raw: unknown, at: string): { provider: ExtensionProvider } | { error: string } {
  const p = rec(raw);
  if (!p) return { error: `${at} must be a mapping with a name and one provider` };
  const name = p["name"];
  if (typeof name !== "string" || name === "") return { error: `${at}.name must be a non-empty string` };
  const kinds = Object.keys(p).filter((k) => k !== "name");
  if (kinds.length !== 1) return { error: `${at} (${name}) must set exactly one provider, got ${kinds.length ? kinds.join(", ") : "none"}` };
  const kind = kinds[0]!;
  if (kind !== "envoyFileAccessLog") return { provider: { name, kind } };
  const body = rec(p[kind]) ?? {};
  const path = body["path"];
  if (path !== undefined && typeof path !== "string") return { error: `${at}.envoyFileAccessLog.path must be a string` };
  const omit = body["omitEmptyValues"];
  if (omit !== undefined && typeof omit !== "boolean") return { error: `${at}.envoyFileAccessLog.omitEmptyValues must be true or false` };
  const lf = body["logFormat"];
  let format: AccessLogFormat | undefined;
  if (lf !== undefined && lf !== null) {
    const f = rec(lf);
    if (!f) return { error: `${at}.envoyFileAccessLog.logFormat must be a mapping with text or labels` };
    if (f["text"] !== undefined && f["labels"] !== undefined) return { error: `${at}.envoyFileAccessLog.logFormat: only one of text, labels may be set` };
    if (f["text"] !== undefined) {
      if (typeof f["text"] !== "string") return { error: `${at}.envoyFileAccessLog.logFormat.text must be a string` };
      format = { text: f["text"] };
    } else if (f["labels"] !== undefined) {
      const labels = rec(f["labels"]);
      if (!labels || !Object.values(labels).every((v) => typeof v === "string"))
        return { error: `${at}.envoyFileAccessLog.logFormat.labels must map field names to format strings` };
      format = { labels: labels as Record<string, string> };
    }
  }
  return {
    provider: {
      name,
      kind: "envoyFileAccessLog",
      // Istio's default for an unset path.
      path: typeof path === "string" && path !== "" ? path : "/dev/stdout",
      ...(format ? { format } : {}),
      ...(omit === true ? { omitEmptyValues: true } : {}),
    },
  };
}

/** `accessLogFormat` under JSON encoding: an object of field names to format strings. */
export function jsonLabels(text: string): Record<string, string> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    const r = rec(v);
    return r && Object.values(r).every((x) => typeof x === "string") ? (r as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}
