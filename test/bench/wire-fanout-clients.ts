// wire-fanout.ts' client process: N delta ADS streams, each on its own HTTP/2 connection
// (src/loadgen/grpc-call.ts), subscribing to the bench's EDS names and ACKing every response with
// its nonce. Kept minimal so that it uses little of the second core.
import { create, toBinary } from "@bufbuild/protobuf";
import { GrpcChannel, type GrpcCall } from "../../src/loadgen/grpc-call.js";
import { envoySchema } from "../../src/xds/registry.js";
import { DELTA_METHOD_PATH } from "../../src/xds/service-definition.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import type { FanoutFromClients, FanoutToClients } from "./wire-fanout-protocol.js";

const EDS = TYPE_URL.endpoint;
const request = envoySchema("envoy.service.discovery.v3.DeltaDiscoveryRequest");
let acks = 0;
let errors = 0;
let firstError = "";
let expected = Infinity;
let firstReadAt = NaN;
let lastReadAt = NaN;
const now = (): number => performance.timeOrigin + performance.now();
const calls: GrpcCall[] = [];
const channels: GrpcChannel[] = [];

const report = (): void => {
  if (process.connected) process.send?.({ acks, errors, firstError, firstReadAt, lastReadAt } satisfies FanoutFromClients);
  firstReadAt = NaN; // the next batch's first read
};

/** DeltaDiscoveryResponse.nonce (field 5), read without decoding the resources. */
function nonceOf(b: Buffer): string {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const c = b[i++]!;
      v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) return v;
      shift += 7;
    }
  };
  while (i < b.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 2) {
      const len = varint();
      if (key >>> 3 === 5) return b.toString("latin1", i, i + len);
      i += len;
    } else if (wire === 0) varint();
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return "";
}

const ackBytes = (nonce: string): Uint8Array => toBinary(request, create(request, { typeUrl: EDS, responseNonce: nonce }));

function connect(port: number, streams: number, names: readonly string[]): void {
  for (let i = 0; i < streams; i++) {
    const ch = new GrpcChannel({ address: `127.0.0.1:${port}`, window: 16 * 1024 * 1024 });
    channels.push(ch);
    const call = ch.call(
      DELTA_METHOD_PATH,
      {},
      {
        message: (b) => {
          lastReadAt = now();
          if (Number.isNaN(firstReadAt)) firstReadAt = lastReadAt;
          call.write(ackBytes(nonceOf(b)));
          if (++acks >= expected) {
            expected = Infinity;
            report();
          }
        },
        status: (code, details) => {
          errors++;
          firstError ||= `gRPC status ${code}: ${details}`;
          report();
        },
      },
    );
    calls.push(call);
    const first = create(request, {
      typeUrl: EDS,
      resourceNamesSubscribe: [...names],
      node: {
        id: `sidecar~10.1.${i >> 8}.${i & 255}~p${i}.ns~ns.svc.cluster.local`,
        cluster: "bench",
        userAgentName: "envoy",
        userAgentVersionType: { case: "userAgentVersion", value: "1.40.0" },
      },
    });
    call.write(toBinary(request, first));
  }
}

process.on("message", (m: FanoutToClients) => {
  switch (m.cmd) {
    case "connect":
      connect(m.port, m.streams, m.names);
      break;
    case "expect":
      if (acks >= m.acks) report();
      else expected = m.acks;
      break;
    case "exit":
      for (const c of calls) c.cancel();
      for (const ch of channels) ch.close();
      process.exit(0);
  }
});
