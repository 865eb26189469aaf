/**
 * The built command line runs from a bundle (scripts/bundle.mjs); it must do exactly what the
 * source does. Each command runs twice, through the bin (`node dist/cli/main.js`) and from
 * src/cli/main.ts under tsx, and the two print the same bytes and exit the same way. Serving from
 * the bundle (with the Envoy descriptor set read beside its chunks) is what the other e2e tests
 * run: they all start dist/cli/main.js.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../support/serve-process.js";
import { EXAMPLE_DIR } from "./mesh-fixture.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = [join(ROOT, "dist/cli/main.js")];
const SOURCE = ["--import", "tsx", join(ROOT, "src/cli/main.ts")];
const PROXY = "sidecar~10.244.0.10~productpage-v1.default~default.svc.cluster.local";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(entry: readonly string[], args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [...entry, ...args],
      { cwd: ROOT, timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: "" } },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) reject(new Error(`node ${[...entry, ...args].join(" ")}: killed\n${stderr}`));
        else resolve({ code: child.exitCode, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

const COMMANDS: Record<string, readonly string[]> = {
  "--help": ["--help"],
  "serve --help": ["serve", "--help"],
  "translate of the demo": ["translate", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY],
  "translate of the demo for a proxy in NONE mode": ["translate", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--interception", "NONE"],
  "analyze of the demo": ["analyze", "--config-dir", EXAMPLE_DIR],
  "explain of a request": ["explain", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--request", "GET http://reviews:9080/ -H x-test-user:true"],
  "proxy-config clusters of the demo": ["proxy-config", "clusters", PROXY, "--config-dir", EXAMPLE_DIR],
  bootstrap: ["bootstrap", "--node-id", PROXY, "--xds-address", "127.0.0.1:15010", "--admin-address", "127.0.0.1:15000"],
  "a usage mistake": ["translate", "--type", "nonsense"],
};

beforeAll(() => ensureBuilt("bundle.test"), 300_000);

describe("the bundled bin does what the source does", () => {
  for (const [what, args] of Object.entries(COMMANDS)) {
    it(what, async () => {
      const [bundled, source] = await Promise.all([run(BIN, args), run(SOURCE, args)]);
      expect(bundled.code, bundled.stderr).toBe(source.code);
      expect(bundled.stdout).toBe(source.stdout);
      expect(bundled.stderr).toBe(source.stderr);
      if (what !== "a usage mistake") expect(bundled.code, bundled.stderr).toBe(0);
      else expect(bundled.code).not.toBe(0);
      expect(bundled.stdout + bundled.stderr).not.toBe("");
    });
  }
});
