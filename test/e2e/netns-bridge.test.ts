/**
 * scripts/netns-bridge.mjs for real: a namespace with a server inside, reached from the host
 * through a forward, and a host server reached from inside through a reverse; bytes, half-close
 * and resets cross both ways; connections are counted; teardown leaves no namespace, process or
 * socket directory behind, also when the owner or the bridge dies without cleaning up. Needs root.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNetns, listNetns, uniqueName } from "../../scripts/netns-bridge.mjs";
import { httpRequest } from "../support/backend.js";
import { connectInNetns, NetNs, type Bridge } from "../support/netns.js";
import { until } from "../support/wait.js";

const SCRIPT = fileURLToPath(new URL("../../scripts/netns-bridge.mjs", import.meta.url));
const ADDR = "10.254.7.1";
const PORT = 7000;

/**
 * Runs inside the namespace. Per connection: "size <hex sha256>\n" after the peer's half-close
 * (the answer is written after FIN, so it proves the half-close arrived and the write side stayed
 * open); "RST" resets the connection; every event is logged as a JSON line on stdout.
 */
const SERVER = `
const net = require("node:net"), crypto = require("node:crypto");
const log = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const s = net.createServer({ allowHalfOpen: true }, (c) => {
  const h = crypto.createHash("sha256"); let n = 0;
  c.on("data", (d) => { if (d.toString() === "RST") { c.resetAndDestroy(); return; } h.update(d); n += d.length; });
  c.on("end", () => { log({ ev: "end", n }); c.end(n + " " + h.digest("hex") + "\\n"); });
  c.on("error", (e) => log({ ev: "error", code: e.code }));
});
s.listen(${PORT}, process.argv[1], () => log({ ev: "listening" }));
`;

/** Runs inside the namespace: connects to argv[1]:argv[2], sends argv[3], half-closes, prints what came back. */
const CLIENT = `
const net = require("node:net");
const c = net.connect({ host: process.argv[1], port: Number(process.argv[2]), allowHalfOpen: true });
let got = "";
c.on("connect", () => c.end(process.argv[3]));
c.on("data", (d) => (got += d));
c.on("end", () => { process.stdout.write(got); c.end(); });
c.on("error", (e) => { process.stdout.write("error " + e.code); process.exit(0); });
`;

function hostState(): string {
  return (
    execFileSync("ip", ["addr"], { encoding: "utf8" }) +
    execFileSync("ip", ["route"], { encoding: "utf8" }) +
    execFileSync("ip", ["-6", "route"], { encoding: "utf8" })
  );
}

/** Sends `payload`, half-closes, returns everything received until the peer's end (or the error code). */
function roundTrip(port: number, payload: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    let got = "";
    c.on("connect", () => c.end(payload));
    c.on("data", (d) => (got += d.toString()));
    c.on("end", () => {
      c.end();
      resolve(got);
    });
    c.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
  });
}

const bridgeDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith("netns-bridge-"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("netns bridge", () => {
  const before = hostState();
  let ns: NetNs;
  let bridge: Bridge;
  let hostServer: net.Server;
  const hostSeen: string[] = [];
  const serverLog: Array<{ ev: string; [k: string]: unknown }> = [];

  beforeAll(async () => {
    ns = NetNs.create("mp-bridge-test");
    ns.addAddress(ADDR);
    const server = ns.spawn(process.execPath, ["-e", SERVER, ADDR], { stdio: ["ignore", "pipe", "inherit"] });
    server.stdout!.on("data", (b: Buffer) => {
      for (const l of b.toString().split("\n").filter(Boolean)) serverLog.push(JSON.parse(l));
    });
    await until(() => serverLog.some((l) => l.ev === "listening"), "the server inside the namespace");
    hostServer = net.createServer({ allowHalfOpen: true }, (c) => {
      let got = "";
      c.on("data", (d) => (got += d.toString()));
      c.on("end", () => {
        hostSeen.push(got);
        c.end(`host got ${got}`);
      });
      c.on("error", () => undefined);
    });
    await new Promise<void>((r) => hostServer.listen(0, "127.0.0.1", r));
    bridge = await ns.bridge({
      forward: [
        { host: ADDR, port: PORT },
        { host: ADDR, port: PORT + 1 }, // nothing listens there
      ],
      reverse: [{ host: ADDR, port: 0, to: (hostServer.address() as net.AddressInfo).port }],
    });
  });

  afterAll(async () => {
    await ns?.delete();
    hostServer?.close();
  });

  it("a forward carries bytes both ways, with the host client's half-close", async () => {
    const small = Buffer.from("hello");
    expect(await roundTrip(bridge.forward[0]!.port, small)).toBe(`5 ${sha(small)}\n`);
    // Large enough to fill socket buffers on every leg (flow control), in many frames.
    const big = randomBytes(8 * 1024 * 1024 + 13);
    expect(await roundTrip(bridge.forward[0]!.port, big)).toBe(`${big.length} ${sha(big)}\n`);
    expect(bridge.forward[0]!.host).toBe("127.0.0.1");
  });

  it("a reset inside reaches the host client, and a reset by the host client reaches the server inside", async () => {
    expect(await roundTrip(bridge.forward[0]!.port, Buffer.from("RST"))).toBe("error ECONNRESET");

    const errorsBefore = serverLog.filter((l) => l.ev === "error").length;
    const c = net.connect({ host: "127.0.0.1", port: bridge.forward[0]!.port });
    await new Promise<void>((r) => c.on("connect", r));
    c.write("some bytes");
    // the server has the connection once its bytes arrived through both relays
    await until(async () => (await bridge.stats()).forward[0]!.active === 1, "the connection to cross");
    await new Promise((r) => setTimeout(r, 200));
    c.resetAndDestroy();
    await until(() => serverLog.filter((l) => l.ev === "error").length > errorsBefore, "the reset to reach the server");
    expect(serverLog.filter((l) => l.ev === "error").at(-1)).toEqual({ ev: "error", code: "ECONNRESET" });
  });

  it("a refused connection inside is a reset for the host client", async () => {
    expect(await roundTrip(bridge.forward[1]!.port, Buffer.from("x"))).toBe("error ECONNRESET");
  });

  it("a reverse lets a client inside reach a host loopback server, with half-close", async () => {
    const r = bridge.reverse[0]!;
    expect(r.host).toBe(ADDR);
    expect(r.port).toBeGreaterThan(0);
    const out = await ns.execAsync(process.execPath, ["-e", CLIENT, r.host, String(r.port), "from inside"]);
    expect(out).toBe("host got from inside");
    expect(hostSeen).toEqual(["from inside"]);
  });

  it("connectInNetns hands the test a connection made inside; a refused one is an error naming it", async () => {
    const c = await connectInNetns(ns.name, ADDR, PORT);
    const answer = new Promise<string>((resolve) => {
      let got = "";
      c.on("data", (d) => (got += d.toString()));
      c.on("end", () => resolve(got));
    });
    const payload = Buffer.from("from inside");
    c.end(payload);
    expect(await answer).toBe(`${payload.length} ${sha(payload)}\n`);
    // The server inside saw it end, with every byte.
    expect(serverLog.filter((l) => l.ev === "end").at(-1)).toEqual({ ev: "end", n: payload.length });
    await expect(connectInNetns(ns.name, ADDR, PORT + 1)).rejects.toThrow(`cannot connect to ${ADDR}:${PORT + 1} from ${ns.name}: connect ECONNREFUSED`);
  });

  it("an HTTP request with `connect` goes over that connection only, never to the URL's address", async () => {
    // Nothing listens on the URL's port (1): the answer can only come from the given connection.
    const local = net.createServer((c) => c.end("HTTP/1.1 204 No Content\r\nx-from: local\r\nconnection: close\r\n\r\n"));
    await new Promise<void>((r) => local.listen(0, "127.0.0.1", r));
    try {
      const port = (local.address() as net.AddressInfo).port;
      const res = await httpRequest("http://127.0.0.1:1/x", { host: "example.test", connect: () => net.connect(port, "127.0.0.1"), timeoutMs: 5000 });
      expect(res).toMatchObject({ status: 204, headers: { "x-from": "local" } });
    } finally {
      local.close();
    }
  });

  it("counts connections, and none stays open", async () => {
    await until(async () => {
      const s = await bridge.stats();
      return s.forward.every((f) => f.active === 0) && s.reverse.every((r) => r.active === 0);
    }, "every connection to close");
    const s = await bridge.stats();
    expect(s.forward.map((f) => f.accepted)).toEqual([4, 1]);
    expect(s.reverse.map((r) => r.accepted)).toEqual([1]);
  });

  it("delete removes the namespace, its processes and the bridge's socket directory", async () => {
    expect(existsSync(bridge.dir)).toBe(true);
    expect(await ns.execAsync("ip", ["-o", "addr", "show", "dev", "lo"])).toContain(`${ADDR}/32`);
    await ns.delete();
    expect(listNetns()).not.toContain(ns.name);
    expect(existsSync(bridge.dir)).toBe(false);
    await expect(bridge.stats()).rejects.toThrow(/has exited/);
    expect(hostState()).toBe(before);
  });

  it("a bridge exits when its parent dies; a namespace whose owner died is removed by the next create", async () => {
    const owner = spawn("/bin/sh", ["-c", "sleep 600"], { stdio: "ignore" });
    const name = uniqueName("mp-bridge-stale", owner.pid);
    addNetns(name);
    try {
      // a parent shell that starts a bridge, reports its pid and is then SIGKILLed
      const parent = spawn("/bin/sh", ["-c", `"$0" "$1" bridge ${name} -L 127.0.0.1:1 & echo $!; wait`, process.execPath, SCRIPT], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const bridgePid = await new Promise<number>((r) => parent.stdout!.once("data", (b: Buffer) => r(Number(b.toString().trim()))));
      await until(() => execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).trim() !== "", "the relay inside to start");
      const dirsBefore = bridgeDirs();
      parent.kill("SIGKILL");
      const gone = (pid: number) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      };
      await until(() => gone(bridgePid), "the orphaned bridge to exit");
      // its socket directory (named for its pid) went with it
      expect(dirsBefore.filter((d) => d.startsWith(`netns-bridge-${bridgePid}-`))).toHaveLength(1);
      expect(bridgeDirs().filter((d) => d.startsWith(`netns-bridge-${bridgePid}-`))).toEqual([]);
      await until(() => execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).trim() === "", "the relay inside to exit");

      // a bridge killed outright: the side inside sees its pipe close, exits and removes the sockets
      const killed = spawn(process.execPath, [SCRIPT, "bridge", name, "-L", "127.0.0.1:1"], { stdio: ["ignore", "pipe", "inherit"] });
      const ready = await new Promise<{ dir: string }>((r) => createInterface({ input: killed.stdout! }).once("line", (l) => r(JSON.parse(l))));
      expect(existsSync(ready.dir)).toBe(true);
      killed.kill("SIGKILL");
      await until(() => !existsSync(ready.dir), "the killed bridge's socket directory to go");
      await until(() => execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).trim() === "", "the relay inside to exit");

      expect(listNetns()).toContain(name);
      owner.kill("SIGKILL");
      await new Promise((r) => owner.once("exit", r));
      const fresh = NetNs.create("mp-bridge-stale");
      try {
        expect(listNetns()).not.toContain(name);
        expect(listNetns("mp-bridge-stale")).toEqual([fresh.name]);
      } finally {
        await fresh.delete();
      }
    } finally {
      owner.kill("SIGKILL");
      if (listNetns().includes(name)) execFileSync(process.execPath, [SCRIPT, "del", name]);
    }
    expect(listNetns("mp-bridge-stale")).toEqual([]);
  });
});
