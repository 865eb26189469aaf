// Where a run's mesh lives: a config directory that a server watches, or a kube-apiserver.
import type { PlannedChange } from "./churn.js";
import type { LoadMesh } from "./mesh.js";
import type { MovedEndpoint } from "./mesh-objects.js";

export interface MeshDriver {
  /** For the report. */
  readonly describe: string;
  /** Writes the whole mesh. */
  setup(mesh: LoadMesh): Promise<void>;
  /** Makes `change`, which `mesh` already holds; an endpoint change's pod replaced `replaced`. */
  apply(mesh: LoadMesh, change: PlannedChange, replaced?: MovedEndpoint): Promise<void>;
  /** Removes what setup wrote. */
  teardown(mesh: LoadMesh): Promise<void>;
}
