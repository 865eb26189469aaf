import { describe, expect, it } from "vitest";
import type { StoredObject } from "../../../src/api/objects.js";
import type { Pod } from "../../../src/api/kube-types.js";
import { endpointWork } from "../../../src/model/endpoint-work.js";
import { indexAllPods, lookupPod } from "../../../src/model/pod-index.js";

const pod = (name: string, ip: string, ns = "default"): Pod =>
  ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns }, status: { podIP: ip, podIPs: [{ ip }] } }) as Pod;
const stored = (pods: Pod[]): StoredObject<Pod>[] => pods.map((object) => ({ object }));

describe("PodIndex", () => {
  it("indexes addresses only when one is looked up, once", () => {
    const pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), pod("a", "10.0.1.1", "other")];
    const before = endpointWork.podKeysIndexed;
    const { index, keys } = indexAllPods(stored(pods));
    expect(keys).toBe(3);
    expect(endpointWork.podKeysIndexed - before).toBe(0);
    expect(lookupPod(index, "n", "other", "a")).toBe(pods[2]);
    expect(lookupPod(index, "n", "default", "c")).toBeUndefined();
    expect(lookupPod(index, "i", "default", "10.0.0.2")).toBe(pods[1]);
    expect(lookupPod(index, "i", "default", "10.0.1.1")).toBeUndefined();
    expect(lookupPod(index, "i", "other", "10.0.1.1")).toBe(pods[2]);
    expect(endpointWork.podKeysIndexed - before).toBe(3);
  });

  it("moves keys over a version as an index from scratch would have them", () => {
    const [a, b, c] = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), pod("c", "10.0.0.3")];
    for (const lookedUpAddresses of [false, true]) {
      const { index } = indexAllPods(stored([a, b]));
      if (lookedUpAddresses) lookupPod(index, "i", "default", "10.0.0.1");
      const next = stored([a, c]);
      const moved = index.moved(next, [b], [c])!.index;
      const whole = indexAllPods(next).index;
      for (const [kind, k] of [
        ["n", "a"],
        ["n", "b"],
        ["n", "c"],
        ["i", "10.0.0.1"],
        ["i", "10.0.0.2"],
        ["i", "10.0.0.3"],
      ] as const) {
        expect(lookupPod(moved, kind, "default", k), `${kind} ${k}`).toBe(lookupPod(whole, kind, "default", k));
      }
    }
  });

  it("is made whole again when a moved address is two Pods' (host network)", () => {
    const [a, b] = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2")];
    const { index } = indexAllPods(stored([a, b]));
    lookupPod(index, "i", "default", "10.0.0.1");
    const host = pod("h", "10.0.0.1");
    expect(index.moved(stored([a, b, host]), [], [host])).toBeUndefined();
  });
});
