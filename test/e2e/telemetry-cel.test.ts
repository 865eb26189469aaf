// A Telemetry's access-log filter is CEL that Envoy parses when it loads the listener: one that
// does not parse makes Envoy refuse the whole listener. meshpilot refuses such a Telemetry at
// validation instead (as Istio's webhook does), so its verdict on an expression must be Envoy's.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseObject } from "../../src/api/parse.js";
import { validateStaticConfig } from "../support/envoy.js";

const CASE = fileURLToPath(new URL("../golden/access-log-filter/", import.meta.url));
const GOLDEN_EXPRESSION = "response.code >= 400";

const EXPRESSIONS = [
  GOLDEN_EXPRESSION,
  "request.headers['user-agent'].startsWith('curl') && !(response.code in [200, 204])",
  "has(request.headers.x) || connection.mtls",
  "xds.cluster_name == 'outbound|9080||reviews.default.svc.cluster.local'",
  "request.url_path.matches('^/api/v[0-9]+') ? response.code >= 500 : false",
  "size(request.path) > 3 && request.method in ['GET', 'HEAD']",
  "[1, 2].exists(x, x > 1) && size(request.path) > 3",
  "request.headers.all(k, k != 'x')",
  "exists(request.path)",
  "request.path.fooBar()",
  "int(response.code) > 1 && double(response.code) > 1.0 && uint(1) == 1u && bool(true)",
  "string(response.code) == '200'",
  "request.path.lowerAscii() == '/x'",
  "request.time.getHours() >= 0 && duration('1s') < duration('2s') && request.time > timestamp('2020-01-01T00:00:00Z')",
  "request.path.endsWith('/x') || request.path.contains('x') || type(response.code) == int || dyn(response.code) > 1",
  "bytes('a') == b'a' && request.time.getDayOfWeek() >= 0 && request.time.getMinutes() >= 0",
  "response.flags != 0u",
  "response.code >=",
  "response.code >= 400 &&& connection.mtls",
  "matches(",
  "request.headers['x'] == 'unterminated",
  "1 +",
];

function telemetry(expression: string): unknown {
  return {
    apiVersion: "telemetry.istio.io/v1",
    kind: "Telemetry",
    metadata: { name: "errors", namespace: "default" },
    spec: { accessLogging: [{ providers: [{ name: "envoy" }], filter: { expression } }] },
  };
}

const read = (f: string): object[] => JSON.parse(readFileSync(`${CASE}${f}`, "utf8")) as object[];

describe("Telemetry filter expressions: meshpilot's verdict is Envoy's", () => {
  it.each(EXPRESSIONS)("%s", async (expression) => {
    const ours = parseObject({ value: telemetry(expression) });
    const listeners = read("listeners.json");
    const text = JSON.stringify(listeners);
    expect(text).toContain(JSON.stringify(GOLDEN_EXPRESSION));
    const swapped = JSON.parse(text.split(JSON.stringify(GOLDEN_EXPRESSION)).join(JSON.stringify(expression))) as object[];
    const envoy = await validateStaticConfig({
      clusters: read("clusters.json"),
      listeners: swapped,
      routes: read("routes.json"),
      endpoints: read("endpoints.json"),
    });
    expect(ours.status, `meshpilot: ${JSON.stringify(ours.diagnostics)}; Envoy: ${envoy.output.slice(0, 500)}`).toBe(envoy.ok ? "valid" : "invalid");
    if (!envoy.ok) {
      expect(envoy.output).toMatch(/CEL|expression|parse|comprehension/i);
      const d = ours.diagnostics.find((x) => x.severity === "error");
      expect(d?.path).toBe("spec.accessLogging[0].filter.expression");
      expect(d?.message).toMatch(/^not a valid CEL expression: \S/);
    }
  });
});
