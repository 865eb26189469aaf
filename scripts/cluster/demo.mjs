// The reviews canary (deploy/local/demo.yaml) applied as its README says, and waited for.
import { fileURLToPath } from "node:url";
import { kubectl } from "./up.mjs";

export const DEMO_MANIFEST = fileURLToPath(new URL("../../deploy/local/demo.yaml", import.meta.url));

export async function deployDemo(cfg, bins, _images, log = () => {}) {
  const k = (args) => kubectl(cfg, bins, args);
  await k(["apply", "-f", DEMO_MANIFEST]);
  log("demo applied; waiting for its pods");
  for (const d of ["reviews-v1", "reviews-v2", "productpage-v1"]) await k(["-n", "demo", "rollout", "status", `deployment/${d}`, "--timeout=180s"]);
}
