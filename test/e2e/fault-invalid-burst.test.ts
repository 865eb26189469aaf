/**
 * Fault: a burst of edits in the watched config directory of `meshpilot serve` (the built CLI, a
 * real process), broken ones interleaved with valid weight changes, written the ways people and
 * editors write: in place, half-written, temp file + rename, truncate then write. A real Envoy
 * (delta ADS) carries a bounded load loop to real backends throughout.
 *
 * What is proven: Envoy only ever holds valid states of the split (its route configuration is
 * sampled throughout the burst; each broken edit carries weights no valid edit uses, and is
 * followed by a pause long enough for a push, so an accepted broken edit would be seen); it ends
 * in the last valid state and traffic follows it; every broken edit is reported once, when it
 * appears, in serve's log, naming object, field and reason (a YAML syntax error: file and line);
 * what stays broken is listed by /debug/diagnostics; nothing else changes (every other resource
 * keeps its version); Envoy never rejects anything; no request fails.
 */
import { closeSync, ftruncateSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import { tally } from "../support/backend.js";
import { heldConfig, type HeldType } from "../support/envoy-held.js";
import type { Envoy, Json } from "../support/envoy.js";
import { startLoadLoop, type LoadLoop } from "../support/load-loop.js";
import { ensureBuilt, type LogLine } from "../support/serve-process.js";
import { sleep, until } from "../support/wait.js";
import { startProcessMesh, type ProcessMesh } from "./process-mesh.js";
import { destinationRuleYaml, splitVirtualServiceYaml, type ServiceSpec } from "./traffic-fixture.js";

const SERVICES: readonly ServiceSpec[] = [
  { name: "web", workloads: [{ version: "v1" }, { version: "v2" }] },
  { name: "api", workloads: [{ version: "v1" }] },
];

const webDr = destinationRuleYaml("web", { subsets: ["v1", "v2"] });
const webVs = (v1: number, v2: number, opts: { name?: string; uriRegex?: string } = {}): string => splitVirtualServiceYaml("web", { v1, v2 }, opts);
const web = (v1: number, v2: number): string => `${webDr}---\n${webVs(v1, v2)}`;

const apiVs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api]
  http:
    - route: [{ destination: { host: api } }]
`;

/** Splits the burst writes; never used by a broken edit. */
const VALID = ["100/0", "80/20", "60/40", "20/80", "0/100"];

/** The web split Envoy holds ("v1/v2"), from its route configuration; undefined when it has no route for web. */
async function envoySplit(envoy: Envoy, port: number): Promise<string | undefined> {
  const dump = (await envoy.configDump("dynamic_route_configs")) as { configs?: Array<Record<string, Json>> };
  for (const c of dump.configs ?? []) {
    const rc = c["route_config"] as { name?: string; virtual_hosts?: Array<{ domains?: string[]; routes?: Array<Record<string, Json>> }> } | undefined;
    if (rc?.name !== String(port)) continue;
    const vh = rc.virtual_hosts?.find((v) => v.domains?.includes("web"));
    const route = vh?.routes?.[0]?.["route"] as { cluster?: string; weighted_clusters?: { clusters?: Array<{ name: string; weight?: number }> } } | undefined;
    if (!route) return undefined;
    const w = { v1: 0, v2: 0 };
    const add = (name: string, weight: number) => {
      const subset = name.split("|")[2];
      if (subset === "v1" || subset === "v2") w[subset] += weight;
    };
    if (route.cluster) add(route.cluster, 100);
    for (const wc of route.weighted_clusters?.clusters ?? []) add(wc.name, wc.weight ?? 0);
    return `${w.v1}/${w.v2}`;
  }
  return undefined;
}

/** Truncate then write in two parts with a pause, as an editor that writes in place. */
function truncateThenWrite(file: string, text: string): Promise<void> {
  const fd = openSync(file, "r+");
  ftruncateSync(fd, 0);
  const half = Math.floor(text.length / 2);
  writeSync(fd, text.slice(0, half), 0);
  return sleep(5).then(() => {
    writeSync(fd, text.slice(half), half);
    closeSync(fd);
  });
}

let mesh: ProcessMesh | undefined;
const loads: LoadLoop[] = [];

beforeAll(() => ensureBuilt("fault-invalid-burst"), 300_000);

afterAll(async () => {
  for (const l of loads) await l.stop();
  await mesh?.stop();
});

describe("a burst of invalid edits interleaved with valid ones", () => {
  it("only the valid edits reach Envoy; each invalid one is reported; nothing else is disturbed", async () => {
    mesh = await startProcessMesh({ name: "fault-invalid-burst", services: SERVICES, files: () => ({ "web.yaml": web(100, 0), "api.yaml": apiVs }) });
    const m = mesh;
    const e = m.envoy;
    const port = m.a.port("web");
    await until(async () => (await envoySplit(e, port)) === "100/0", "Envoy to hold the initial split", 20_000);
    const before = await heldConfig(e);

    // Bounded: one worker per service, at most 20 000 requests and 120 s each.
    loads.push(startLoadLoop({ url: m.url("web"), host: "web", concurrency: 1, pauseMs: 5, maxRequests: 20_000, maxMs: 120_000 }));
    loads.push(startLoadLoop({ url: m.url("api"), host: "api", concurrency: 1, pauseMs: 5, maxRequests: 20_000, maxMs: 120_000 }));

    // Envoy's split, sampled until the burst is over.
    const seen = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await envoySplit(e, port).catch(() => "unreadable");
        seen.add(s ?? "none");
        await sleep(20);
      }
    })();

    const file = (f: string) => join(m.dir, f);
    const half = web(45, 55);
    type Step = { what: string; write: () => void | Promise<void>; pauseMs: number };
    const steps: Step[] = [
      { what: "valid 80/20", write: () => m.write("web.yaml", web(80, 20)), pauseMs: 300 },
      { what: "bad regex (61/39)", write: () => m.write("web.yaml", `${webDr}---\n${webVs(61, 39, { uriRegex: "/users/([0-9]+" })}`), pauseMs: 300 },
      {
        what: "wrong type",
        write: () =>
          m.write("api-weights.yaml", apiVs.replace("name: api,", "name: api-weights,").replace("host: api } }]", 'host: api }, weight: "heavy" }]')),
        pauseMs: 10,
      },
      { what: "valid 60/40", write: () => m.write("web.yaml", web(60, 40)), pauseMs: 300 },
      {
        what: "unknown field",
        write: () => m.write("api-typo.yaml", apiVs.replace("name: api,", "name: api-typo,").replace("  http:", "  htttp:")),
        pauseMs: 0,
      },
      { what: "duplicate name (33/67)", write: () => m.write("dup.yaml", webVs(33, 67)), pauseMs: 300 },
      // Cut inside the VirtualService's flow mapping: a writer that died half-way.
      { what: "half-written YAML (45/55)", write: () => m.write("web.yaml", half.slice(0, half.indexOf("weight: 45") + "weight: 4".length)), pauseMs: 300 },
      {
        what: "valid 20/80, temp file + rename",
        write: () => {
          m.write(".web.yaml.tmp", web(20, 80));
          renameSync(file(".web.yaml.tmp"), file("web.yaml"));
        },
        pauseMs: 300,
      },
      { what: "valid 0/100, truncate then write", write: () => truncateThenWrite(file("web.yaml"), web(0, 100)), pauseMs: 0 },
    ];
    for (const s of steps) {
      await s.write();
      if (s.pauseMs) await sleep(s.pauseMs);
    }
    await until(async () => (await envoySplit(e, port)) === "0/100", "Envoy to hold the last valid split", 20_000).catch(async (err: Error) => {
      const diags = await (await fetch(`${m.serve.debug}/debug/diagnostics`)).text();
      throw new Error(
        `${err.message}: it holds ${await envoySplit(e, port)}, held ${[...seen].join(" ")}; diagnostics ${diags}\nlog:\n${m.serve.output().slice(-3000)}`,
      );
    });
    await sleep(500); // anything still in flight would show now
    sampling = false;
    await sampler;
    console.log("[fault-invalid-burst] splits Envoy held during the burst:", [...seen].join(" "));
    expect(
      [...seen].filter((s) => !VALID.includes(s)),
      "splits Envoy held that no valid edit wrote",
    ).toEqual([]);
    expect(await envoySplit(e, port)).toBe("0/100");
    expect(await tally(m.url("web"), 40, { host: "web" })).toEqual({ v2: 40 });

    // Every broken edit was reported when it appeared, naming object, field and reason.
    const refused = m.serve.lines.filter((l) => l.msg === "config input error");
    console.log(
      "[fault-invalid-burst] refused:",
      JSON.stringify(refused.map((l) => ({ code: l["code"], object: l["object"], path: l["path"], line: l["line"], reason: l["reason"] }))),
    );
    const reported = (what: string, match: (l: LogLine) => boolean) => expect(refused.some(match), `a log line for the ${what}`).toBe(true);
    const reason = (l: LogLine) => String(l["reason"]);
    reported(
      "bad regex",
      (l) => l["object"] === "VirtualService default/web" && String(l["path"]).includes("regex") && /regex|regular expression|RE2/i.test(reason(l)),
    );
    reported(
      "wrong type",
      (l) => l["object"] === "VirtualService default/api-weights" && String(l["path"]).endsWith("weight") && /integer|number/i.test(reason(l)),
    );
    reported("unknown field", (l) => l["object"] === "VirtualService default/api-typo" && reason(l).includes("htttp"));
    reported("duplicate name", (l) => l["object"] === "VirtualService default/web" && l["path"] === "metadata.name" && /duplicate/i.test(reason(l)));
    reported("half-written YAML", (l) => String(l["file"]).endsWith("web.yaml") && typeof l["line"] === "number" && /YAML/.test(reason(l)));

    // What is still broken is listed; what was fixed is not.
    const diags = (await (await fetch(`${m.serve.debug}/debug/diagnostics`)).json()) as Diagnostic[];
    const errorsFor = (name: string) => diags.filter((d) => d.severity === "error" && d.object?.name === name);
    expect(errorsFor("api-weights").map((d) => d.path)).toEqual(["spec.http[0].route[0].weight"]);
    expect(errorsFor("api-typo").map((d) => d.path)).toContain("spec.htttp");
    expect(errorsFor("web").map((d) => d.source?.file)).toEqual([file("dup.yaml")]);
    expect(diags.filter((d) => d.severity === "error" && d.source?.file === file("web.yaml"))).toEqual([]);

    // Nothing else changed: every resource but web's route configuration keeps its version.
    const after = await heldConfig(e);
    for (const t of ["cds", "eds", "lds", "rds"] as HeldType[]) {
      const changed = [...new Set([...before[t].keys(), ...after[t].keys()])].filter((n) => before[t].get(n) !== after[t].get(n));
      expect(changed, `${t} resources that changed`).toEqual(t === "rds" ? [String(port)] : []);
    }
    for (const stat of ["cluster_manager.cds.update_rejected", "listener_manager.lds.update_rejected"]) expect(await e.stat(stat), stat).toBe(0);
    expect(Object.entries(await e.stats("\\.rds\\..*update_rejected$")).filter(([, v]) => v > 0)).toEqual([]);
    expect(await (await fetch(`${m.serve.debug}/metrics`)).text()).not.toMatch(/^pilot_total_xds_rejects\{/m);

    for (const l of loads.splice(0)) {
      const r = await l.stop();
      console.log("[fault-invalid-burst] load loop:", JSON.stringify({ ...r, failures: r.failures.slice(0, 5) }));
      expect(r.bounded).toBe(false);
      expect(r.failures).toEqual([]);
      expect(r.requests).toBeGreaterThan(10);
    }
  }, 240_000);
});
