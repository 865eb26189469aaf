// The envelope fields of hand-assembled responses: the type URL is encoded once and shared,
// version and nonce are written per response; whatever their length or characters, they decode as given.
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DeltaDiscoveryResponseSchema, DiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { contentVersion } from "../../../src/xds/encode.js";
import type { Resource } from "../../../src/xds/snapshot.js";
import { deltaResponse, sotwPieces, joined } from "../../../src/xds/wire.js";

const body = new TextEncoder().encode("cluster-bytes");
const r: Resource = { name: "outbound|80||a.svc", version: contentVersion(body), body };
const TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

describe("response envelope fields", () => {
  for (const nonce of ["1", "z".repeat(127), "y".repeat(128), "n".repeat(300), "nönce-✓"]) {
    it(`a nonce of ${nonce.length} characters decodes as written, on delta and SotW`, () => {
      const d = fromBinary(DeltaDiscoveryResponseSchema, deltaResponse(TYPE, "v1", [r], ["gone"], nonce, "meshpilot-1"));
      expect(d).toMatchObject({ nonce, typeUrl: TYPE, systemVersionInfo: "v1", removedResources: ["gone"], controlPlane: { identifier: "meshpilot-1" } });
      expect(d.resources.map((x) => x.name)).toEqual([r.name]);
      const s = fromBinary(DiscoveryResponseSchema, joined(sotwPieces(TYPE, "v2", [r], "meshpilot-1", nonce)));
      expect(s).toMatchObject({ nonce, typeUrl: TYPE, versionInfo: "v2", controlPlane: { identifier: "meshpilot-1" } });
    });
  }

  it("keeps each response's own version and nonce while the repeated fields are shared", () => {
    const a = deltaResponse(TYPE, "v1", [r], [], "a", "cp");
    const versions = Array.from({ length: 3000 }, (_, i) => `v${i}`);
    for (const v of versions)
      expect(fromBinary(DeltaDiscoveryResponseSchema, deltaResponse(TYPE, v, [r], [], `n-${v}`, "cp"))).toMatchObject({
        systemVersionInfo: v,
        nonce: `n-${v}`,
      });
    expect(fromBinary(DeltaDiscoveryResponseSchema, a)).toMatchObject({ systemVersionInfo: "v1", nonce: "a" });
  });
});
