// Route parts of equal content are one frozen object across VirtualServices (shared-json.ts):
// one copy alive, and bytes the encoder writes once; the output is what unshared parts give.
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { RouteJson } from "../../../src/translate/envoy.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { sharedJson, sharedJsonStats } from "../../../src/translate/shared-json.js";
import { encodeMessage } from "../../../src/xds/encode.js";
import { envoyRegistry, envoySchema } from "../../../src/xds/registry.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { generateMesh, inputOf } from "../../bench/mesh.js";
import { benchProxy } from "../../bench/translation.js";

describe("shared route parts", () => {
  it("gives equal content one frozen object, and leaves the first object as it was given", () => {
    const a = { retryOn: "5xx", numRetries: 3, retriableStatusCodes: [503] };
    const b = { retryOn: "5xx", numRetries: 3, retriableStatusCodes: [503] };
    expect(sharedJson(a)).toBe(a);
    expect(sharedJson(b)).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.retriableStatusCodes)).toBe(true);
    expect(sharedJson({ ...b, numRetries: 4 })).not.toBe(a);
  });

  it("shares the retry policies, matches, header operations and per-filter configs of a full mesh's routes, bytes unchanged", () => {
    const routes = (): RouteJson[] =>
      translateProxy(buildMesh(inputOf(generateMesh(20, "full"))), benchProxy()).routes.flatMap((rc) => rc.virtualHosts!.flatMap((vh) => vh.routes ?? []));
    const before = sharedJsonStats.found;
    const all = routes().filter((r) => r.route?.retryPolicy);
    expect(all.length).toBeGreaterThan(20);
    // Every VirtualService of the full mesh has the same retries, fault and CORS policy.
    const distinct = (f: (r: RouteJson) => unknown): number => new Set(all.map(f)).size;
    expect(distinct((r) => r.route!.retryPolicy)).toBeLessThanOrEqual(2);
    expect(distinct((r) => r.typedPerFilterConfig)).toBeLessThanOrEqual(2);
    expect(distinct((r) => r.requestHeadersToRemove)).toBe(1);
    expect(sharedJsonStats.found - before).toBeGreaterThan(all.length);
    // The encoder copies a shared part's kept bytes: the bytes of the same JSON unshared, and the generic encoder's.
    const schema = envoySchema("envoy.config.route.v3.VirtualHost");
    for (const r of all) {
      const copy = JSON.parse(JSON.stringify(r)) as RouteJson;
      const vh = (route: RouteJson): object => ({ name: "v", domains: ["*"], routes: [route] });
      const bytes = Buffer.from(encodeMessage(TYPE_URL.virtualHost, vh(r), "test"));
      expect(bytes).toEqual(Buffer.from(encodeMessage(TYPE_URL.virtualHost, vh(copy), "test")));
      expect(bytes).toEqual(Buffer.from(toBinary(schema, fromJson(schema, vh(copy) as JsonValue, { registry: envoyRegistry }))));
    }
  });
});
