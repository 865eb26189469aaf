import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { findPidByPort, listeningInodes, parseStatTicks, parseStatusMemory, readCpuSeconds, readMemory } from "../../../src/loadgen/proc.js";

describe("/proc parsing", () => {
  it("utime + stime from stat, with a command name holding spaces and parentheses", () => {
    const stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 75 0 0 20 0 11 0 123 456 789";
    expect(parseStatTicks(stat)).toBe(325);
    expect(() => parseStatTicks("garbage")).toThrow(/command/);
  });

  it("VmRSS and VmHWM from status, in bytes", () => {
    const status = "Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t11\n";
    expect(parseStatusMemory(status)).toEqual({ rssBytes: 102400 * 1024, hwmBytes: 204800 * 1024 });
    expect(() => parseStatusMemory("Name:\tnode\n")).toThrow(/VmRSS/);
  });

  it("listening sockets of a port from /proc/net/tcp", () => {
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:3A9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0",
      "   1: 0100007F:3A9A 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1",
      "   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0",
    ].join("\n");
    expect(listeningInodes(tcp, 0x3a9a)).toEqual(["111"]);
    expect(listeningInodes(tcp, 80)).toEqual(["333"]);
    expect(listeningInodes(tcp, 81)).toEqual([]);
  });

  it("finds this process by a port it listens on, and reads its CPU and memory", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as { port: number }).port;
      expect(findPidByPort(port)).toBe(process.pid);
      const m = readMemory(process.pid);
      expect(m.rssBytes).toBeGreaterThan(1024 * 1024);
      expect(m.hwmBytes).toBeGreaterThanOrEqual(m.rssBytes);
      const before = readCpuSeconds(process.pid);
      let x = 0;
      const until = performance.now() + 150;
      while (performance.now() < until) x += Math.sqrt(x + 1);
      expect(readCpuSeconds(process.pid)).toBeGreaterThan(before);
    } finally {
      server.close();
    }
  });
});
