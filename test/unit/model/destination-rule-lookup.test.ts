import { describe, expect, it } from "vitest";
import type { DestinationRuleModel } from "../../../src/model/ir.js";
import { destinationRuleFor } from "../../../src/model/policies.js";

const rule = (namespace: string, name: string, host: string, extra: Partial<DestinationRuleModel> = {}): DestinationRuleModel => ({
  host,
  namespace,
  name,
  subsets: [],
  exportTo: [],
  refs: [{ kind: "DestinationRule", namespace, name }],
  ...extra,
});
const HOST = "reviews.backend.svc.cluster.local";

describe("destinationRuleFor", () => {
  const rules = [
    rule("istio-system", "root", "*.svc.cluster.local"),
    rule("backend", "svc-ns", HOST),
    rule("app", "client-ns", HOST),
    rule("app", "selected", HOST, { workloadSelector: { app: "client" } }),
  ];

  it("prefers a workload-selected rule of the client's namespace for the workloads it selects", () => {
    expect(destinationRuleFor(rules, HOST, "backend", "app", { app: "client" })?.name).toBe("selected");
    expect(destinationRuleFor(rules, HOST, "backend", "app", { app: "other" })?.name).toBe("client-ns");
    expect(destinationRuleFor(rules, HOST, "backend", "app")?.name).toBe("client-ns");
  });

  it("falls back to the service's namespace, then the root namespace", () => {
    expect(destinationRuleFor(rules, HOST, "backend", "elsewhere", {})?.name).toBe("svc-ns");
    expect(destinationRuleFor(rules, "ratings.backend.svc.cluster.local", "backend", "elsewhere", {})?.name).toBe("root");
  });

  it("never applies a workload-selected rule outside its namespace", () => {
    const only = [rule("backend", "selected-elsewhere", HOST, { workloadSelector: { app: "client" } })];
    expect(destinationRuleFor(only, HOST, "backend", "app", { app: "client" })).toBeUndefined();
  });

  it("merges rules of one namespace for one host: subsets concatenated (first name wins), the first top-level policy that exists kept", () => {
    const merged = destinationRuleFor(
      [
        rule("app", "oldest", HOST, { subsets: [{ name: "v1", labels: { version: "v1" } }] }),
        rule("app", "middle", HOST, {
          trafficPolicy: { loadBalancer: { simple: "RANDOM" } },
          subsets: [
            { name: "v1", labels: { version: "other" } },
            { name: "v2", labels: { version: "v2" } },
          ],
        }),
        rule("app", "newest", HOST, { trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } }),
      ],
      HOST,
      "backend",
      "app",
    );
    expect(merged?.name).toBe("oldest");
    expect(merged?.trafficPolicy?.loadBalancer?.simple).toBe("RANDOM");
    expect(merged?.subsets).toEqual([
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ]);
  });
});
