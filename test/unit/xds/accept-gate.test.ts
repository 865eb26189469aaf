// The accept gate over real loopback connections: a burst of HTTP/2 clients is set up a few
// sessions at a time, every one is served, a client that connects and opens no stream does not
// hold the others back for long, a burst of TLS connections is let into its handshakes a few at a
// time, and the xDS server's listening socket takes a burst of 2000+ pending connections. Counts
// only, never times.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { AcceptGate, LISTEN_BACKLOG, type AcceptGateOptions } from "../../../src/xds/accept-gate.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { XdsServer } from "../../../src/xds/server.js";
import { TestCerts } from "../../support/certs.js";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** An HTTP/2 server that answers every stream with 200, behind a gate; counts sessions waiting for their first stream. */
async function gatedServer(opts: AcceptGateOptions): Promise<{ port: number; gate: AcceptGate; mostOpening: () => number; accepted: () => number }> {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end("ok");
  });
  let opening = 0;
  let most = 0;
  server.on("session", (session) => {
    most = Math.max(most, ++opening);
    let counted = true;
    const done = (): void => {
      if (counted) opening--;
      counted = false;
    };
    session.once("stream", done);
    session.once("close", done);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const gate = new AcceptGate(opts);
  gate.gate(server);
  let accepted = 0;
  server.on("connection", () => accepted++); // added after the gate: called as each connection arrives
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, gate, mostOpening: () => most, accepted: () => accepted };
}

function connect(port: number): http2.ClientHttp2Session {
  const c = http2.connect(`http://127.0.0.1:${port}`);
  c.on("error", () => {});
  closers.push(() => c.destroy());
  return c;
}

function get(c: http2.ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = c.request({ ":path": "/" });
    req.on("response", (h) => resolve(Number(h[":status"])));
    req.on("error", reject);
    req.resume();
    req.end();
  });
}

it("sets a burst of connections up a few sessions at a time, and serves every one", async () => {
  const { port, gate, mostOpening, accepted } = await gatedServer({ maxOpening: 4, maxPerTurn: 3 });
  // Every connection accepted first, then every client sends its request at once: as proxies
  // whose connections were accepted while they were busy, and whose first requests arrive together.
  const clients = Array.from({ length: 60 }, () => connect(port));
  for (let i = 0; i < 1000 && accepted() < clients.length; i++) await new Promise((r) => setTimeout(r, 5));
  expect(accepted()).toBe(clients.length);
  const statuses = await Promise.all(clients.map(get));
  expect(statuses).toEqual(clients.map(() => 200));
  expect(mostOpening()).toBeLessThanOrEqual(4);
  expect(gate.stats).toMatchObject({ admitted: 60, dropped: 0, opening: 0 });
  expect(gate.stats.deferred).toBeGreaterThan(50);
  expect(gate.stats.maxInOneTurn).toBeLessThanOrEqual(3);
});

it("does not let a client that opens no stream hold the others back", async () => {
  const { port, gate } = await gatedServer({ maxOpening: 1, openingMs: 50 });
  const idle = connect(port);
  await new Promise<void>((resolve) => idle.once("connect", () => resolve()));
  await new Promise((r) => setTimeout(r, 20)); // the idle session is set up and holds the only place
  expect(gate.stats.opening).toBe(1);
  expect(await get(connect(port))).toBe(200);
  expect(gate.stats).toMatchObject({ admitted: 2, dropped: 0 });
});

/** A TLS HTTP/2 server that answers every stream with 200, behind a gate; counts finished handshakes. */
async function gatedTlsServer(opts: AcceptGateOptions): Promise<{ port: number; ca: Buffer; gate: AcceptGate; handshakes: () => number }> {
  const certs = new TestCerts("accept-gate-");
  certs.leaf("server", "DNS:localhost");
  closers.push(() => certs.remove());
  const server = http2.createSecureServer({ key: readFileSync(certs.path("server-key.pem")), cert: readFileSync(certs.path("server.pem")) });
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end("ok");
  });
  const gate = new AcceptGate(opts);
  gate.gate(server);
  let handshakes = 0;
  server.on("secureConnection", () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, ca: readFileSync(certs.path("ca.pem")), gate, handshakes: () => handshakes };
}

const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
};

it("lets a burst of TLS connections into their handshakes a few at a time", async () => {
  // Clients that shake hands and then open no stream hold their places until they close.
  const { port, ca, gate, handshakes } = await gatedTlsServer({ maxOpening: 2, openingMs: 60_000 });
  const clients = Array.from({ length: 6 }, () => {
    const c = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca, ALPNProtocols: ["h2"] });
    c.on("error", () => {});
    closers.push(() => c.destroy());
    return c;
  });
  await until(() => gate.stats.deferred === 4 && handshakes() === 2);
  await new Promise((r) => setTimeout(r, 50)); // no third handshake comes meanwhile
  expect(handshakes()).toBe(2);
  expect(gate.stats).toMatchObject({ admitted: 2, deferred: 4, opening: 2 });
  // Clients that leave, during their handshake or after it, free their places for the others.
  for (const c of clients) c.destroy();
  await until(() => gate.stats.admitted + gate.stats.dropped === 6 && gate.stats.opening === 0);
  expect(gate.stats.admitted + gate.stats.dropped).toBe(6);
  expect(gate.stats.opening).toBe(0);
});

it("serves every connection of a TLS burst, setting a few up at a time", async () => {
  const { port, ca, gate } = await gatedTlsServer({ maxOpening: 3, maxPerTurn: 2 });
  const clients = Array.from({ length: 30 }, () => {
    const c = http2.connect(`https://localhost:${port}`, { ca });
    c.on("error", () => {});
    closers.push(() => c.destroy());
    return c;
  });
  const statuses = await Promise.all(clients.map(get));
  expect(statuses).toEqual(clients.map(() => 200));
  expect(gate.stats).toMatchObject({ admitted: 30, dropped: 0, opening: 0 });
  expect(gate.stats.deferred).toBeGreaterThan(20);
  expect(gate.stats.maxInOneTurn).toBeLessThanOrEqual(2);
});

/** The backlog of the TCP socket listening on `port` (Send-Q of a listening socket in `ss -ltn`). */
function listenBacklog(port: number): number | undefined {
  const ss = spawnSync("ss", ["-Hltn", `sport = :${port}`], { encoding: "utf8" });
  const fields = ss.stdout?.trim().split(/\s+/);
  return fields && fields.length >= 3 ? Number(fields[2]) : undefined;
}

it("listens with a backlog that holds a reconnect storm's connections", async () => {
  const server = new XdsServer({ cache: new SnapshotCache(), views: { viewKey: () => ({ key: "k" }), activate: () => {}, deactivate: () => {} } });
  const port = await server.listen("127.0.0.1:0");
  try {
    const somaxconn = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));
    expect(listenBacklog(port)).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
    expect(Math.min(LISTEN_BACKLOG, somaxconn)).toBeGreaterThan(2000);
  } finally {
    await server.close(100);
  }
});
