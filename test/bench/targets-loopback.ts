// The full-sync target's yardstick: how long loopback takes to carry a given number of bytes
// between two processes on this machine, now (the same run, the same load). One TCP connection,
// 1 MiB writes, no framing: the fastest the bytes can move, which the target allows 1.5× of.
import { fork } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export interface Loopback {
  readonly bytes: number;
  readonly ms: number;
  /** Bytes per second. */
  readonly throughput: number;
}

export function measureLoopback(bytes: number, timeoutMs: number): Promise<Loopback> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let first = 0;
    const server = createServer((socket) => {
      socket.on("data", (b: Buffer) => {
        if (received === 0) first = performance.now();
        received += b.length;
      });
      socket.on("end", () => {
        const ms = performance.now() - first;
        finish(received === bytes ? undefined : new Error(`bench: loopback carried ${received} of ${bytes} bytes`), {
          bytes,
          ms,
          throughput: (bytes / ms) * 1000,
        });
      });
    });
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`bench: loopback blast of ${bytes} bytes not done within ${timeoutMs} ms`)), timeoutMs);
    const finish = (e: Error | undefined, r?: Loopback): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      server.close();
      child?.kill("SIGKILL");
      if (e) reject(e);
      else resolve(r!);
    };
    let child: ReturnType<typeof fork> | undefined;
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      if (typeof a !== "object" || !a) return finish(new Error("bench: no loopback port"));
      child = fork(fileURLToPath(new URL("./targets-blast.ts", import.meta.url)), [String(a.port), String(bytes)], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.on("exit", (code) => {
        if (code !== 0 && code !== null) finish(new Error(`bench: loopback sender exited with code ${code}`));
      });
    });
  });
}
