#!/usr/bin/env node
/**
 * Network namespaces that the host can reach without a route or an address on the host: TCP is
 * carried across the file system (a unix socket in a temp directory), with one relay process on
 * the host and one inside the namespace (started with `nsenter --net`, which leaves the mount
 * namespace alone: `ip netns exec` remounts /sys, which breaks runc).
 *
 *   node scripts/netns-bridge.mjs add NAME | add --prefix PREFIX   create (lo up); prints the name
 *   node scripts/netns-bridge.mjs del NAME...                      kill its processes, delete it
 *   node scripts/netns-bridge.mjs clean PREFIX                     delete PREFIX-<pid>-* whose pid is gone
 *   node scripts/netns-bridge.mjs list [PREFIX]
 *   node scripts/netns-bridge.mjs bridge NAME [-L [LPORT:]HOST:PORT]... [-R ADDR:PORT:HOSTPORT]... [--keep]
 *
 * `-L` listens on the host at 127.0.0.1:LPORT (0 or left out: ephemeral) and connects to HOST:PORT
 * inside NAME; `-R` listens inside NAME at ADDR:PORT (0: ephemeral) and connects to
 * 127.0.0.1:HOSTPORT on the host. Once every listener is up, `bridge` prints one JSON line:
 *   {"event":"ready","dir":"/tmp/netns-bridge-…","forward":[{"listen":"127.0.0.1:41234","to":"10.0.0.1:80"}],"reverse":[{"listen":"10.0.0.1:15010","to":"127.0.0.1:4567"}]}
 * SIGUSR1 prints {"event":"stats","forward":[{"accepted":N,"active":M}],"reverse":[...]}.
 * SIGTERM/SIGINT stop it; so does its parent process going away (unless --keep).
 * A half-close crosses as a half-close and a reset as a reset. IPv4 only.
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), `ip` and `nsenter`.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

// ───────────────────────────── namespaces ─────────────────────────────

function ip(args) {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function checkName(name) {
  if (!NAME_RE.test(name)) throw new Error(`netns name ${JSON.stringify(name)}: only letters, digits, '_', '.', '-' (at most 64)`);
}

/** `PREFIX-<ownerPid>-<random>`: `clean(PREFIX)` removes it once the owner is gone. */
export function uniqueName(prefix, ownerPid = process.pid) {
  checkName(prefix);
  return `${prefix}-${ownerPid}-${randomBytes(3).toString("hex")}`;
}

export function nsPath(name) {
  return `/run/netns/${name}`;
}

export function listNetns(prefix) {
  const names = ip(["netns", "list"])
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
  return prefix === undefined ? names : names.filter((n) => n.startsWith(`${prefix}-`));
}

/** Creates network namespace NAME with its loopback up. */
export function addNetns(name) {
  checkName(name);
  ip(["netns", "add", name]);
  try {
    ip(["-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    deleteNetns(name);
    throw err;
  }
  return name;
}

function pidsIn(name) {
  try {
    return ip(["netns", "pids", name]).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills every process inside NAME (a namespace outlives its name while a process holds it), then deletes it. */
export function deleteNetns(name) {
  checkName(name);
  for (let round = 0; round < 50; round++) {
    const pids = pidsIn(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    execFileSync("sleep", ["0.05"]);
  }
  try {
    ip(["netns", "del", name]);
  } catch (err) {
    if (listNetns().includes(name)) throw err;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Deletes the namespaces named PREFIX-<pid>-* whose owner process no longer runs; returns their names. */
export function cleanStale(prefix) {
  checkName(prefix);
  const removed = [];
  for (const name of listNetns(prefix)) {
    const owner = Number(/^(\d+)-/.exec(name.slice(prefix.length + 1))?.[1]);
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      deleteNetns(name);
      removed.push(name);
    }
  }
  return removed;
}

/** `nsenter` arguments that run COMMAND in NAME's network namespace (and only that). */
export function nsenterArgs(name, command, args = []) {
  checkName(name);
  return ["--net=" + nsPath(name), "--", command, ...args];
}

// ───────────────────────────── relays ─────────────────────────────

/**
 * A unix leg carries frames: [type u8][length u32 BE][payload]. Data and half-close could cross
 * a unix socket as they are, but a reset could not: a closed unix socket looks the same however
 * the TCP peer went away. So the TCP end-of-stream and reset travel as frames too.
 */
const DATA = 0;
const END = 1;
const RST = 2;
const MAX_FRAME = 1 << 24;

function frame(type, payload) {
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(payload ? payload.length : 0, 1);
  return payload ? Buffer.concat([head, payload]) : head;
}

/** Returns a function that takes chunks and returns the complete frames so far; throws on garbage. */
function frameReader() {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const out = [];
    while (buf.length >= 5) {
      const type = buf.readUInt8(0);
      const len = buf.readUInt32BE(1);
      if (type > RST || len > MAX_FRAME) throw new Error(`bad frame (type ${type}, length ${len})`);
      if (buf.length < 5 + len) break;
      out.push({ type, payload: buf.subarray(5, 5 + len) });
      buf = buf.subarray(5 + len);
    }
    return out;
  };
}

function reset(tcp) {
  if (!tcp.destroyed) tcp.resetAndDestroy();
}

/** Joins a TCP socket and a framed unix socket; `onClose` runs once both are closed. */
function splice(tcp, uds, onClose) {
  let sentEnd = false;
  let gotEnd = false;
  let open = 2;
  const closed = () => {
    if (--open === 0) onClose();
  };
  tcp.on("close", closed);
  uds.on("close", closed);
  const sendRst = () => {
    if (!uds.destroyed && !uds.writableEnded) uds.end(frame(RST));
  };
  const endIfDone = () => {
    if (sentEnd && gotEnd && !uds.writableEnded) uds.end();
  };

  tcp.on("data", (chunk) => {
    if (!uds.writableEnded && !uds.write(frame(DATA, chunk))) tcp.pause();
  });
  uds.on("drain", () => tcp.resume());
  tcp.on("end", () => {
    sentEnd = true;
    if (!uds.writableEnded) uds.write(frame(END));
    endIfDone();
  });
  tcp.on("error", sendRst);
  tcp.on("close", () => {
    if (!sentEnd) sendRst();
  });

  const read = frameReader();
  uds.on("data", (chunk) => {
    let frames;
    try {
      frames = read(chunk);
    } catch {
      reset(tcp);
      uds.destroy();
      return;
    }
    for (const f of frames) {
      if (f.type === DATA) {
        if (!tcp.destroyed && !tcp.write(f.payload)) uds.pause();
      } else if (f.type === END) {
        gotEnd = true;
        if (!tcp.destroyed) tcp.end();
        endIfDone();
      } else {
        reset(tcp);
        uds.destroy();
        return;
      }
    }
  });
  tcp.on("drain", () => uds.resume());
  // The other relay ends its unix leg only after both END frames or an RST; anything else means it died.
  uds.on("end", () => {
    if (!(gotEnd && sentEnd)) reset(tcp);
  });
  uds.on("error", () => reset(tcp));
}

/** `tcp:HOST:PORT` or `unix:PATH`. */
export function parseEndpoint(spec) {
  if (spec.startsWith("unix:")) return { kind: "unix", path: spec.slice(5) };
  const m = /^tcp:(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(spec);
  if (!m || Number(m[2]) > 65535) throw new Error(`endpoint ${JSON.stringify(spec)}: expected tcp:A.B.C.D:PORT or unix:PATH`);
  return { kind: "tcp", host: m[1], port: Number(m[2]) };
}

function formatEndpoint(e) {
  return e.kind === "unix" ? `unix:${e.path}` : `${e.host}:${e.port}`;
}

/**
 * Listens on `listen` and joins each connection to a new connection to `target`; exactly one of
 * the two is a unix socket (the framed leg). Resolves once listening, with its address and counters.
 */
export function startRelay(listen, target) {
  if ((listen.kind === "unix") === (target.kind === "unix")) throw new Error("a relay joins one TCP and one unix endpoint");
  const stats = { accepted: 0, active: 0 };
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  const server = net.createServer({ allowHalfOpen: true }, (accepted) => {
    stats.accepted++;
    stats.active++;
    const dialed = net.connect(
      target.kind === "unix" ? { path: target.path, allowHalfOpen: true } : { host: target.host, port: target.port, allowHalfOpen: true },
    );
    track(accepted);
    track(dialed);
    if (target.kind === "unix") splice(accepted, dialed, () => stats.active--);
    else splice(dialed, accepted, () => stats.active--);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const onListening = () => {
      server.off("error", reject);
      const a = server.address();
      const address = typeof a === "string" ? { kind: "unix", path: a } : { kind: "tcp", host: a.address, port: a.port };
      resolve({
        address,
        target,
        stats,
        close: () => {
          server.close();
          for (const s of sockets) s.destroy();
        },
      });
    };
    if (listen.kind === "unix") server.listen(listen.path, onListening);
    else server.listen({ host: listen.host, port: listen.port, exclusive: true }, onListening);
  });
}

// ───────────────────────────── bridge ─────────────────────────────

function parseForward(spec) {
  const parts = spec.split(":");
  if (parts.length === 2) parts.unshift("0");
  const [lport, host, port] = parts;
  if (parts.length !== 3 || !/^\d+$/.test(lport) || !/^\d+$/.test(port)) throw new Error(`-L ${spec}: expected [LPORT:]HOST:PORT`);
  return { listen: parseEndpoint(`tcp:127.0.0.1:${lport}`), to: parseEndpoint(`tcp:${host}:${port}`) };
}

function parseReverse(spec) {
  const parts = spec.split(":");
  const [addr, port, hostPort] = parts;
  if (parts.length !== 3 || !/^\d+$/.test(port) || !/^\d+$/.test(hostPort)) throw new Error(`-R ${spec}: expected ADDR:PORT:HOSTPORT`);
  return { listen: parseEndpoint(`tcp:${addr}:${port}`), to: parseEndpoint(`tcp:127.0.0.1:${hostPort}`) };
}

/** Exits when the process that started this one goes away (its parent changes). */
function watchParent(onGone) {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) onGone();
  }, 300).unref();
}

function printLine(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/** The side inside the namespace: relays given as LISTEN=TARGET; stops when stdin (a pipe from the host side) ends. */
async function runInner(pairs) {
  const relays = [];
  const stop = (code) => {
    for (const r of relays) r.close();
    // The host side removes the socket directory; if it was killed outright, this side does.
    for (const pair of pairs)
      for (const spec of pair.split("=")) if (spec.startsWith("unix:")) rmSync(dirname(spec.slice(5)), { recursive: true, force: true });
    process.exit(code);
  };
  process.stdin.on("end", () => stop(0));
  process.stdin.on("error", () => stop(0));
  process.stdin.resume();
  watchParent(() => stop(0));
  process.on("SIGTERM", () => stop(0));
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    relays.push(await startRelay(parseEndpoint(pair.slice(0, eq)), parseEndpoint(pair.slice(eq + 1))));
  }
  printLine({ event: "ready", listen: relays.map((r) => formatEndpoint(r.address)) });
}

const DIR_PREFIX = "netns-bridge-";

/** Socket directories of bridges that died with both sides killed (SIGKILL); named for their bridge's pid. */
function removeOrphanedDirs() {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^netns-bridge-(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

async function runBridge(name, forwards, reverses, keep) {
  checkName(name);
  if (!listNetns().includes(name)) throw new Error(`network namespace ${name} does not exist`);
  removeOrphanedDirs();
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const sock = (kind, i) => parseEndpoint(`unix:${join(dir, `${kind}${i}.sock`)}`);
  const hostRelays = [];
  let inner;
  let stopping = false;
  const stop = async (code, why) => {
    if (stopping) return;
    stopping = true;
    if (why) process.stderr.write(`netns-bridge ${name}: ${why}\n`);
    for (const r of hostRelays) r.close();
    // The socket directory goes once the inside relay cannot create anything in it any more.
    if (inner && inner.exitCode === null && inner.signalCode === null) {
      const exited = new Promise((r) => inner.once("exit", r));
      inner.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      inner.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  if (!keep) watchParent(() => void stop(0));
  try {
    // Host ends of -R first, so that the namespace side never accepts a connection it cannot pass on.
    const reverseHost = [];
    for (const [i, r] of reverses.entries()) reverseHost.push(await startRelay(sock("R", i), r.to));
    hostRelays.push(...reverseHost);
    const pairs = [
      ...forwards.map((f, i) => `unix:${sock("L", i).path}=tcp:${f.to.host}:${f.to.port}`),
      ...reverses.map((r, i) => `tcp:${r.listen.host}:${r.listen.port}=unix:${sock("R", i).path}`),
    ];
    inner = spawn("nsenter", nsenterArgs(name, process.execPath, [SELF, "relay", ...pairs]), { stdio: ["pipe", "pipe", "inherit"] });
    const innerReady = await new Promise((resolve, reject) => {
      inner.once("error", reject);
      inner.once("exit", (code, signal) => reject(new Error(`the relay inside ${name} exited (${signal ?? `code ${code}`})`)));
      createInterface({ input: inner.stdout }).once("line", (line) => resolve(JSON.parse(line)));
    });
    inner.removeAllListeners("exit");
    inner.once("exit", (code, signal) => void stop(1, `the relay inside the namespace exited (${signal ?? `code ${code}`})`));
    const forwardHost = [];
    for (const [i, f] of forwards.entries()) forwardHost.push(await startRelay(f.listen, sock("L", i)));
    hostRelays.push(...forwardHost);
    const innerListen = innerReady.listen.slice(forwards.length);
    printLine({
      event: "ready",
      dir,
      forward: forwards.map((f, i) => ({ listen: formatEndpoint(forwardHost[i].address), to: formatEndpoint(f.to) })),
      reverse: reverses.map((r, i) => ({ listen: innerListen[i], to: formatEndpoint(r.to) })),
    });
    process.on("SIGUSR1", () =>
      printLine({
        event: "stats",
        forward: forwardHost.map((r) => ({ ...r.stats })),
        reverse: reverseHost.map((r) => ({ ...r.stats })),
      }),
    );
  } catch (err) {
    await stop(1, err.message);
  }
}

// ───────────────────────────── command line ─────────────────────────────

/** The usage is this file's header comment. */
function usage() {
  const header = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(SELF, "utf8"))?.[1] ?? "";
  return header
    .split("\n")
    .map((line) => line.replace(/^ \* ?/, ""))
    .join("\n")
    .trim();
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "add": {
      if (rest[0] === "--prefix" && rest[1]) {
        cleanStale(rest[1]);
        // The name carries our parent's pid: the caller owns it, and `clean` frees it after the caller.
        console.log(addNetns(uniqueName(rest[1], process.ppid)));
      } else if (rest.length === 1) console.log(addNetns(rest[0]));
      else throw new Error("add NAME | add --prefix PREFIX");
      return;
    }
    case "del":
      for (const name of rest) deleteNetns(name);
      return;
    case "clean":
      if (rest.length !== 1) throw new Error("clean PREFIX");
      for (const name of cleanStale(rest[0])) console.log(name);
      return;
    case "list":
      for (const name of listNetns(rest[0])) console.log(name);
      return;
    case "bridge": {
      const [name, ...opts] = rest;
      const forwards = [];
      const reverses = [];
      let keep = false;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i];
        if (o === "-L" && opts[i + 1]) forwards.push(parseForward(opts[++i]));
        else if (o === "-R" && opts[i + 1]) reverses.push(parseReverse(opts[++i]));
        else if (o === "--keep") keep = true;
        else throw new Error(`bridge: unknown argument ${JSON.stringify(o)}`);
      }
      if (!name || forwards.length + reverses.length === 0) throw new Error("bridge NAME [-L [LPORT:]HOST:PORT]... [-R ADDR:PORT:HOSTPORT]...");
      await runBridge(name, forwards, reverses, keep);
      return;
    }
    case "relay":
      await runInner(rest);
      return;
    default:
      console.log(usage());
      if (cmd !== undefined && cmd !== "help" && cmd !== "--help") process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`netns-bridge: ${err.message}\n`);
    process.exit(1);
  });
}
