/**
 * Every finding code meshpilot can emit has a case that fires it and a near miss that does not
 * (finding-cases.ts), run the way a user meets it: a config directory through `meshpilot analyze`
 * (or `translate` for per-proxy findings). The codes are collected from src/, so a new code
 * without a case fails here, as does a case for a code src/ no longer has.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Codes } from "../../../src/api/codes.js";
import { formatDiagnostic, formatObjectRef, type Diagnostic } from "../../../src/api/diagnostics.js";
import { analyzeCommand } from "../../../src/cli/analyze.js";
import { translateOffline } from "../../../src/pipeline/offline.js";
import { loadConfigDir } from "../../../src/runtime/config-dir.js";
import { FINDING_CASES, type FindingCase, type Files } from "./finding-cases.js";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "../../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === "gen" ? [] : sourceFiles(join(dir, e.name))) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}
const SOURCES = sourceFiles(SRC).map((f) => ({ file: f.slice(SRC.length + 1), text: readFileSync(f, "utf8") }));

/** Every code literal in src/ (`"IST0101"`, `"MP0406"`). */
const EMITTED = new Set(SOURCES.flatMap(({ text }) => [...text.matchAll(/"((?:MP|IST)\d{4})"/g)].map((m) => m[1]!)));

const INPUT_CODES = new Set<string>(Object.values(Codes));

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function writeDir(files: Files): string {
  const dir = mkdtempSync(join(tmpdir(), "mp-finding-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(typeof files === "string" ? { "config.yaml": files } : files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** What a user sees for this config: `analyze -o json`, or `translate`'s findings for the case's proxy. */
async function run(c: FindingCase, fire: boolean): Promise<{ findings: readonly Diagnostic[]; inputErrors: readonly Diagnostic[] }> {
  if (c.via && "module" in c.via) return { findings: await c.via.module(fire), inputErrors: [] };
  const { objects, diagnostics } = await loadConfigDir(writeDir(fire ? c.fires : c.nearMiss));
  const inputErrors = diagnostics.filter((d) => d.severity === "error");
  if (c.via) {
    const r = translateOffline(objects, diagnostics, c.via.translate);
    if ("error" in r) throw new Error(r.error);
    return { findings: r.diagnostics, inputErrors };
  }
  return { findings: JSON.parse(analyzeCommand(objects, diagnostics, "json").output) as Diagnostic[], inputErrors };
}

const hits = (c: FindingCase, ds: readonly Diagnostic[]) => ds.filter((d) => d.code === c.code && (!c.at || (d.object && formatObjectRef(d.object) === c.at)));
const shown = (ds: readonly Diagnostic[]) => ds.map(formatDiagnostic).join("\n") || "(none)";

describe("finding coverage", () => {
  it("collects the codes from src/ (the collector itself works)", () => {
    for (const code of ["IST0101", "IST0106", "MP0001", "MP0406", "MP0871"]) expect(EMITTED).toContain(code);
  });

  it("has a case for every code src/ can emit, and no case for a code it cannot", () => {
    const covered = new Set(FINDING_CASES.map((c) => c.code));
    expect([...EMITTED].filter((c) => !covered.has(c)).sort(), "codes without a case in finding-cases.ts").toEqual([]);
    expect([...covered].filter((c) => !EMITTED.has(c)).sort(), "cases for codes src/ does not emit").toEqual([]);
  });

  it("gives each meshpilot code one meaning: no two codes tables name the same MP code", () => {
    const owners = new Map<string, string[]>();
    for (const { file, text } of SOURCES)
      for (const m of text.matchAll(/^\s*(\w+):\s*"(MP\d{4})",?$/gm)) if (m[1] !== "code") owners.set(m[2]!, [...(owners.get(m[2]!) ?? []), `${file} ${m[1]}`]);
    expect([...owners].filter(([, o]) => o.length > 1)).toEqual([]);
  });

  it.each(FINDING_CASES.map((c) => [`${c.code} ${c.finding}`, c] as const))("%s: fires, and its near miss does not", async (_name, c) => {
    const fired = await run(c, true);
    const missed = await run(c, false);
    expect(hits(c, fired.findings).length, `expected ${c.code} among:\n${shown(fired.findings)}`).toBeGreaterThan(0);
    expect(hits(c, missed.findings), `the near miss must not raise ${c.code}:\n${shown(missed.findings)}`).toEqual([]);
    // Outside the input codes, both configs must load whole: a typo that drops an object must not make a case pass.
    if (!INPUT_CODES.has(c.code)) {
      expect(fired.inputErrors, shown(fired.inputErrors)).toEqual([]);
      expect(missed.inputErrors, shown(missed.inputErrors)).toEqual([]);
    }
    if (c.via) expect(c.via.reason.length).toBeGreaterThan(20);
  });
});
