import type { MeshModel } from "../model/ir.js";

/** "Did you mean": services with the same short name in another namespace. */
export function nearMiss(mesh: MeshModel, host: string): string {
  const short = host.split(".")[0];
  const similar = [...mesh.services.keys()].filter((h) => h !== host && h.split(".")[0] === short);
  return similar.length ? ` (did you mean ${similar.map((h) => `"${h}"`).join(" or ")}?)` : "";
}
