// Findings never change what is served, so a build works them out after its push: the analysis
// runs once the responses were queued (in the server, once its streams were served), never
// between a change and the first response written; builds that come before it share one run.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import type { InputKind, InputObject, StoredObject } from "../../../src/api/objects.js";
import { endpointWork } from "../../../src/model/endpoints.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { connectNode, serviceDocs, storedObjects, workloadNode } from "../../support/control-plane.js";

const rule = (host: string): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: ${host}, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;

/** reviews' one pod is version `version` (its address moves with it); ratings stands. */
const mesh = (version: string, host = "reviews"): StoredObject<InputObject>[] =>
  storedObjects(
    serviceDocs("reviews", "default", "10.96.0.20", "10.244.0.11").replace("version: v1", `version: ${version}`),
    serviceDocs("ratings", "default", "10.96.0.21", "10.244.0.21"),
    rule(host),
  );

const ENDPOINTS: ReadonlySet<InputKind> = new Set(["Pod", "EndpointSlice"]);

/** A control plane whose after-push work waits in `tasks`, and the order things happened in. */
function deferred(): { cp: ControlPlane; cache: SnapshotCache; tasks: (() => void)[]; events: string[] } {
  const cache = new SnapshotCache();
  const tasks: (() => void)[] = [];
  const events: string[] = [];
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }), afterPush: (t) => tasks.push(t) });
  return { cp, cache, tasks, events };
}

function runAll(tasks: (() => void)[]): void {
  for (const t of tasks.splice(0)) t();
}

const findings = (cp: ControlPlane): string[] => cp.diagnostics().map(formatDiagnostic).sort();

function fromScratch(objects: readonly StoredObject<InputObject>[]): string[] {
  const cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
  cp.update(meshInputFrom(objects), "all");
  connectNode(cp, workloadNode(0, 2));
  return findings(cp);
}

describe("work after the push", () => {
  it("analyses a change once, after its responses were queued", () => {
    const { cp, cache, tasks, events } = deferred();
    cp.update(meshInputFrom(mesh("v1")), "all");
    const key = connectNode(cp, workloadNode(0, 2));
    runAll(tasks);
    const before = cp.settleStats.analyses;
    cache.watch(key, () => events.push(`queued after ${cp.settleStats.analyses - before} analyses`));
    // The pod becomes v2: subset v1 now selects nothing, an endpoint finding.
    cp.update(meshInputFrom(mesh("v2")), ENDPOINTS);
    expect(events).toEqual(["queued after 0 analyses"]);
    expect(cp.settleStats.analyses).toBe(before);
    expect(tasks).toHaveLength(1);
    runAll(tasks);
    expect(cp.settleStats.analyses).toBe(before + 1);
    expect(findings(cp).some((f) => f.includes("IST0173") && f.includes('subset "v1"'))).toBe(true);
    expect(findings(cp)).toEqual(fromScratch(mesh("v2")));
    // Asked for again, and after another settle with nothing owed: not run again.
    cp.update(meshInputFrom(mesh("v2")), new Set());
    runAll(tasks);
    expect(cp.settleStats.analyses).toBe(before + 2);
    findings(cp);
    expect(cp.settleStats.analyses).toBe(before + 2);
  });

  it("works out findings when asked for before the push is done, and not again after it", () => {
    const { cp, tasks } = deferred();
    cp.update(meshInputFrom(mesh("v1")), "all");
    connectNode(cp, workloadNode(0, 2));
    runAll(tasks);
    const before = cp.settleStats.analyses;
    cp.update(meshInputFrom(mesh("v2")), ENDPOINTS);
    expect(findings(cp)).toEqual(fromScratch(mesh("v2")));
    expect(cp.settleStats.analyses).toBe(before + 1);
    runAll(tasks);
    expect(cp.settleStats.analyses).toBe(before + 1);
  });

  it("gives builds that came before the push was done one analysis, of the last, from scratch when any was a full build", () => {
    const { cp, tasks } = deferred();
    cp.update(meshInputFrom(mesh("v1")), "all");
    connectNode(cp, workloadNode(0, 2));
    runAll(tasks);
    const before = { ...cp.settleStats };
    // A rule edit (its host matches no service: a finding of the rules, not of endpoints), then an
    // endpoint change: the last build's analysis must not start from the analysis before the edit.
    cp.update(meshInputFrom(mesh("v1", "nowhere")), new Set(["DestinationRule"]));
    cp.update(meshInputFrom(mesh("v2", "nowhere")), ENDPOINTS);
    expect(tasks).toHaveLength(1);
    runAll(tasks);
    expect(cp.settleStats).toEqual({ analyses: before.analyses + 1, settles: before.settles + 1 });
    expect(findings(cp).some((f) => f.includes("IST0174"))).toBe(true);
    expect(findings(cp)).toEqual(fromScratch(mesh("v2", "nowhere")));
    // Two endpoint changes: one analysis, from the last one's.
    cp.update(meshInputFrom(mesh("v1", "nowhere")), ENDPOINTS);
    cp.update(meshInputFrom(mesh("v2")), new Set(["DestinationRule"]));
    cp.update(meshInputFrom(mesh("v1")), ENDPOINTS);
    runAll(tasks);
    expect(cp.settleStats.analyses).toBe(before.analyses + 2);
    expect(findings(cp)).toEqual(fromScratch(mesh("v1")));
  });

  it("indexes which services read each Pod after a full build's push, not in the first endpoint change", () => {
    const { cp, tasks } = deferred();
    cp.update(meshInputFrom(mesh("v1")), "all");
    connectNode(cp, workloadNode(0, 2));
    const before = endpointWork.podKeyHostIndexes;
    runAll(tasks);
    expect(endpointWork.podKeyHostIndexes).toBe(before + 1);
    cp.update(meshInputFrom(mesh("v2")), ENDPOINTS);
    expect(endpointWork.podKeyHostIndexes).toBe(before + 1);
    // Carried on by the endpoint change: its push owes no index again.
    runAll(tasks);
    cp.update(meshInputFrom(mesh("v1")), ENDPOINTS);
    runAll(tasks);
    expect(endpointWork.podKeyHostIndexes).toBe(before + 1);
  });
});
