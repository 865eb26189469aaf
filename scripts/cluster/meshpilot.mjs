// meshpilot installed the way a user installs it: deploy/crds.yaml and deploy/meshpilot.yaml
// applied as they are, except for the image (a tarball imported into containerd, never pulled).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ensureGatewayApi, GATEWAY_API_CRDS } from "../ensure-gateway-api.mjs";
import { kubectl } from "./up.mjs";

export const DEPLOY_DIR = fileURLToPath(new URL("../../deploy/", import.meta.url));

/**
 * Replaces every `image: <from>` with `image: <to>` and sets `imagePullPolicy: Never` on those
 * containers, like a kustomize `images:` override; throws when `from` does not occur, so that a
 * renamed image in deploy/ cannot go unnoticed.
 * @param {string} text a multi-document manifest
 * @param {Record<string, string>} images from → to
 */
export function substituteImages(text, images) {
  const seen = new Set();
  const lines = text.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*(?:-\s+)?)image:\s*"?([^"\s]+)"?\s*$/.exec(lines[i]);
    if (!m || !(m[2] in images)) {
      out.push(lines[i]);
      continue;
    }
    seen.add(m[2]);
    out.push(`${m[1]}image: ${images[m[2]]}`);
    const indent = " ".repeat(m[1].length);
    // The container's pull policy, if written right below the image, is replaced; otherwise added.
    if (i + 1 < lines.length && /^\s*imagePullPolicy:/.test(lines[i + 1])) i++;
    out.push(`${indent}imagePullPolicy: Never`);
  }
  const missing = Object.keys(images).filter((k) => !seen.has(k));
  if (missing.length > 0) throw new Error(`image(s) ${missing.join(", ")} not found in the manifest`);
  return out.join("\n");
}

/** The image deploy/meshpilot.yaml names. */
export const MANIFEST_IMAGE = "meshpilot:dev";

/**
 * Waits until the selected CRDs report Established. kubectl wait fails at once (not waits) on a
 * CRD whose status has no conditions yet, which happens right after the apply: retried, bounded.
 * @param {(args: string[]) => Promise<unknown>} k kubectl
 * @param {string[]} which `-l <selector>` or CRD names
 */
async function waitEstablished(k, which) {
  for (let attempt = 1; ; attempt++) {
    try {
      await k(["wait", "--for=condition=Established", "--timeout=60s", "crd", ...which]);
      return;
    } catch (err) {
      if (attempt >= 30 || !/status\.conditions accessor error/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Applies the Gateway API's CRDs (the release meshpilot implements, as a cluster operator installs
 * it; meshpilot discovers the kinds it watches when it starts, so they come first), meshpilot's
 * CRDs and meshpilot, and waits for the rollout (both replicas Ready, which /ready grants only
 * after the informers synced).
 */
export async function deployMeshpilot(cfg, bins, image, log = () => {}) {
  const k = (args) => kubectl(cfg, bins, args);
  const gatewayApi = await ensureGatewayApi({ log });
  // Server-side: the largest Gateway API CRDs exceed the last-applied annotation's size limit.
  await k(["apply", "--server-side", "-f", gatewayApi.crds]);
  await k(["apply", "-f", `${DEPLOY_DIR}crds.yaml`]);
  await waitEstablished(k, ["-l", "app.kubernetes.io/part-of=meshpilot"]);
  await waitEstablished(
    k,
    GATEWAY_API_CRDS.map((plural) => `${plural}.gateway.networking.k8s.io`),
  );
  const manifest = cfg.path("manifests", "meshpilot.yaml");
  writeFileSync(manifest, substituteImages(readFileSync(`${DEPLOY_DIR}meshpilot.yaml`, "utf8"), { [MANIFEST_IMAGE]: image }));
  await k(["apply", "-f", manifest]);
  log("meshpilot applied; waiting for both replicas");
  await k(["-n", "meshpilot-system", "rollout", "status", "deployment/meshpilot", "--timeout=180s"]);
}
