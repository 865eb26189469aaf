// grpc-js keeps channelz records for every server, session and call unless told not to: a time
// stamp and counters per message, an entry per connection. meshpilot serves no channelz admin
// service, so with 2000 proxies that is work and memory for nobody.
import { getChannelzHandlers, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { XdsServer } from "../../../src/xds/server.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";

/** How many gRPC servers of this process channelz knows. */
function channelzServers(): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = { request: { max_results: "1000", start_server_id: "0" } } as unknown as ServerUnaryCall<unknown, unknown>;
    const done: sendUnaryData<{ server?: unknown[] }> = (err, value) =>
      err ? reject(new Error(String(err.details ?? "channelz error"))) : resolve(value?.server?.length ?? 0);
    (getChannelzHandlers().GetServers as unknown as (c: typeof call, cb: typeof done) => void)(call, done);
  });
}

it("the xDS server registers nothing with channelz", async () => {
  const before = await channelzServers();
  const server = new XdsServer({
    cache: new SnapshotCache(),
    views: { viewKey: () => ({ key: "k" }), activate: () => {}, deactivate: () => {} },
  });
  await server.listen("127.0.0.1:0");
  try {
    expect(await channelzServers()).toBe(before);
  } finally {
    await server.close(100);
  }
});
