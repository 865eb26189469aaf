/**
 * A namespace-scoping Sidecar through a real Envoy: before it, the client reaches its own
 * namespace's service and another namespace's; once a Sidecar with egress `./*` is written, the
 * other namespace's cluster and listener are gone from the proxy (it no longer receives them)
 * and requests to it fail, while its own namespace's service still answers.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

let mesh: TrafficMesh;

const SIDECAR = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress:
    - hosts: ["./*"]
`;

beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "sidecar-scope",
    services: [
      { name: "web", workloads: [{ version: "v1" }] },
      { name: "api", namespace: "other", workloads: [{ version: "v1" }] },
    ],
    istio: () => "",
  });
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
});

const reaches = async (service: string, host: string): Promise<boolean> => {
  try {
    return (await mesh.get(service, "/", { host, timeoutMs: 3000 })).status === 200;
  } catch {
    return false;
  }
};
const hasCluster = async (service: string): Promise<boolean> => (await mesh.envoy.stat(`cluster.${mesh.cluster(service)}.membership_total`)) !== undefined;

it("without a Sidecar the client reaches both namespaces", async () => {
  expect(await reaches("web", "web")).toBe(true);
  expect(await reaches("api", "api.other")).toBe(true);
  expect(await hasCluster("api")).toBe(true);
});

it("a Sidecar with egress ./* takes the other namespace away, and keeps the own one", async () => {
  mesh.setIstio(SIDECAR);
  await eventually(async () => !(await hasCluster("api")), "the api cluster leaves the proxy");
  await eventually(async () => !(await reaches("api", "api.other")), "api.other is no longer reachable");
  expect(await hasCluster("web")).toBe(true);
  expect(await reaches("web", "web")).toBe(true);
  // Removing the Sidecar gives the proxy the other namespace back.
  mesh.setIstio("");
  await eventually(async () => (await hasCluster("api")) && (await reaches("api", "api.other")), "api.other is reachable again");
}, 60_000);
