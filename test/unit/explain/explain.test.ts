import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { explain, type ExplainResources } from "../../../src/explain/explain.js";
import { chooseVirtualHost, normalizePath, routeRequest } from "../../../src/explain/http.js";
import { chooseFilterChain, chooseListener } from "../../../src/explain/listener.js";
import { parseRequest, type ExplainRequest } from "../../../src/explain/request.js";
import { parseProxy, type ProxyNode } from "../../../src/model/proxy.js";
import { translateOffline } from "../../../src/pipeline/offline.js";
import { loadConfigDir } from "../../../src/runtime/config-dir.js";
import type { ListenerJson, RouteConfigurationJson } from "../../../src/translate/envoy.js";

const req = (line: string): ExplainRequest => {
  const r = parseRequest(line);
  if ("error" in r) throw new Error(r.error);
  return r;
};

describe("virtual host selection (Envoy's domain search)", () => {
  const rc: RouteConfigurationJson = {
    virtualHosts: [
      { name: "exact", domains: ["api.example.com"] },
      { name: "suffix-short", domains: ["*.example.com"] },
      { name: "suffix-long", domains: ["*.api.example.com"] },
      { name: "prefix", domains: ["api.*"] },
      { name: "star", domains: ["*"] },
    ],
  };
  const pick = (host: string) => chooseVirtualHost(rc, host)?.vh.name;
  it("exact first, then the longest suffix wildcard, then prefix wildcards, then *", () => {
    expect(pick("api.example.com")).toBe("exact");
    expect(pick("v1.api.example.com")).toBe("suffix-long");
    expect(pick("www.example.com")).toBe("suffix-short");
    expect(pick("api.other.org")).toBe("prefix");
    expect(pick("else.org")).toBe("star");
  });
  it("a wildcard stands for at least one character", () => {
    expect(pick("example.com")).toBe("star");
    expect(pick(".example.com")).toBe("star");
  });
  it("the port is ignored only where the route configuration says so; matching is case-insensitive", () => {
    const vhs = {
      virtualHosts: [
        { name: "reviews", domains: ["reviews"] },
        { name: "star", domains: ["*"] },
      ],
    };
    const hcm = {};
    const outcome = (r: RouteConfigurationJson, line: string) => routeRequest(req(line), hcm, r, "x").virtualHost?.name;
    expect(outcome({ ...vhs, ignorePortInHostMatching: true }, "http://REVIEWS:9080/")).toBe("reviews");
    expect(outcome(vhs, "http://reviews:9080/")).toBe("star");
    expect(outcome(vhs, "http://reviews/")).toBe("reviews");
  });
});

describe("routes in order", () => {
  const rc: RouteConfigurationJson = {
    name: "80",
    virtualHosts: [
      {
        name: "web",
        domains: ["*"],
        routes: [
          { name: "narrow", match: { prefix: "/a", headers: [{ name: "x", stringMatch: { exact: "1" } }] }, directResponse: { status: 201 } },
          { name: "all-a", match: { prefix: "/a" }, redirect: { pathRedirect: "/b", hostRedirect: "other", responseCode: "FOUND" } },
          { name: "after", match: { prefix: "/a/b" }, directResponse: { status: 203 } },
        ],
      },
    ],
  };
  const run = (line: string) => routeRequest(req(line), { normalizePath: true }, rc, "80");
  it("the first route that matches wins, even when a later one is more specific", () => {
    expect(run("http://web/a/b -H x:1").route?.name).toBe("narrow");
    const o = run("http://web/a/b?q=1");
    expect(o.route?.name).toBe("all-a");
    expect(o.trials.map((t) => t.matched)).toEqual([false, true]);
    expect(o.action).toEqual({ kind: "redirect", status: 302, location: "http://other/b?q=1" });
  });
  it("a request that no route takes gets 404", () => {
    expect(run("http://web/z").action).toMatchObject({ kind: "no-route", status: 404 });
  });
  it("the path is normalized before matching when the connection manager says so", () => {
    expect(normalizePath("/x/../a/./b")).toBe("/a/b");
    expect(run("http://web/x/../a/b").route?.name).toBe("all-a");
    expect(routeRequest(req("http://web/x/../a/b"), {}, rc, "80").action.kind).toBe("no-route");
  });
});

describe("listener and filter chain", () => {
  const tcp = (cluster: string) => [{ name: "envoy.filters.network.tcp_proxy", typedConfig: { "@type": "x", statPrefix: cluster, cluster } }];
  const listeners: ListenerJson[] = [
    {
      name: "virtualOutbound",
      address: { socketAddress: { address: "0.0.0.0", portValue: 15001 } },
      useOriginalDst: true,
      filterChains: [{ name: "catchall", filters: tcp("PassthroughCluster") }],
    },
    { name: "0.0.0.0_80", address: { socketAddress: { address: "0.0.0.0", portValue: 80 } }, bindToPort: false, filterChains: [{ filters: tcp("wild") }] },
    { name: "10.0.0.1_80", address: { socketAddress: { address: "10.0.0.1", portValue: 80 } }, bindToPort: false, filterChains: [{ filters: tcp("exact") }] },
  ];
  const conn = (ip: string | undefined, port: number) => ({ ...(ip ? { destinationIp: ip } : {}), destinationPort: port, tls: false });
  it("virtualOutbound hands a connection to the listener of its exact address, else the wildcard one, else keeps it", () => {
    expect(chooseListener(listeners, conn("10.0.0.1", 80)).listener?.name).toBe("10.0.0.1_80");
    expect(chooseListener(listeners, conn("10.0.0.2", 80)).listener?.name).toBe("0.0.0.0_80");
    expect(chooseListener(listeners, conn("10.0.0.1", 81)).listener?.name).toBe("virtualOutbound");
  });
  it("a more specific criterion that matches wins, and Envoy never falls back to a less specific one", () => {
    const l: ListenerJson = {
      name: "l",
      filterChains: [
        { name: "port-and-sni", filterChainMatch: { destinationPort: 443, serverNames: ["a.example"] }, filters: tcp("a") },
        { name: "any", filters: tcp("b") },
      ],
      defaultFilterChain: { name: "fallback", filters: tcp("c") },
    };
    const tls = (sni: string) => ({ destinationPort: 443, tls: true, serverName: sni });
    expect(chooseFilterChain({ ...l, listenerFilters: [{ name: "envoy.filters.listener.tls_inspector" }] }, tls("a.example")).chain?.name).toBe("port-and-sni");
    // Port 443 picked the first chain's group; its SNI does not match and "any" is not reconsidered.
    const other = chooseFilterChain({ ...l, listenerFilters: [{ name: "envoy.filters.listener.tls_inspector" }] }, tls("b.example"));
    expect(other.chain?.name).toBe("fallback");
    expect(other.isDefault).toBe(true);
  });
  it("destination prefix ranges: the longest prefix wins", () => {
    const l: ListenerJson = {
      name: "l",
      filterChains: [
        { name: "wide", filterChainMatch: { prefixRanges: [{ addressPrefix: "10.0.0.0", prefixLen: 8 }] }, filters: tcp("w") },
        { name: "narrow", filterChainMatch: { prefixRanges: [{ addressPrefix: "10.1.0.0", prefixLen: 16 }] }, filters: tcp("n") },
        { name: "rest", filters: tcp("r") },
      ],
    };
    expect(chooseFilterChain(l, conn("10.1.2.3", 1)).chain?.name).toBe("narrow");
    expect(chooseFilterChain(l, conn("10.2.2.3", 1)).chain?.name).toBe("wide");
    expect(chooseFilterChain(l, conn("192.168.0.1", 1)).chain?.name).toBe("rest");
  });
  it("an HTTP chain needs the HTTP inspector to have seen HTTP", () => {
    const l: ListenerJson = {
      name: "l",
      filterChains: [{ name: "http", filterChainMatch: { applicationProtocols: ["http/1.1", "h2c"] }, filters: tcp("h") }],
      defaultFilterChain: { name: "passthrough", filters: tcp("p") },
    };
    const c = { destinationPort: 80, tls: false, httpProtocol: "http/1.1" as const };
    expect(chooseFilterChain(l, c).chain?.name).toBe("passthrough");
    expect(chooseFilterChain({ ...l, listenerFilters: [{ name: "envoy.filters.listener.http_inspector" }] }, c).chain?.name).toBe("http");
  });
});

describe("explain over a real translation (examples/reviews-canary)", () => {
  const dir = fileURLToPath(new URL("../../../examples/reviews-canary/", import.meta.url));
  const id = "sidecar~10.244.0.10~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local";
  let resources: ExplainResources;
  let node: ProxyNode;
  beforeAll(async () => {
    const { objects, diagnostics } = await loadConfigDir(dir);
    const r = translateOffline(objects, diagnostics, { id, metadata: {} });
    if ("error" in r) throw new Error(r.error);
    resources = r.resources;
    const p = parseProxy({ id });
    if ("error" in p) throw new Error(p.error);
    node = p.proxy;
  });
  it("a tester reaches v2 through the header rule", () => {
    const e = explain(resources, node, req("GET http://reviews:9080/ -H x-test-user:true"));
    expect(e.destination.ip).toBe("10.96.0.20");
    expect(e.listener).toBe("0.0.0.0_9080");
    expect(e.http?.route).toMatchObject({
      index: 0,
      name: "testers-to-v2",
      origin: { kind: "VirtualService", namespace: "default", name: "reviews", rule: "spec.http[0].match[0]" },
    });
    expect(e.clusters.map((c) => [c.name, c.subset, c.destinationRule?.name])).toEqual([
      ["outbound|9080|v2|reviews.default.svc.cluster.local", "v2", "reviews"],
    ]);
    expect(e.clusters[0]!.endpoints.filter((x) => x.eligible).map((x) => x.workload?.version)).toEqual(["v2"]);
  });
  it("everyone else gets the 90/10 split", () => {
    const e = explain(resources, node, req("GET http://reviews.default.svc.cluster.local:9080/"));
    expect(e.http?.action).toMatchObject({ kind: "forward", clusters: [{ percent: 90 }, { percent: 10 }] });
  });
  it("a host outside the registry goes through PassthroughCluster", () => {
    const e = explain(resources, node, req("GET http://example.com/"));
    expect(e.listener).toBe("virtualOutbound");
    expect(e.tcp?.map((t) => t.cluster)).toEqual(["PassthroughCluster"]);
  });
  it("an unknown host on a mesh port falls to the catch-all virtual host", () => {
    const e = explain(resources, node, req("GET http://unknown.example:9080/"), { destinationIp: "192.0.2.1" });
    expect(e.http?.virtualHost?.name).toBe("allow_any");
    expect(e.clusters.map((c) => c.name)).toEqual(["PassthroughCluster"]);
  });
});
