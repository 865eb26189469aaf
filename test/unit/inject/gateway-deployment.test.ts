import { describe, expect, it } from "vitest";
import { gatewayManifests } from "../../../src/inject/gateway-deployment.js";
import { DEFAULT_INJECTION_SETTINGS } from "../../../src/inject/settings.js";

type Container = { args: string[]; readinessProbe?: { httpGet: { path: string; port: number } } };
type Listener = {
  name: string;
  address: { socketAddress: { portValue: number } };
  filterChains: Array<{
    filters: Array<{ typedConfig: { routeConfig: { virtualHosts: Array<{ routes: Array<{ match: { path: string }; route: { cluster: string } }> }> } } }>;
  }>;
};
type Bootstrap = {
  staticResources: { listeners?: Listener[]; clusters: Array<{ name: string; loadAssignment?: unknown }> };
  admin: { address: { socketAddress: { portValue: number } } };
};

describe("gatewayManifests", () => {
  it("makes the pod ready only through Envoy's health listener, which asks Envoy's admin", () => {
    const m = gatewayManifests(
      { gateway: { name: "web", namespace: "apps" }, className: "meshpilot", name: "web-meshpilot", ports: [{ name: "http", port: 80 }] },
      DEFAULT_INJECTION_SETTINGS,
    );
    if ("error" in m) throw new Error(m.error);
    const container = (m.deployment as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;
    const probe = container.readinessProbe?.httpGet;
    expect(probe).toEqual({ path: "/healthz/ready", port: DEFAULT_INJECTION_SETTINGS.healthPort });
    const bootstrap = JSON.parse(container.args[container.args.indexOf("--config-yaml") + 1]!) as Bootstrap;
    const health = bootstrap.staticResources.listeners?.find((l) => l.address.socketAddress.portValue === probe?.port);
    expect(health?.name).toBe("health");
    const route = health!.filterChains[0]!.filters[0]!.typedConfig.routeConfig.virtualHosts[0]!.routes[0]!;
    expect(route.match.path).toBe(probe?.path);
    const admin = bootstrap.staticResources.clusters.find((c) => c.name === route.route.cluster);
    expect(JSON.stringify(admin?.loadAssignment)).toContain(`"portValue":${bootstrap.admin.address.socketAddress.portValue}`);
  });
});
