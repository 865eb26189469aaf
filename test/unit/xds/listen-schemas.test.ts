// The request schemas come from the Envoy registry, built from its descriptor set when first used.
// A server builds it before it listens, not on the first request: in a reconnect storm every
// proxy's first request arrives at once, and that build stalled the event loop among them.
import { expect, it } from "vitest";
import { registryBuilt } from "../../../src/xds/registry.js";
import { XdsServer } from "../../../src/xds/server.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";

it("the registry is built when the server listens, before any stream", async () => {
  const server = new XdsServer({
    cache: new SnapshotCache(),
    views: { viewKey: () => ({ key: "k" }), activate: () => {}, deactivate: () => {} },
  });
  expect(registryBuilt()).toBe(false);
  await server.listen("127.0.0.1:0");
  try {
    expect(registryBuilt()).toBe(true);
  } finally {
    await server.close(100);
  }
});
