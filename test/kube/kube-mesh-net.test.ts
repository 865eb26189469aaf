/**
 * The kube tests' pod network (test/support/kube-mesh.ts) leaves the host alone: the pod
 * addresses exist only inside the network namespace the fixture creates; backends serve sockets
 * made there, an Envoy runs there, and the test process reaches in and out over the netns bridge.
 * The host's addresses, routes and rules are the same before, during and after, and the
 * namespace is gone afterwards. Needs no API server.
 */
import { execFileSync } from "node:child_process";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { listNetns } from "../../scripts/netns-bridge.mjs";
import { httpRequest, startBackend, type Backend } from "../support/backend.js";
import { startEnvoy, type Envoy } from "../support/envoy.js";
import { pickAddresses, type KubeMeshNet } from "../support/kube-mesh.js";

function hostNetwork(): string {
  const show = (...args: string[]) => `$ ip ${args.join(" ")}\n${execFileSync("ip", args, { encoding: "utf8" })}`;
  return [show("addr"), show("route"), show("-6", "route"), show("rule")].join("");
}

/** Envoy inside the namespace: 127.0.0.1:port there → the pod address `ip`:port, also there. */
function staticBootstrap(port: number, ip: string): object {
  return {
    staticResources: {
      listeners: [
        {
          name: "outbound",
          address: { socketAddress: { address: "127.0.0.1", portValue: port } },
          filterChains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typedConfig: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    statPrefix: "outbound",
                    routeConfig: { virtualHosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "pod" } }] }] },
                    httpFilters: [
                      { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "pod",
          type: "STATIC",
          connectTimeout: "2s",
          loadAssignment: {
            clusterName: "pod",
            endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: ip, portValue: port } } } }] }],
          },
        },
      ],
    },
  };
}

describe("the kube tests' pod network", () => {
  const before = hostNetwork();
  let a: KubeMeshNet | undefined;
  let envoy: Envoy | undefined;
  let backend: Backend | undefined;
  let hostServer: net.Server | undefined;

  afterAll(async () => {
    await envoy?.stop();
    await backend?.close();
    await a?.release();
    hostServer?.close();
  });

  it("lives in a namespace of its own; the host's addresses, routes and rules never change", async () => {
    a = await pickAddresses();
    expect(listNetns()).toContain(a.netns.name);
    const inside = a.netns.ip("-o", "addr", "show", "dev", "lo");
    for (const ip of [a.productpageIp, a.v1Ip, a.v2Ip, a.v3Ip]) {
      expect(inside).toContain(` ${ip}/32 `);
      expect(before).not.toContain(`${ip}/`);
    }

    // a backend on a pod address, reached by an Envoy inside, reached by the test on the host
    backend = await startBackend({ version: "v1", host: a.v1Ip, port: a.port, listening: await a.listen(a.v1Ip) });
    expect(backend.url).toBe(`http://${a.v1Ip}:${a.port}`);
    envoy = await startEnvoy({ name: "kube-mesh-net", bootstrap: staticBootstrap(a.port, a.v1Ip), netns: a.netns });
    await envoy.waitReady();
    expect(envoy.adminAddress.host).toBe("127.0.0.1");
    const res = await httpRequest(`http://127.0.0.1:${a.port}/`, { host: "reviews", timeoutMs: 3000 });
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("v1");
    expect(backend.count).toBe(1);
    // the upstream connection Envoy made went to the pod address inside the namespace
    const upstream = await envoy.clusters();
    expect(JSON.stringify(upstream)).toContain(`"address":"${a.v1Ip}"`);

    // out of the namespace to the host's loopback (as Envoys reach meshpilot's xDS)
    hostServer = net.createServer((c) => c.end("host here"));
    await new Promise<void>((r) => hostServer!.listen(0, "127.0.0.1", r));
    const hostPort = (hostServer.address() as net.AddressInfo).port;
    expect(await a.hostAddress(hostPort)).toBe(`127.0.0.1:${hostPort}`);
    const read = `require("node:net").connect(${hostPort}, "127.0.0.1").on("data", (d) => process.stdout.write(d)).on("error", (e) => process.stdout.write(e.code))`;
    expect(await a.netns.execAsync(process.execPath, ["-e", read])).toBe("host here");

    expect(hostNetwork()).toBe(before);

    await envoy.stop();
    await backend.close();
    const name = a.netns.name;
    await a.release();
    expect(listNetns()).not.toContain(name);
    expect(hostNetwork()).toBe(before);
  });
});
