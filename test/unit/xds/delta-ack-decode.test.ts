// ACKs (type_url and response_nonce only) are read by hand; every request must decode exactly as
// the schema decoder decodes it, ACK or not.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeltaDiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { decodeDeltaRequest } from "../../../src/xds/service-definition.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const text = fc.oneof(fc.constantFrom(...Object.values(TYPE_URL), "", "1", "z".repeat(127), "y".repeat(128)), fc.string(), fc.string({ unit: "grapheme" }));
const request = fc.record({
  typeUrl: text,
  responseNonce: text,
  resourceNamesSubscribe: fc.array(fc.string(), { maxLength: 2 }),
  errorDetail: fc.option(fc.record({ code: fc.integer({ min: 0, max: 16 }), message: fc.string() }), { nil: undefined }),
});

describe("decodeDeltaRequest", () => {
  it("decodes every request, ACKs included, as the schema decoder does", () => {
    fc.assert(
      fc.property(request, (init) => {
        const bytes = toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, init));
        expect(decodeDeltaRequest(bytes)).toEqual(fromBinary(DeltaDiscoveryRequestSchema, bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses a truncated ACK as the schema decoder does", () => {
    const bytes = toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, { typeUrl: TYPE_URL.endpoint, responseNonce: "4f" }));
    for (let n = 1; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n);
      let schema: unknown;
      try {
        schema = fromBinary(DeltaDiscoveryRequestSchema, cut);
      } catch (e) {
        schema = e instanceof Error ? "throws" : e;
      }
      let ours: unknown;
      try {
        ours = decodeDeltaRequest(cut);
      } catch (e) {
        ours = e instanceof Error ? "throws" : e;
      }
      expect(ours).toEqual(schema);
    }
  });
});
