// A real meshpilot server over the reviews-canary example (file mode, ephemeral ports, silent
// log) with one ADS client, started before a file's tests and stopped after them.
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { EXAMPLE_DIR } from "../e2e/mesh-fixture.js";
import { AdsClient } from "./xds-client.js";

export interface ExampleServer {
  readonly server: RunningServer;
  readonly client: AdsClient;
}

/** Registers the hooks; the returned object's fields are set once `beforeAll` has run. */
export function useExampleServer(): ExampleServer {
  const at = {} as { server: RunningServer; client: AdsClient };
  beforeAll(async () => {
    at.server = await startServer({ configDir: EXAMPLE_DIR, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }) });
    at.client = new AdsClient(`127.0.0.1:${at.server.xdsPort}`);
  });
  afterAll(async () => {
    at.client?.close();
    await at.server?.stop();
  });
  return at;
}
