// A config directory as the mesh (what `meshpilot serve --config-dir` watches): one YAML file per
// service, rewritten whole and renamed into place on a change, so that a watcher never reads half
// a file; objects are diffed by the server, so only what changed is new.
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import type { InputObject } from "../api/objects.js";
import type { PlannedChange } from "./churn.js";
import type { MeshDriver } from "./driver.js";
import type { LoadMesh } from "./mesh.js";

const GLOBAL_FILE = "loadgen-00-namespaces.yaml";
const serviceFile = (i: number): string => `loadgen-svc-${i}.yaml`;
/** Concurrent file writes during setup. */
const WRITE_CONCURRENCY = 32;

/**
 * Manifests as kubectl, Helm and people write them: an object the mesh shares between two places
 * is written out twice, not as a YAML anchor and alias (which no such file has, and which sends
 * the server's reading down its slow path for every file).
 */
export function toYaml(objects: readonly InputObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}

export class DirDriver implements MeshDriver {
  readonly describe: string;

  constructor(private readonly dir: string) {
    this.describe = `config directory ${dir}`;
  }

  private async write(name: string, text: string): Promise<void> {
    const tmp = join(this.dir, `.${name}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(this.dir, name));
  }

  async setup(mesh: LoadMesh): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.write(GLOBAL_FILE, toYaml(mesh.globalObjects()));
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < mesh.shape.services; i = next++) await this.write(serviceFile(i), toYaml(mesh.serviceObjects(i)));
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
  }

  async apply(mesh: LoadMesh, change: PlannedChange): Promise<void> {
    await this.write(serviceFile(change.service), toYaml(mesh.serviceObjects(change.service)));
  }

  async teardown(mesh: LoadMesh): Promise<void> {
    for (let i = 0; i < mesh.shape.services; i++) await rm(join(this.dir, serviceFile(i)), { force: true });
    await rm(join(this.dir, GLOBAL_FILE), { force: true });
  }
}
