// The real server for the load generator's unit tests: the control plane translating a generated
// mesh (src/loadgen/mesh.ts) and the xDS server on a loopback port, in this process.
import { pino } from "pino";
import type { InputKind } from "../../../src/api/objects.js";
import { LoadMesh } from "../../../src/loadgen/mesh.js";
import type { LoadProxy } from "../../../src/loadgen/proxy.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { XdsServer } from "../../../src/xds/server.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";

export interface Running {
  readonly mesh: LoadMesh;
  readonly server: XdsServer;
  readonly address: string;
  /** Closed by stop(). */
  track(p: LoadProxy): void;
  /** The control plane reads the mesh as it is now (`changed`: the kinds edited). */
  update(changed: ReadonlySet<InputKind>): void;
  stop(): Promise<void>;
}

function objectsOf(mesh: LoadMesh) {
  const objects = [...mesh.globalObjects()];
  for (let i = 0; i < mesh.shape.services; i++) objects.push(...mesh.serviceObjects(i));
  return objects.map((object) => ({ object }));
}

export async function startServer(services: number): Promise<Running> {
  const mesh = new LoadMesh({ services, variant: "basic" });
  const cache = new SnapshotCache();
  const logger = pino({ level: "silent" });
  const cp = new ControlPlane({ cache, logger });
  cp.update(meshInputFrom(objectsOf(mesh)), "all");
  const server = new XdsServer({ cache, views: cp, logger });
  const port = await server.listen("127.0.0.1:0");
  const proxies: LoadProxy[] = [];
  return {
    mesh,
    server,
    address: `127.0.0.1:${port}`,
    track: (p) => void proxies.push(p),
    update: (changed) => void cp.update(meshInputFrom(objectsOf(mesh)), changed),
    stop: async () => {
      for (const p of proxies) p.close();
      await server.close(0);
    },
  };
}
