// The HTTP/2 windows the xDS server grants proxies: a 1000-service EDS subscription (~160 KiB of
// names) or a delta reconnect's resource versions must go out whole, not 64 KiB per turn of the
// server's event loop (HTTP/2's default windows).
import http2 from "node:http2";
import { expect, it } from "vitest";
import { RECEIVE_WINDOW_BYTES, XdsServer } from "../../../src/xds/server.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";

it("grants every connection and stream a receive window far above a large subscription", async () => {
  const server = new XdsServer({
    cache: new SnapshotCache(),
    views: { viewKey: () => ({ key: "k" }), activate: () => {}, deactivate: () => {} },
  });
  const port = await server.listen("127.0.0.1:0");
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once("remoteSettings", () => resolve());
      client.once("error", reject);
    });
    expect(RECEIVE_WINDOW_BYTES).toBeGreaterThanOrEqual(1024 * 1024);
    expect(client.remoteSettings.initialWindowSize).toBe(RECEIVE_WINDOW_BYTES);
    // The connection window grows by a WINDOW_UPDATE: a ping's answer comes after it.
    await new Promise<void>((resolve, reject) => client.ping((e) => (e ? reject(e) : resolve())));
    expect(client.state.remoteWindowSize).toBe(RECEIVE_WINDOW_BYTES);
  } finally {
    client.close();
    await server.close(100);
  }
});
