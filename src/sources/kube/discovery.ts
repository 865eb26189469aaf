/**
 * Which version of each input kind to watch: the first version of the registry's list that the
 * API server serves for that kind (a CRD may serve a kind in fewer versions, or not be installed
 * at all). Objects are read whatever version they were written in: the server converts them.
 * Core kinds need no discovery.
 */
import { KINDS, type KindInfo } from "../../api/kinds.js";
import { KubeApiError, type KubeClient } from "./client.js";

export interface WatchedKind {
  readonly info: KindInfo;
  readonly version: string;
}

export interface Discovery {
  readonly watched: readonly WatchedKind[];
  /** Kinds the server does not serve in any version meshpilot reads (their CRD is not installed). */
  readonly missing: readonly KindInfo[];
}

/** One discovery pass; throws when the server cannot be asked (the caller retries). */
export async function discoverKinds(client: KubeClient): Promise<Discovery> {
  const watched: WatchedKind[] = [];
  const missing: KindInfo[] = [];
  const resources = new Map<string, ReadonlySet<string> | undefined>();
  const served = async (group: string, version: string): Promise<ReadonlySet<string> | undefined> => {
    const gv = `${group}/${version}`;
    if (!resources.has(gv)) resources.set(gv, await resourceList(client, `/apis/${gv}`));
    return resources.get(gv);
  };
  for (const info of KINDS) {
    if (info.group === "") {
      watched.push({ info, version: info.versions[0]! });
      continue;
    }
    let found: string | undefined;
    for (const v of info.versions) {
      if ((await served(info.group, v))?.has(info.plural)) {
        found = v;
        break;
      }
    }
    if (found) watched.push({ info, version: found });
    else missing.push(info);
  }
  return { watched, missing };
}

/**
 * Of the newly served kinds, those to watch now. A CRD being installed shows up in discovery one
 * version at a time, so a kind seen only in a fallback version (v1beta1 before v1) is taken when
 * the next pass still offers no better one; otherwise a freshly installed CRD would be watched in
 * its deprecated version for the life of the process. `fallbackSeen` carries that to the next pass.
 */
export function settledKinds(
  seen: readonly WatchedKind[],
  fallbackSeen: ReadonlyMap<KindInfo, string>,
): { readonly found: WatchedKind[]; readonly fallbackSeen: Map<KindInfo, string> } {
  const found = seen.filter((w) => w.version === w.info.versions[0] || fallbackSeen.get(w.info) === w.version);
  const waiting = seen.filter((w) => !found.includes(w));
  return { found, fallbackSeen: new Map(waiting.map((w) => [w.info, w.version])) };
}

/** The plural names a group version serves; undefined when the server does not serve it. */
async function resourceList(client: KubeClient, path: string): Promise<ReadonlySet<string> | undefined> {
  const res = await client.request("GET", path);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new KubeApiError(res.status, "", `GET ${path}: HTTP ${res.status}`);
  const body = res.body as { resources?: Array<{ name?: string }> };
  return new Set((body.resources ?? []).map((r) => r.name ?? "").filter((n) => n !== "" && !n.includes("/")));
}
