import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

type Spec = Record<string, unknown>;
const vs = (spec: Spec, meta: Spec = {}) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "vs", namespace: "ns", ...meta },
  spec,
});
const dr = (spec: Spec) => ({ apiVersion: "networking.istio.io/v1beta1", kind: "DestinationRule", metadata: { name: "dr", namespace: "ns" }, spec });
const route = (extra: Spec = {}) => ({ route: [{ destination: { host: "reviews" } }], ...extra });
const http = (...rules: Spec[]) => vs({ hosts: ["reviews"], http: rules });

function findings(value: unknown, severity = "error"): string[] {
  return parseObject({ value })
    .diagnostics.filter((d) => d.severity === severity)
    .map((d) => `${d.path}: ${d.message}`);
}

describe("VirtualService validation", () => {
  it("accepts a realistic VirtualService", () => {
    const v = vs({
      hosts: ["reviews", "reviews.other.svc.cluster.local"],
      gateways: ["mesh", "istio-system/ingress"],
      http: [
        {
          name: "testers",
          match: [
            { headers: { "x-test-user": { exact: "true" }, cookie: { regex: "^(.*?;)?(user=jason)(;.*)?$" } }, uri: { prefix: "/" }, ignoreUriCase: true },
            {
              queryParams: { debug: {} },
              withoutHeaders: { "x-skip": { regex: "*" } },
              method: { exact: "GET" },
              port: 9080,
              sourceLabels: { app: "productpage" },
            },
          ],
          route: [{ destination: { host: "reviews", subset: "v2", port: { number: 9080 } }, headers: { request: { set: { "x-canary": "yes" } } } }],
          timeout: "1.5s",
          retries: { attempts: 3, perTryTimeout: "500ms", retryOn: "5xx,connect-failure,503" },
          fault: { delay: { fixedDelay: "7s", percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 0.5 } } },
          mirror: { host: "reviews", subset: "v3" },
          mirrorPercentage: { value: 5 },
          corsPolicy: { allowOrigins: [{ exact: "https://example.com" }], allowMethods: ["GET", "POST"], maxAge: "24h", allowCredentials: true },
          headers: { response: { remove: ["x-internal"] }, request: { add: { "x-req": "%REQ(x-id)%" } } },
        },
        { redirect: { uri: "/v2", redirectCode: 308 }, match: [{ uri: { exact: "/old" } }] },
        { directResponse: { status: 404, body: { string: "nope" } }, match: [{ uri: { prefix: "/gone" } }] },
        {
          rewrite: { uri: "/" },
          route: [
            { destination: { host: "reviews", subset: "v1" }, weight: 75 },
            { destination: { host: "reviews", subset: "v2" }, weight: 30 },
          ],
        },
      ],
      tcp: [{ match: [{ port: 27017, destinationSubnets: ["10.0.0.0/8"] }], route: [{ destination: { host: "mongo", port: { number: 27017 } } }] }],
      tls: [{ match: [{ sniHosts: ["reviews"], port: 443 }], route: [{ destination: { host: "reviews" } }] }],
      exportTo: [".", "other"],
    });
    expect(findings(v)).toEqual([]);
    expect(parseObject({ value: v }).status).toBe("valid");
  });

  it("weights need not sum to 100 (Istio ≥1.15), but must be ≥ 0 and not all zero", () => {
    expect(
      findings(
        http({
          route: [
            { destination: { host: "a" }, weight: 1 },
            { destination: { host: "b" }, weight: 2 },
          ],
        }),
      ),
    ).toEqual([]);
    expect(findings(http({ route: [{ destination: { host: "a" }, weight: 0 }, { destination: { host: "b" } }] }))).toEqual([
      expect.stringMatching(/^spec\.http\[0\]\.route: total destination weight = 0/),
    ]);
    expect(findings(http({ route: [{ destination: { host: "a" }, weight: 0 }] }))).toEqual([]);
    expect(findings(http({ route: [{ destination: { host: "a" }, weight: 1.5 }] }))).toEqual([
      expect.stringMatching(/^spec\.http\[0\]\.route\[0\]\.weight: expected a 32-bit integer/),
    ]);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ["unknown field", http(route({ timout: "1s" })), "spec.http[0].timout", /unknown field "timout" in Istio HTTPRoute \(did you mean "timeout"\?\)/],
    ["unknown top-level spec field", vs({ hosts: ["a"], http: [route()], host: "x" }), "spec.host", /unknown field "host" in Istio VirtualService/],
    ["unknown top-level field", { ...http(route()), extra: 1 }, "extra", /unknown field "extra" in VirtualService/],
    ["wrong type", vs({ hosts: "reviews", http: [route()] }), "spec.hosts", /expected a list, got string "reviews"/],
    ["no rules", vs({ hosts: ["a"] }), "spec", /http, tcp or tls must be provided/],
    ["bad host", vs({ hosts: ["re_views"], http: [route()] }), "spec.hosts[0]", /label "re_views" invalid/],
    ["* for mesh", vs({ hosts: ["*"], http: [route()] }), "spec.hosts[0]", /wildcard host \* is not allowed for virtual services bound to the mesh gateway/],
    [
      "duplicate hosts",
      vs({ hosts: ["*.foo.com", "a.foo.com"], http: [route()] }),
      "spec.hosts[1]",
      /duplicate hosts in virtual service: \*\.foo\.com & a\.foo\.com/,
    ],
    ["empty host", vs({ hosts: [""], http: [route()] }), "spec.hosts[0]", /empty domain name/],
    ["no action", http({ match: [{ uri: { prefix: "/" } }] }), "spec.http[0]", /HTTP route, redirect, directResponse or delegate is required/],
    ["route and redirect", http(route({ redirect: { uri: "/x" } })), "spec.http[0].route", /cannot contain both route and redirect/],
    ["route and directResponse", http(route({ directResponse: { status: 200 } })), "spec.http[0].route", /cannot contain both route and directResponse/],
    [
      "redirect and directResponse",
      http({ redirect: { uri: "/x" }, directResponse: { status: 200 } }),
      "spec.http[0].directResponse",
      /cannot contain both directResponse and redirect/,
    ],
    ["delegate and route", http(route({ delegate: { name: "d" } })), "spec.http[0].route", /must not specify route \(it has a delegate\)/],
    ["delegate inside delegate", vs({ http: [{ delegate: { name: "d" } }] }), "spec.http[0].delegate", /delegate HTTP route cannot contain delegate/],
    ["delegate vs with gateways", vs({ gateways: ["gw"], http: [route()] }), "spec.gateways", /delegate virtual service \(no hosts\) must have no gateways/],
    [
      "delegate vs with tcp",
      vs({ http: [route()], tcp: [{ route: [{ destination: { host: "a" } }] }] }),
      "spec.tcp",
      /delegate virtual service \(no hosts\) must have no tcp route/,
    ],
    ["delegate name required", http({ delegate: {} }), "spec.http[0].delegate.name", /delegate name is required/],
    ["delegate name", http({ delegate: { name: "Bad_Name" } }), "spec.http[0].delegate.name", /invalid delegate name/],
    ["delegate namespace", http({ delegate: { name: "d", namespace: "Bad.NS" } }), "spec.http[0].delegate.namespace", /invalid delegate namespace/],
    ["perTryTimeout", http(route({ retries: { attempts: 2, perTryTimeout: "0s" } })), "spec.http[0].retries.perTryTimeout", /must be at least 1ms/],
    [
      "two match kinds",
      http(route({ match: [{ uri: { exact: "/a", prefix: "/b" } }] })),
      "spec.http[0].match[0].uri",
      /only one of exact, prefix, regex may be set/,
    ],
    ["bad regex", http(route({ match: [{ uri: { regex: "(?!admin).*" } }] })), "spec.http[0].match[0].uri.regex", /lookahead is not supported by RE2/],
    [
      "empty regex",
      http(route({ match: [{ headers: { a: { regex: "" } } }] })),
      "spec.http[0].match[0].headers.a.regex",
      /regex string match should not be empty/,
    ],
    ["long regex", http(route({ match: [{ uri: { regex: "a".repeat(1025) } }] })), "spec.http[0].match[0].uri.regex", /max length allowed is 1024/],
    ["empty prefix", http(route({ match: [{ method: { prefix: "" } }] })), "spec.http[0].match[0].method.prefix", /prefix string match should not be empty/],
    [
      "bad header name",
      http(route({ match: [{ headers: { "x user": { exact: "a" } } }] })),
      'spec.http[0].match[0].headers["x user"]',
      /not a valid header name/,
    ],
    ["null header match", http(route({ match: [{ headers: { a: null } }] })), "spec.http[0].match[0].headers.a", /map values may not be null/],
    [
      "jwt claim on mesh",
      http(route({ match: [{ headers: { "@request.auth.claims.group": { exact: "a" } } }] })),
      'spec.http[0].match[0].headers["@request.auth.claims.group"]',
      /only supported for gateways/,
    ],
    ["match port", http(route({ match: [{ port: 70000 }] })), "spec.http[0].match[0].port", /port number 70000/],
    ["source namespace", http(route({ match: [{ sourceNamespace: "Bad" }] })), "spec.http[0].match[0].sourceNamespace", /sourceNamespace match Bad is invalid/],
    [
      "destination host required",
      http({ route: [{ destination: { subset: "v1" } }] }),
      "spec.http[0].route[0].destination.host",
      /destination host is required/,
    ],
    ["destination required", http({ route: [{ weight: 10 }] }), "spec.http[0].route[0].destination", /destination is required/],
    ["destination *", http({ route: [{ destination: { host: "*" } }] }), "spec.http[0].route[0].destination.host", /invalid destination host \*/],
    ["subset name", http({ route: [{ destination: { host: "a", subset: "V_1" } }] }), "spec.http[0].route[0].destination.subset", /subset name is invalid/],
    [
      "port number",
      http({ route: [{ destination: { host: "a", port: { number: 0 } } }] }),
      "spec.http[0].route[0].destination.port.number",
      /port number 0 must be in the range 1\.\.65535/,
    ],
    ["timeout", http(route({ timeout: "0s" })), "spec.http[0].timeout", /must be at least 1ms/],
    ["timeout syntax", http(route({ timeout: 10 })), "spec.http[0].timeout", /expected a duration string/],
    ["retries attempts 0", http(route({ retries: { retryOn: "5xx" } })), "spec.http[0].retries", /attempts are set to 0/],
    ["retries negative", http(route({ retries: { attempts: -1 } })), "spec.http[0].retries.attempts", /attempts cannot be negative/],
    [
      "retryOn",
      http(route({ retries: { attempts: 2, retryOn: "5xx,sometimes" } })),
      "spec.http[0].retries.retryOn",
      /"sometimes" is not a valid retryOn policy/,
    ],
    ["fault empty", http(route({ fault: {} })), "spec.http[0].fault", /must have an abort and\/or a delay/],
    ["abort status", http(route({ fault: { abort: { httpStatus: 700 } } })), "spec.http[0].fault.abort.httpStatus", /HTTP status 700 is not in range/],
    ["abort grpc", http(route({ fault: { abort: { grpcStatus: "NOPE" } } })), "spec.http[0].fault.abort.grpcStatus", /gRPC status "NOPE" is not supported/],
    [
      "fault percentage",
      http(route({ fault: { delay: { fixedDelay: "1s", percentage: { value: 101 } } } })),
      "spec.http[0].fault.delay.percentage.value",
      /percentage 101 is neither/,
    ],
    ["exponential delay", http(route({ fault: { delay: { exponentialDelay: "1s" } } })), "spec.http[0].fault.delay.exponentialDelay", /not supported/],
    [
      "mirror and mirrors",
      http(route({ mirror: { host: "a" }, mirrors: [{ destination: { host: "b" } }] })),
      "spec.http[0].mirrors",
      /both mirror and mirrors/,
    ],
    ["mirror percentage", http(route({ mirror: { host: "a" }, mirrorPercentage: { value: 150 } })), "spec.http[0].mirrorPercentage.value", /within 0\.\.100/],
    ["redirect empty", http({ redirect: {} }), "spec.http[0].redirect", /redirect must specify/],
    ["redirect code", http({ redirect: { uri: "/", redirectCode: 200 } }), "spec.http[0].redirect.redirectCode", /not a valid redirect code/],
    ["redirect scheme", http({ redirect: { scheme: "ftp" } }), "spec.http[0].redirect.scheme", /must be "http" or "https"/],
    ["redirect port oneof", http({ redirect: { port: 8080, derivePort: "FROM_REQUEST_PORT" } }), "spec.http[0].redirect", /only one of port, derivePort/],
    ["direct response status", http({ directResponse: { status: 100 } }), "spec.http[0].directResponse.status", /HTTP status 100 is not in range/],
    ["direct response bytes", http({ directResponse: { status: 200, body: { bytes: "not base64!" } } }), "spec.http[0].directResponse.body.bytes", /base64/],
    [
      "rewrite both",
      http(route({ rewrite: { uri: "/", uriRegexRewrite: { match: "a", rewrite: "b" } } })),
      "spec.http[0].rewrite",
      /only contain one of uri or uriRegexRewrite/,
    ],
    ["rewrite empty", http(route({ rewrite: {} })), "spec.http[0].rewrite", /at least one of uri, uriRegexRewrite, or authority/],
    [
      "rewrite regex",
      http(route({ rewrite: { uriRegexRewrite: { match: "(a", rewrite: "b" } } })),
      "spec.http[0].rewrite.uriRegexRewrite.match",
      /missing closing \)/,
    ],
    [
      "authority twice",
      http(route({ rewrite: { authority: "a" }, headers: { request: { set: { host: "b" } } } })),
      "spec.http[0].headers.request.set.host",
      /authority header cannot be set multiple times/,
    ],
    [
      "header op pseudo",
      http(route({ headers: { request: { set: { ":path": "/x" } } } })),
      'spec.http[0].headers.request.set[":path"]',
      /header cannot have ":" prefix/,
    ],
    ["response host", http(route({ headers: { response: { set: { Host: "x" } } } })), "spec.http[0].headers.response.set.Host", /cannot set Host header/],
    ["header value", http(route({ headers: { request: { set: { a: "100%" } } } })), "spec.http[0].headers.request.set.a", /write a literal % as %%/],
    [
      "cors method",
      http(route({ corsPolicy: { allowMethods: ["FETCH"] } })),
      "spec.http[0].corsPolicy.allowMethods[0]",
      /"FETCH" is not a supported HTTP method/,
    ],
    ["cors maxAge", http(route({ corsPolicy: { maxAge: "1.5s" } })), "spec.http[0].corsPolicy.maxAge", /seconds precision/],
    ["cors origin", http(route({ corsPolicy: { allowOrigins: [{}] } })), "spec.http[0].corsPolicy.allowOrigins[0]", /must set one of exact, prefix, regex/],
    ["gateway name", vs({ hosts: ["a"], gateways: ["Bad/gw"], http: [route()] }), "spec.gateways[0]", /invalid value for namespace/],
    ["exportTo", vs({ hosts: ["a"], http: [route()], exportTo: ["*", "."] }), "spec.exportTo", /both public \(\*\) and non-public/],
    ["tcp route required", vs({ hosts: ["a"], tcp: [{ match: [{ port: 1 }] }] }), "spec.tcp[0].route", /TCP route is required/],
    [
      "tcp subnet",
      vs({ hosts: ["a"], tcp: [{ match: [{ destinationSubnets: ["10.0.0.0/40"] }], route: [{ destination: { host: "a" } }] }] }),
      "spec.tcp[0].match[0].destinationSubnets[0]",
      /not a valid IP address or CIDR/,
    ],
    ["tls match required", vs({ hosts: ["a"], tls: [{ route: [{ destination: { host: "a" } }] }] }), "spec.tls[0].match", /at least one match condition/],
    [
      "tls sni",
      vs({ hosts: ["a.com"], tls: [{ match: [{ sniHosts: ["b.com"] }], route: [{ destination: { host: "a" } }] }] }),
      "spec.tls[0].match[0].sniHosts[0]",
      /not a compatible subset/,
    ],
    ["metadata name", vs({ hosts: ["a"], http: [route()] }, { name: "Reviews" }), "metadata.name", /DNS-1123 subdomain/],
  ];
  for (const [title, value, path, reason] of cases) {
    it(`refuses: ${title}`, () => {
      const f = findings(value);
      expect(f, f.join("\n")).toContainEqual(expect.stringMatching(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `)));
      const line = f.find((x) => x.startsWith(`${path}: `)) ?? "";
      expect(line).toMatch(reason);
      expect(parseObject({ value }).status).toBe("invalid");
    });
  }

  it("warns (does not refuse) for Istio fields meshpilot ignores, deprecated forms and uppercase header names", () => {
    const v = http(route({ mirrorPercent: 10, corsPolicy: { allowOrigin: ["*"] }, match: [{ headers: { "X-User": { exact: "a" } }, uri: {} }] }));
    expect(findings(v)).toEqual([]);
    const w = findings(v, "warning");
    expect(w).toContainEqual(expect.stringMatching(/^spec\.http\[0\]\.mirrorPercent: .*ignored by meshpilot/));
    expect(w).toContainEqual(expect.stringMatching(/^spec\.http\[0\]\.corsPolicy\.allowOrigin: /));
    expect(w).toContainEqual(expect.stringMatching(/^spec\.http\[0\]\.match\[0\]\.headers\.X-User: header names are matched in lowercase/));
    expect(w).toContainEqual(expect.stringMatching(/^spec\.http\[0\]\.match\[0\]\.uri: empty uri match matches everything/));
  });

  it("accepts JWT claim routing, * host and IP hosts on gateways", () => {
    expect(findings(vs({ hosts: ["10.0.0.1", "reviews"], gateways: ["gw"], http: [route()] }))).toEqual([]);
    const v = vs({
      hosts: ["*"],
      gateways: ["istio-system/ingress"],
      http: [route({ match: [{ headers: { "@request.auth.claims.group": { exact: "a" } } }] })],
    });
    expect(findings(v)).toEqual([]);
  });
});

describe("DestinationRule validation", () => {
  it("accepts a realistic DestinationRule", () => {
    const d = dr({
      host: "reviews.default.svc.cluster.local",
      trafficPolicy: {
        loadBalancer: {
          simple: "LEAST_REQUEST",
          localityLbSetting: { enabled: true, distribute: [{ from: "us-west/zone1/*", to: { "us-west/zone1/*": 80, "us-west/zone2/*": 20 } }] },
        },
        connectionPool: {
          tcp: { maxConnections: 100, connectTimeout: "30ms", tcpKeepalive: { time: "7200s", interval: "75s" }, idleTimeout: "0s" },
          http: { http1MaxPendingRequests: 10, maxRequestsPerConnection: 1, idleTimeout: "1h", h2UpgradePolicy: "UPGRADE" },
        },
        outlierDetection: { consecutive5xxErrors: 7, interval: "5m", baseEjectionTime: "15m", maxEjectionPercent: 100 },
        tls: { mode: "ISTIO_MUTUAL", sni: "reviews" },
        portLevelSettings: [
          { port: { number: 9080 }, loadBalancer: { consistentHash: { httpCookie: { name: "user", ttl: "0s" }, ringHash: { minimumRingSize: 1024 } } } },
        ],
      },
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" }, trafficPolicy: { loadBalancer: { consistentHash: { maglev: { tableSize: 65537 }, useSourceIp: true } } } },
      ],
      exportTo: ["*"],
    });
    expect(findings(d)).toEqual([]);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ["host required", dr({}), "spec.host", /host is required/],
    ["bad host", dr({ host: "a..b" }), "spec.host", /invalid/],
    [
      "simple enum",
      dr({ host: "a", trafficPolicy: { loadBalancer: { simple: "FASTEST" } } }),
      "spec.trafficPolicy.loadBalancer.simple",
      /expected one of UNSPECIFIED/,
    ],
    [
      "simple and consistentHash",
      dr({ host: "a", trafficPolicy: { loadBalancer: { simple: "RANDOM", consistentHash: { useSourceIp: true } } } }),
      "spec.trafficPolicy.loadBalancer",
      /only one of simple, consistentHash may be set/,
    ],
    [
      "two hash keys",
      dr({ host: "a", trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, httpHeaderName: "x" } } } }),
      "spec.trafficPolicy.loadBalancer.consistentHash",
      /only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName/,
    ],
    [
      "cookie name",
      dr({ host: "a", trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { ttl: "1s" } } } } }),
      "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
      /name required/,
    ],
    [
      "maglev prime",
      dr({ host: "a", trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 1000 } } } } }),
      "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
      /prime/,
    ],
    ["empty policy", dr({ host: "a", trafficPolicy: {} }), "spec.trafficPolicy", /at least one field/],
    ["empty pool", dr({ host: "a", trafficPolicy: { connectionPool: {} } }), "spec.trafficPolicy.connectionPool", /at least one field/],
    [
      "negative pool",
      dr({ host: "a", trafficPolicy: { connectionPool: { http: { maxRetries: -1 } } } }),
      "spec.trafficPolicy.connectionPool.http.maxRetries",
      /non-negative/,
    ],
    [
      "h2 upgrade + client protocol",
      dr({ host: "a", trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: "UPGRADE", useClientProtocol: true } } } }),
      "spec.trafficPolicy.connectionPool.http.useClientProtocol",
      /must not be true/,
    ],
    [
      "connect timeout",
      dr({ host: "a", trafficPolicy: { connectionPool: { tcp: { connectTimeout: "0s" } } } }),
      "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
      /at least 1ms/,
    ],
    [
      "outlier percent",
      dr({ host: "a", trafficPolicy: { outlierDetection: { maxEjectionPercent: 120 } } }),
      "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
      /not in range 0\.\.100/,
    ],
    [
      "local origin",
      dr({ host: "a", trafficPolicy: { outlierDetection: { consecutiveLocalOriginFailures: 3 } } }),
      "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
      /splitExternalLocalOriginErrors/,
    ],
    [
      "outlier interval",
      dr({ host: "a", trafficPolicy: { outlierDetection: { interval: "5 minutes" } } }),
      "spec.trafficPolicy.outlierDetection.interval",
      /not a duration/,
    ],
    [
      "tls mode",
      dr({ host: "a", trafficPolicy: { tls: { mode: "STRICT" } } }),
      "spec.trafficPolicy.tls.mode",
      /expected one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL/,
    ],
    [
      "mutual needs certs",
      dr({ host: "a", trafficPolicy: { tls: { mode: "MUTUAL" } } }),
      "spec.trafficPolicy.tls.clientCertificate",
      /client certificate required/,
    ],
    [
      "port level port",
      dr({ host: "a", trafficPolicy: { portLevelSettings: [{ loadBalancer: { simple: "RANDOM" } }] } }),
      "spec.trafficPolicy.portLevelSettings[0].port",
      /need port\.number/,
    ],
    [
      "port level number",
      dr({ host: "a", trafficPolicy: { portLevelSettings: [{ port: { number: 0 }, loadBalancer: { simple: "RANDOM" } }] } }),
      "spec.trafficPolicy.portLevelSettings[0].port.number",
      /port number 0/,
    ],
    [
      "port level empty",
      dr({ host: "a", trafficPolicy: { portLevelSettings: [{ port: { number: 80 } }] } }),
      "spec.trafficPolicy.portLevelSettings[0]",
      /at least one field/,
    ],
    ["subset name required", dr({ host: "a", subsets: [{ labels: { v: "1" } }] }), "spec.subsets[0].name", /subset name is required/],
    ["subset name format", dr({ host: "a", subsets: [{ name: "V1" }] }), "spec.subsets[0].name", /subset name is invalid/],
    ["duplicate subsets", dr({ host: "a", subsets: [{ name: "v1" }, { name: "v1" }] }), "spec.subsets[1].name", /duplicate subset name "v1"/],
    ["subset labels", dr({ host: "a", subsets: [{ name: "v1", labels: { "bad key!": "x" } }] }), 'spec.subsets[0].labels["bad key!"]', /invalid label key/],
    [
      "subset label value type",
      dr({ host: "a", subsets: [{ name: "v1", labels: { version: 1 } }] }),
      "spec.subsets[0].labels.version",
      /expected a string, got integer 1/,
    ],
    [
      "subset policy",
      dr({ host: "a", subsets: [{ name: "v1", trafficPolicy: { loadBalancer: { simple: "X" } } }] }),
      "spec.subsets[0].trafficPolicy.loadBalancer.simple",
      /expected one of/,
    ],
    [
      "warmupDurationSecs",
      dr({ host: "a", trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN", warmupDurationSecs: "ten" } } }),
      "spec.trafficPolicy.loadBalancer.warmupDurationSecs",
      /not a duration/,
    ],
    [
      "credentialName with files",
      dr({ host: "a", trafficPolicy: { tls: { mode: "SIMPLE", credentialName: "c", caCertificates: "/x" } } }),
      "spec.trafficPolicy.tls",
      /cannot specify client certificates or CA certificate if credentialName is set/,
    ],
    [
      "tcp idleTimeout",
      dr({ host: "a", trafficPolicy: { connectionPool: { tcp: { idleTimeout: "x" } } } }),
      "spec.trafficPolicy.connectionPool.tcp.idleTimeout",
      /not a duration/,
    ],
    [
      "locality distribute",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r/z/*", to: { "r/z/*": 50 } }] } } } }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to",
      /must be 100/,
    ],
    [
      "locality distribute and failover",
      dr({
        host: "a",
        trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r", to: { r: 100 } }], failover: [{ from: "r", to: "s" }] } } },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting",
      /can not simultaneously set 'distribute' and 'failover'/,
    ],
    [
      "locality weight range",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r", to: { "r/a": 0, "r/b": 100 } }] } } } }),
      'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to["r/a"]',
      /locality weight must be in range \[1, 100\], got 0/,
    ],
    [
      "locality from empty",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ to: { r: 100 } }] } } } }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
      /must not be empty/,
    ],
    [
      "locality empty part",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r//s", to: { r: 100 } }] } } } }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
      /without empty parts/,
    ],
    [
      "locality wildcard in the middle",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r/*/s", to: { r: 100 } }] } } } }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
      /wildcard '\*' may appear once, at the end/,
    ],
    [
      "locality overlap",
      dr({ host: "a", trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r", to: { "r/a": 50, r: 50 } }] } } } }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.r",
      /locality "r" overlaps with "r\/a"/,
    ],
    [
      "locality sources overlap",
      dr({
        host: "a",
        trafficPolicy: {
          loadBalancer: {
            localityLbSetting: {
              distribute: [
                { from: "r/*", to: { r: 100 } },
                { from: "r/z", to: { r: 100 } },
              ],
            },
          },
        },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[1].from",
      /overlaps with "r\/\*"/,
    ],
    [
      "failover same region",
      dr({
        host: "a",
        trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 }, loadBalancer: { localityLbSetting: { failover: [{ from: "r", to: "r" }] } } },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]",
      /must differ/,
    ],
    [
      "failover zone",
      dr({
        host: "a",
        trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 }, loadBalancer: { localityLbSetting: { failover: [{ from: "r/z", to: "s" }] } } },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].from",
      /only applies to regions/,
    ],
    [
      "failover wildcard",
      dr({
        host: "a",
        trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 }, loadBalancer: { localityLbSetting: { failover: [{ from: "r", to: "*" }] } } },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].to",
      /wildcard/,
    ],
    [
      "failover with topology priority",
      dr({
        host: "a",
        trafficPolicy: {
          outlierDetection: { consecutive5xxErrors: 1 },
          loadBalancer: { localityLbSetting: { failover: [{ from: "r", to: "s" }], failoverPriority: ["topology.kubernetes.io/zone"] } },
        },
      }),
      "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority[0]",
      /can not simultaneously set 'failover' and topology label 'topology.kubernetes.io\/zone'/,
    ],
    [
      "unknown field",
      dr({ host: "a", trafficPolicy: { loadbalancer: { simple: "RANDOM" } } }),
      "spec.trafficPolicy.loadbalancer",
      /unknown field "loadbalancer" in Istio TrafficPolicy \(did you mean "loadBalancer"\?\)/,
    ],
    [
      "workload selector exportTo",
      dr({ host: "a", workloadSelector: { matchLabels: { app: "x" } }, exportTo: ["*"] }),
      "spec.exportTo",
      /workload selector cannot have exportTo beyond current namespace/,
    ],
  ];
  for (const [title, value, path, reason] of cases) {
    it(`refuses: ${title}`, () => {
      const f = findings(value);
      const line = f.find((x) => x.startsWith(`${path}: `));
      expect(line, f.join("\n")).toBeDefined();
      expect(line).toMatch(reason);
      expect(parseObject({ value }).status).toBe("invalid");
    });
  }

  it("warns (does not refuse) when failover has no outlierDetection to act on, and accepts failoverPriority with it", () => {
    const without = dr({
      host: "a",
      trafficPolicy: { loadBalancer: { localityLbSetting: { failoverPriority: ["topology.istio.io/network", "topology.kubernetes.io/region"] } } },
    });
    expect(findings(without)).toEqual([]);
    expect(findings(without, "warning")).toEqual([
      expect.stringMatching(/^spec\.trafficPolicy\.loadBalancer\.localityLbSetting: outlier detection policy must be provided for failover/),
    ]);
    expect(parseObject({ value: without }).status).toBe("valid");
    const withOd = dr({
      host: "a",
      trafficPolicy: {
        outlierDetection: { consecutive5xxErrors: 1 },
        loadBalancer: { localityLbSetting: { failover: [{ from: "us-east", to: "eu-west" }], failoverPriority: ["topology.istio.io/network", "env=prod"] } },
      },
    });
    expect([...findings(withOd), ...findings(withOd, "warning")]).toEqual([]);
  });
});
