/** `meshpilot loadgen` as a user runs it (the built CLI in its own process), bounded in time. */
import { spawn } from "node:child_process";
import type { LoadReport } from "../../src/loadgen/report.js";
import { CLI } from "./serve-process.js";

export interface LoadgenRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runLoadgen(args: readonly string[], timeoutMs: number): Promise<LoadgenRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "loadgen", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`meshpilot loadgen still running after ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON report of a run that was given --json. */
export function reportOf(run: LoadgenRun): LoadReport {
  try {
    return JSON.parse(run.stdout) as LoadReport;
  } catch {
    throw new Error(`loadgen printed no JSON report (exit ${run.code}):\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(-4000)}`);
  }
}
