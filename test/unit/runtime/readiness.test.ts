/** Ready and degraded: a source that lost its backend keeps the process ready and says why. */
import { describe, expect, it } from "vitest";
import { describeKubeHealth } from "../../../src/runtime/kube.js";
import { Readiness } from "../../../src/runtime/readiness.js";

describe("Readiness", () => {
  it("is ready once every part is done, and lists why it is degraded without becoming unready", () => {
    const r = new Readiness(["files", "kube"]);
    const source: { why?: string } = {};
    r.degradedWhen("kube", () => source.why);
    r.done("files");
    expect(r.ready).toBe(false);
    expect(r.waitingFor).toEqual(["kube"]);
    r.done("kube");
    expect(r.ready).toBe(true);
    expect(r.degraded).toEqual([]);
    source.why = "the API server is gone";
    expect(r.ready).toBe(true);
    expect(r.degraded).toEqual(["kube: the API server is gone"]);
  });
});

describe("describeKubeHealth", () => {
  it("says nothing while the API server answers", () => {
    expect(describeKubeHealth({ reachable: true, failing: [] })).toBeUndefined();
  });

  it("names how long, how many collections, and the latest error", () => {
    const text = describeKubeHealth(
      {
        reachable: false,
        since: 10_000,
        failing: [
          { path: "/api/v1/pods", since: 10_000, error: "connect ECONNREFUSED 127.0.0.1:6443" },
          { path: "/api/v1/services", since: 12_000, error: "read ECONNRESET" },
        ],
      },
      41_000,
    );
    expect(text).toBe("Kubernetes lists and watches failing for 31 s (2 collections, e.g. /api/v1/services: read ECONNRESET); serving the last state seen");
  });
});
