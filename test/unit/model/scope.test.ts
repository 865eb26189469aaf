// The per-view scope: DestinationRules looked up and merged once per view and service, policies
// with parsed durations, routes resolved for the proxy; per-service pieces shared between views
// that resolve the same rule, and translation reading only the scope.
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseDurations } from "../../../src/model/parsed.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { buildProxyScope } from "../../../src/model/scope.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const INPUT = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.0.21, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec: { clusterIP: 10.96.0.22, ports: [{ name: tcp, port: 5432 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  host: reviews
  trafficPolicy:
    connectionPool: { tcp: { connectTimeout: 1.5s } }
    loadBalancer: { consistentHash: { httpCookie: { name: user, ttl: 30m } } }
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-extra, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z" }
spec: { host: reviews, subsets: [{ name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-canary, namespace: default, creationTimestamp: "2024-01-03T00:00:00Z" }
spec:
  host: reviews
  workloadSelector: { matchLabels: { app: canary } }
  trafficPolicy: { loadBalancer: { simple: RANDOM } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: default }
spec: { host: db, trafficPolicy: { connectionPool: { tcp: { idleTimeout: 2m } } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ sourceLabels: { app: canary } }]
      route: [{ destination: { host: ratings } }]
    - match: [{ gateways: [mesh], uri: { prefix: /a } }, { gateways: [ingress], uri: { prefix: /b } }]
      timeout: 250ms
      retries: { attempts: 3, perTryTimeout: 100ms }
      route: [{ destination: { host: reviews, subset: v1 }, weight: 100 }, { destination: { host: reviews, subset: v2 }, weight: 0 }]
`;

function mesh(): MeshModel {
  return buildMesh(meshInputFrom(validObjects(INPUT)));
}

function view(m: MeshModel, pod: string, labels: Record<string, string>) {
  const parsed = parseProxy({ id: `sidecar~10.244.0.9~${pod}.default~default.svc.cluster.local`, metadata: { LABELS: labels } });
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(m));
}

const REVIEWS = "reviews.default.svc.cluster.local";

describe("buildProxyScope", () => {
  const m = mesh();
  const plain = buildProxyScope(m, view(m, "client-a", { app: "client-a", version: "v1" }));
  const other = buildProxyScope(m, view(m, "client-b", { app: "client-b" }));
  const canary = buildProxyScope(m, view(m, "canary", { app: "canary" }));
  const svc = (s: typeof plain, host: string) => s.services.find((x) => x.service.hostname === host)!;

  it("merges the namespace's rules for a host once and resolves each cluster's policy with parsed durations", () => {
    const reviews = svc(plain, REVIEWS);
    expect(reviews.rule?.name).toBe("reviews");
    expect(reviews.clusters.map((c) => c.name)).toEqual([`outbound|9080||${REVIEWS}`, `outbound|9080|v1|${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`]);
    const main = reviews.clusters[0]!.policy!;
    expect(main.connectionPool?.tcp?.connectTimeout?.totalNanos).toBe(1_500_000_000n);
    expect(main.loadBalancer?.consistentHash?.httpCookie?.ttl?.seconds).toBe(1800n);
    expect(reviews.clusters[2]!.labels).toEqual({ version: "v2" });
  });

  it("shares a service's scope between views that resolve the same rule, not with a workload-selected one", () => {
    expect(svc(other, REVIEWS)).toBe(svc(plain, REVIEWS));
    const selected = svc(canary, REVIEWS);
    expect(selected).not.toBe(svc(plain, REVIEWS));
    expect(selected.rule?.name).toBe("reviews-canary");
    expect(selected.clusters[0]!.policy?.loadBalancer?.simple).toBe("RANDOM");
  });

  it("resolves routes for the proxy: build-time match parts decided, destinations as clusters, weight 0 dropped", () => {
    const vh = plain.ports.find((p) => p.port === 9080)!.virtualHosts.find((v) => v.host === REVIEWS)!;
    // The sourceLabels rule is not this proxy's, and the ingress-gateway match is not the mesh's.
    expect(vh.routes).toHaveLength(1);
    const r = vh.routes[0]!;
    expect(r.match).toEqual({ uri: { prefix: "/a" } });
    if (r.action.kind !== "forward") throw new Error("expected a forward action");
    expect(r.action.destinations).toEqual([{ cluster: `outbound|9080|v1|${REVIEWS}`, weight: 100 }]);
    expect(r.action.timeout?.totalNanos).toBe(250_000_000n);
    expect(r.action.retries?.perTryTimeout?.totalNanos).toBe(100_000_000n);
    // The route carries the first destination's consistent hash from the view's DestinationRule.
    expect(r.action.consistentHash?.httpCookie?.name).toBe("user");

    const canaryVh = canary.ports.find((p) => p.port === 9080)!.virtualHosts.find((v) => v.host === REVIEWS)!;
    expect(canaryVh.routes.map((x) => (x.action.kind === "forward" ? x.action.destinations.map((d) => d.cluster) : []))).toEqual([
      ["outbound|9080||ratings.default.svc.cluster.local"],
      [`outbound|9080|v1|${REVIEWS}`],
    ]);
  });

  it("resolves a TCP port's route with the DestinationRule's idle timeout", () => {
    const db = plain.ports.find((p) => p.port === 5432)!.tcp[0]!;
    expect(db.routes).toHaveLength(1);
    expect(db.routes[0]!.proxy.destinations).toEqual([{ cluster: "outbound|5432||db.default.svc.cluster.local", weight: 0 }]);
    expect(db.routes[0]!.proxy.idleTimeout?.seconds).toBe(120n);
  });

  it("translation shares a service's cluster messages between views with the same scope", () => {
    const a = translateProxy(m, view(m, "client-a", { app: "client-a" }));
    const b = translateProxy(m, view(m, "client-b", { app: "client-b" }));
    const c = translateProxy(m, view(m, "canary", { app: "canary" }));
    const named = (r: typeof a, n: string) => r.clusters.find((x) => x.name === n);
    expect(named(b, `outbound|9080||${REVIEWS}`)).toBe(named(a, `outbound|9080||${REVIEWS}`));
    expect(named(c, `outbound|9080||${REVIEWS}`)).not.toBe(named(a, `outbound|9080||${REVIEWS}`));
    expect(named(c, `outbound|9080||${REVIEWS}`)?.lbPolicy).toBe("RANDOM");
  });
});

describe("parseDurations", () => {
  it("parses duration fields, not labels or headers that happen to share a name", () => {
    const rule = { timeout: "2s", headers: { request: { set: { timeout: "5" } } }, match: [{ sourceLabels: { interval: "x" } }] };
    const parsed = parseDurations(rule);
    expect(parsed.timeout.totalNanos).toBe(2_000_000_000n);
    expect(parsed.headers.request.set.timeout).toBe("5");
    expect(parsed.match[0]!.sourceLabels.interval).toBe("x");
    expect(parseDurations(rule)).toBe(parsed);
  });
});
