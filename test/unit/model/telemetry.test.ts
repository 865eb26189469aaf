/** Telemetry access logging: Istio's precedence and per-mode merge, the mesh config fallback, and bad input. */
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import type { TelemetryObject } from "../../../src/api/istio-resource.js";
import type { StoredObject } from "../../../src/api/objects.js";
import { parseObject } from "../../../src/api/parse.js";
import { meshConfigFrom, type MeshConfig } from "../../../src/model/mesh-config.js";
import { accessLogSinks, buildTelemetries } from "../../../src/model/telemetry.js";

let n = 0;
function telemetry(namespace: string, spec: Record<string, unknown>, name = `t${++n}`, created = `2026-01-01T00:00:${String(n).padStart(2, "0")}Z`) {
  const r = parseObject({
    value: { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry", metadata: { name, namespace, creationTimestamp: created }, spec },
  });
  if (r.status !== "valid") throw new Error(r.diagnostics.map(formatDiagnostic).join("; "));
  return r.stored as StoredObject<TelemetryObject>;
}

function mesh(doc: unknown): MeshConfig {
  const r = meshConfigFrom(doc);
  if ("error" in r) throw new Error(r.error);
  return r.config;
}

const PROVIDER_DOC = {
  extensionProviders: [
    { name: "shop-log", envoyFileAccessLog: { path: "/var/log/shop", logFormat: { text: "%RESPONSE_CODE%" } } },
    { name: "json-log", envoyFileAccessLog: { path: "/var/log/json", logFormat: { labels: { code: "%RESPONSE_CODE%" } } } },
    { name: "otel", envoyOtelAls: { service: "otel.observability", port: 4317 } },
  ],
};
const PROVIDERS = mesh(PROVIDER_DOC);
const web = { app: "web" };
/** The paths a proxy writes to, on one side. */
const paths = (config: MeshConfig, objects: StoredObject<TelemetryObject>[], ns: string, labels: Record<string, string>, mode: "CLIENT" | "SERVER") =>
  accessLogSinks(buildTelemetries(objects, config).telemetries, config, ns, labels, mode).map((s) => s.path);

describe("Telemetry access-logging precedence", () => {
  it("writes nothing without Telemetry or accessLogFile, and the accessLogFile with none", () => {
    expect(paths(mesh({}), [], "shop", web, "CLIENT")).toEqual([]);
    const sinks = accessLogSinks(undefined, mesh({ accessLogFile: "/dev/stdout" }), "shop", web, "SERVER");
    expect(sinks).toEqual([{ path: "/dev/stdout", encoding: "TEXT" }]);
  });

  it("takes the narrowest scope that names providers: workload over namespace over mesh", () => {
    const root = telemetry("istio-system", { accessLogging: [{ providers: [{ name: "envoy" }] }] });
    const ns = telemetry("shop", { accessLogging: [{ providers: [{ name: "shop-log" }] }] });
    const wl = telemetry("shop", { selector: { matchLabels: web }, accessLogging: [{ providers: [{ name: "json-log" }] }] });
    const all = [root, ns, wl];
    expect(paths(PROVIDERS, all, "shop", web, "CLIENT")).toEqual(["/var/log/json"]);
    expect(paths(PROVIDERS, all, "shop", { app: "db" }, "CLIENT")).toEqual(["/var/log/shop"]);
    expect(paths(PROVIDERS, all, "other", web, "SERVER")).toEqual(["/dev/stdout"]);
    // A workload selector only reaches its own namespace.
    expect(paths(PROVIDERS, [root, wl], "other", web, "CLIENT")).toEqual(["/dev/stdout"]);
  });

  it("lets a level without providers inherit them, and `disabled` turn them off (over accessLogFile too)", () => {
    const config = { ...PROVIDERS, accessLogFile: "/dev/stderr" };
    const root = telemetry("istio-system", { accessLogging: [{ providers: [{ name: "shop-log" }] }] });
    const off = telemetry("shop", { selector: { matchLabels: web }, accessLogging: [{ disabled: true }] });
    expect(paths(config, [root, off], "shop", web, "CLIENT")).toEqual([]);
    expect(paths(config, [root, off], "shop", web, "SERVER")).toEqual([]);
    expect(paths(config, [root, off], "shop", { app: "db" }, "CLIENT")).toEqual(["/var/log/shop"]);
  });

  it("merges per mode: a CLIENT-only rule leaves the SERVER side as the levels above say", () => {
    const root = telemetry("istio-system", { accessLogging: [{ providers: [{ name: "envoy" }] }] });
    const quiet = telemetry("shop", { accessLogging: [{ match: { mode: "CLIENT" }, disabled: true }] });
    expect(paths(PROVIDERS, [root, quiet], "shop", web, "CLIENT")).toEqual([]);
    expect(paths(PROVIDERS, [root, quiet], "shop", web, "SERVER")).toEqual(["/dev/stdout"]);
  });

  it("falls back to accessLogFile on a side no Telemetry rule names providers for, as Istio does", () => {
    const config = { ...PROVIDERS, accessLogFile: "/dev/stderr" };
    const serverOnly = telemetry("shop", { accessLogging: [{ match: { mode: "SERVER" }, providers: [{ name: "shop-log" }] }] });
    expect(paths(config, [serverOnly], "shop", web, "SERVER")).toEqual(["/var/log/shop"]);
    expect(paths(config, [serverOnly], "shop", web, "CLIENT")).toEqual(["/dev/stderr"]);
  });

  it("gives a filter to the providers of its own entry, and sorts several providers by name", () => {
    const t = telemetry("shop", {
      accessLogging: [{ providers: [{ name: "shop-log" }, { name: "envoy" }], filter: { expression: "response.code >= 400" } }],
    });
    const sinks = accessLogSinks(buildTelemetries([t], PROVIDERS).telemetries, PROVIDERS, "shop", web, "CLIENT");
    expect(sinks.map((s) => [s.path, s.filter])).toEqual([
      ["/dev/stdout", "response.code >= 400"],
      ["/var/log/shop", "response.code >= 400"],
    ]);
  });

  it("writes the built-in envoy provider in the mesh config's encoding and format, a provider in its own", () => {
    const config = mesh({ ...PROVIDER_DOC, accessLogEncoding: "JSON", accessLogFormat: '{"code":"%RESPONSE_CODE%"}' });
    const t = telemetry("shop", { accessLogging: [{ providers: [{ name: "envoy" }, { name: "shop-log" }] }] });
    const sinks = accessLogSinks(buildTelemetries([t], config).telemetries, config, "shop", web, "CLIENT");
    expect(sinks).toEqual([
      { path: "/dev/stdout", encoding: "JSON", format: { labels: { code: "%RESPONSE_CODE%" } } },
      { path: "/var/log/shop", encoding: "TEXT", format: { text: "%RESPONSE_CODE%" } },
    ]);
  });

  it("uses defaultProviders.accessLogging when no Telemetry applies", () => {
    const config = mesh({ defaultProviders: { accessLogging: ["envoy"] } });
    expect(paths(config, [], "shop", web, "CLIENT")).toEqual(["/dev/stdout"]);
    const off = telemetry("shop", { accessLogging: [{ disabled: true }] });
    expect(paths(config, [off], "shop", web, "CLIENT")).toEqual([]);
  });

  it("keeps the oldest namespace-wide Telemetry and reports the other", () => {
    const older = telemetry("shop", { accessLogging: [{ providers: [{ name: "envoy" }] }] }, "older", "2026-01-01T00:00:00Z");
    const newer = telemetry("shop", { accessLogging: [{ disabled: true }] }, "newer", "2026-02-01T00:00:00Z");
    const { telemetries, diagnostics } = buildTelemetries([newer, older], PROVIDERS);
    expect(accessLogSinks(telemetries, PROVIDERS, "shop", web, "CLIENT").map((s) => s.path)).toEqual(["/dev/stdout"]);
    expect(diagnostics.map((d) => [d.code, d.object?.name, d.message])).toEqual([
      ["MP1102", "newer", "namespace shop already has a namespace-wide Telemetry (older, older); this one is ignored, as in Istio"],
    ]);
  });
});

describe("Telemetry findings and bad input", () => {
  it("names the object and field of a provider the mesh config does not define, and writes nothing for it", () => {
    const config = { ...PROVIDERS, accessLogFile: "/dev/stderr" };
    const t = telemetry("shop", { accessLogging: [{ providers: [{ name: "envoy" }, { name: "nope" }] }] }, "logs");
    const { telemetries, diagnostics } = buildTelemetries([t], config);
    expect(diagnostics).toEqual([
      {
        severity: "warning",
        code: "MP1101",
        message:
          'no extension provider "nope" in the mesh config (known: envoy, json-log, otel, prometheus, shop-log, stackdriver); no access log is written for it',
        object: { kind: "Telemetry", namespace: "shop", name: "logs" },
        path: "spec.accessLogging[0].providers[1].name",
      },
    ]);
    expect(accessLogSinks(telemetries, config, "shop", web, "CLIENT").map((s) => s.path)).toEqual(["/dev/stdout"]);
    // Only unknown providers: nothing Istio can build, so the mesh config decides.
    const only = telemetry("shop", { accessLogging: [{ providers: [{ name: "nope" }] }] });
    expect(paths(config, [only], "shop", web, "CLIENT")).toEqual(["/dev/stderr"]);
  });

  it("reports providers that write no access log here, tracing, metrics and targetRefs per field", () => {
    const t = telemetry(
      "shop",
      {
        targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }],
        tracing: [{ randomSamplingPercentage: 5 }],
        metrics: [{ providers: [{ name: "prometheus" }] }],
        accessLogging: [{ providers: [{ name: "otel" }, { name: "prometheus" }] }, { filter: { expression: "true" } }],
      },
      "everything",
    );
    const { telemetries, diagnostics } = buildTelemetries([t], PROVIDERS);
    expect(diagnostics.map((d) => `${d.code} ${d.path}: ${d.message}`)).toEqual([
      "MP0010 spec.tracing: not translated yet: tracing is not configured on any proxy: no spans are reported",
      "MP0010 spec.metrics: not translated yet: metrics settings are not applied: proxies keep Envoy's own statistics, without Istio's metrics",
      "MP0010 spec.targetRefs: not translated yet: attachment by targetRefs: this Telemetry applies to no proxy; use selector",
      'MP1101 spec.accessLogging[0].providers[0].name: provider "otel" is an envoyOtelAls provider, which meshpilot does not support: no access log is written for it; use an envoyFileAccessLog provider',
      'MP1101 spec.accessLogging[0].providers[1].name: provider "prometheus" is a prometheus provider, which writes no access log',
      "MP1102 spec.accessLogging[1].filter: this filter applies to no provider: Istio attaches a filter only to the providers named in the same entry; name them here",
    ]);
    // Attached by targetRefs only: it applies to no proxy.
    expect(telemetries.byNamespace.size).toBe(0);
  });

  it("refuses a Telemetry with a broken access-logging entry, naming the field", () => {
    const bad = (spec: unknown) => {
      const r = parseObject({ value: { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry", metadata: { name: "bad", namespace: "shop" }, spec } });
      expect(r.status).toBe("invalid");
      return r.diagnostics.map(formatDiagnostic);
    };
    expect(bad({ accessLogging: [{ providers: [{ name: "" }] }] })).toEqual([
      "error IST0106 Telemetry shop/bad spec.accessLogging[0].providers[0].name: a provider needs a name",
    ]);
    expect(bad({ accessLogging: [{ filter: {} }] })).toEqual([
      "error IST0106 Telemetry shop/bad spec.accessLogging[0].filter.expression: a filter needs an expression (CEL), such as response.code >= 400",
    ]);
    expect(bad({ accessLogging: [{ match: { mode: "BOTH" } }] })[0]).toMatch(
      /spec.accessLogging\[0\].match.mode: expected one of CLIENT_AND_SERVER, CLIENT, SERVER/,
    );
    expect(bad({ accessLogging: [{ disabled: "yes" }] })[0]).toMatch(/spec.accessLogging\[0\].disabled: expected true or false/);
    expect(bad({ selector: { matchLabels: web }, targetRef: { kind: "Gateway", name: "gw" } })[0]).toMatch(/only one of selector or targetRef/);
  });

  it("refuses mesh config access-log settings Istio would refuse", () => {
    const err = (doc: unknown) => {
      const r = meshConfigFrom(doc);
      return "error" in r ? r.error : undefined;
    };
    expect(err({ accessLogEncoding: "XML" })).toBe('accessLogEncoding must be TEXT or JSON, got "XML"');
    expect(err({ accessLogEncoding: "JSON", accessLogFormat: "%RESPONSE_CODE%" })).toMatch(/must be a JSON object/);
    expect(err({ extensionProviders: [{ name: "x", envoyFileAccessLog: {}, zipkin: {} }] })).toBe(
      "extensionProviders[0] (x) must set exactly one provider, got envoyFileAccessLog, zipkin",
    );
    expect(err({ extensionProviders: [{ name: "x", envoyFileAccessLog: { logFormat: { text: "a", labels: {} } } }] })).toMatch(/only one of text, labels/);
    expect(err({ defaultProviders: { accessLogging: "envoy" } })).toBe("defaultProviders.accessLogging must be a list of provider names");
  });
});
