/**
 * The reflector's recovery paths against a scripted stand-in for the API server (the real one is
 * in test/kube/fault-*.test.ts): both forms of 410 Gone, errors that must back off rather than
 * spin, resuming from the last event's version, a handler that throws, and the reachability state.
 */
import { afterEach, describe, expect, it } from "vitest";
import { KubeApiError, type KubeClient, type WatchHandle } from "../../../src/sources/kube/client.js";
import { Reflector, type RawObject } from "../../../src/sources/kube/reflector.js";
import { until } from "../../support/wait.js";

type Emit = (event: { type: string; object: Record<string, unknown> }) => void;
/** One watch answer: what the server does with this request. */
type WatchScript = (ctx: { path: string; emit: Emit; open: () => void; end: () => void; fail: (e: unknown) => void }) => void;

const obj = (name: string, rv: string): RawObject => ({ metadata: { name, namespace: "a", resourceVersion: rv } });

function fakeServer(list: () => { items: RawObject[]; rv: string } | Error) {
  const watches: WatchScript[] = [];
  const watchPaths: string[] = [];
  let lists = 0;
  // Once the script runs out, watches stay open and silent (a healthy idle watch).
  const idle: WatchScript = ({ open }) => open();
  const client = {
    call: async (_m: string, _path: string) => {
      lists++;
      const l = list();
      if (l instanceof Error) throw l;
      return { items: l.items, metadata: { resourceVersion: l.rv } };
    },
    watch: async (path: string, onEvent: Emit, onOpen?: () => void): Promise<WatchHandle> => {
      watchPaths.push(path);
      const script = watches.shift() ?? idle;
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      let over = false;
      const end = () => {
        over = true;
        resolve();
      };
      queueMicrotask(() =>
        script({
          path,
          emit: (e) => !over && onEvent(e),
          open: () => onOpen?.(),
          end,
          fail: (e) => {
            over = true;
            reject(e);
          },
        }),
      );
      return { done, abort: end };
    },
  } as unknown as KubeClient;
  return { client, watches, watchPaths, lists: () => lists };
}

const rvOf = (path: string) => new URL(path, "http://x").searchParams.get("resourceVersion");

const running: Reflector[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

function reflector(client: KubeClient, extra: Partial<ConstructorParameters<typeof Reflector>[0]> = {}) {
  const log: string[] = [];
  const replaced: string[][] = [];
  const events: string[] = [];
  const recovered: number[] = [];
  const r = new Reflector({
    client,
    path: "/api/v1/pods",
    backoffInitialMs: 20,
    backoffMaxMs: 80,
    handlers: {
      replace: (items) => replaced.push(items.map((i) => (i["metadata"] as { name: string }).name)),
      event: (type, o) => events.push(`${type} ${(o["metadata"] as { name: string }).name}`),
      error: (err, what, repeat) => log.push(`${repeat ? "again " : ""}${what}: ${err instanceof Error ? err.message : String(err)}`),
      recovered: (since) => recovered.push(since),
    },
    ...extra,
  });
  running.push(r);
  r.start();
  return { r, log, replaced, events, recovered };
}

describe("Reflector", () => {
  it("relists when the watch request itself is answered HTTP 410 Gone", async () => {
    const s = fakeServer(() => ({ items: [obj("p1", "5")], rv: "5" }));
    s.watches.push(({ fail }) => fail(new KubeApiError(410, "Expired", "WATCH: HTTP 410 Expired: too old resource version")));
    const { r, replaced, log } = reflector(s.client);
    await until(() => s.lists() >= 2 && s.watchPaths.length >= 2, "a relist and a new watch");
    expect(r.stats.gone).toBe(1);
    expect(r.stats.goneEvents).toBe(0);
    expect(replaced).toEqual([["p1"], ["p1"]]);
    expect(r.stats.errors).toBe(0); // a 410 is expected, not an error to log
    expect(log).toEqual([]);
    expect(rvOf(s.watchPaths[1]!)).toBe("5");
  });

  it("relists on an ERROR event with code 410 inside the stream and applies nothing after it", async () => {
    let rv = 5;
    const s = fakeServer(() => ({ items: [obj("p1", String(rv)), obj("p2", String(rv))], rv: String(rv) }));
    s.watches.push(({ open, emit }) => {
      open();
      emit({ type: "MODIFIED", object: obj("p1", "6") });
      rv = 9;
      emit({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 6 (8)" } });
      emit({ type: "DELETED", object: obj("p2", "7") }); // after the error: never applied
    });
    const { r, replaced, events } = reflector(s.client);
    await until(() => s.lists() >= 2 && s.watchPaths.length >= 2, "a relist and a new watch");
    expect(r.stats.gone).toBe(1);
    expect(r.stats.goneEvents).toBe(1);
    expect(events).toEqual(["MODIFIED p1"]);
    expect(replaced).toEqual([
      ["p1", "p2"],
      ["p1", "p2"],
    ]);
    expect(rvOf(s.watchPaths[1]!)).toBe("9"); // the new list's version, not the stale one
  });

  it("takes an ERROR event with reason Expired and no code as 410 too", async () => {
    const s = fakeServer(() => ({ items: [], rv: "3" }));
    s.watches.push(({ open, emit }) => {
      open();
      emit({ type: "ERROR", object: { kind: "Status", reason: "Expired", message: "too old" } });
    });
    const { r } = reflector(s.client);
    await until(() => s.lists() >= 2, "a relist");
    expect(r.stats.gone).toBe(1);
  });

  it("after a connection error resumes from the last event's version without relisting", async () => {
    const s = fakeServer(() => ({ items: [obj("p1", "5")], rv: "5" }));
    s.watches.push(({ open, emit, fail }) => {
      open();
      emit({ type: "ADDED", object: obj("p3", "7") });
      emit({ type: "BOOKMARK", object: { metadata: { resourceVersion: "8" } } });
      fail(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
    });
    const { r, log } = reflector(s.client);
    await until(() => s.watchPaths.length >= 2, "a second watch");
    expect(s.lists()).toBe(1);
    expect(rvOf(s.watchPaths[1]!)).toBe("8");
    expect(r.stats.errors).toBe(1);
    expect(log).toEqual(["watch /api/v1/pods: read ECONNRESET"]);
  });

  it("backs off (not a tight loop) on ERROR events other than 410 and on watches that end at once", async () => {
    const s = fakeServer(() => ({ items: [], rv: "1" }));
    for (let i = 0; i < 1000; i++) {
      s.watches.push(
        i % 2 === 0
          ? ({ open, emit }) => {
              open();
              emit({ type: "ERROR", object: { kind: "Status", code: 500, reason: "InternalError", message: "etcd unhappy" } });
            }
          : ({ open, end }) => {
              open();
              end();
            },
      );
    }
    const { r, log } = reflector(s.client, { backoffInitialMs: 100, backoffMaxMs: 100 });
    await until(() => s.watchPaths.length >= 4, "four watches");
    // Each retry waits at least 80 ms (100 ms, jitter -20 %): a tight loop would have made hundreds.
    const seen = s.watchPaths.length;
    await new Promise((res) => setTimeout(res, 300));
    expect(s.watchPaths.length - seen).toBeLessThanOrEqual(4);
    expect(s.lists()).toBe(1);
    expect(r.stats.gone).toBe(0);
    expect(log.some((l) => l.includes("etcd unhappy"))).toBe(true);
    expect(log.some((l) => l.includes("ended at once without an event"))).toBe(true);
  });

  it("keeps retrying a failing list, says the server is unreachable, and recovers when it answers", async () => {
    let down = true;
    const s = fakeServer(() =>
      down ? Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }) : { items: [obj("p1", "2")], rv: "2" },
    );
    const { r, log, replaced, recovered } = reflector(s.client);
    await until(() => s.lists() >= 5, "five list attempts");
    expect(r.hasSynced).toBe(false);
    const failure = r.failure;
    expect(failure?.error).toContain("ECONNREFUSED");
    expect(log[0]).toMatch(/^list \/api\/v1\/pods: connect ECONNREFUSED/);
    expect(log.slice(1).every((l) => l.startsWith("again "))).toBe(true);
    down = false;
    await r.synced;
    expect(replaced).toEqual([["p1"]]);
    expect(r.failure).toBeUndefined();
    expect(recovered).toEqual([failure!.since]);
  });

  it("retryNow ends a backoff wait at once", async () => {
    let down = true;
    const s = fakeServer(() => (down ? new Error("connect ECONNREFUSED") : { items: [], rv: "1" }));
    const { r } = reflector(s.client, { backoffInitialMs: 600_000, backoffMaxMs: 600_000 });
    await until(() => s.lists() >= 1 && r.failure !== undefined, "the first failure");
    down = false;
    r.retryNow();
    await r.synced; // without retryNow this would wait ten minutes
    expect(s.lists()).toBe(2);
  });

  it("a handler that throws on an event neither crashes the process nor ends the reflector: it relists", async () => {
    const s = fakeServer(() => ({ items: [obj("p1", "1")], rv: "1" }));
    s.watches.push(({ open, emit }) => {
      open();
      emit({ type: "ADDED", object: obj("boom", "2") });
    });
    const seen: string[] = [];
    const log: string[] = [];
    const { r } = reflector(s.client, {
      backoffMaxMs: 20,
      handlers: {
        replace: (items) => seen.push(`replace ${items.length}`),
        event: (_t, o) => {
          if ((o["metadata"] as { name: string }).name === "boom") throw new Error("handler bug");
        },
        error: (err, what) => log.push(`${what}: ${String(err)}`),
      },
    });
    await until(() => s.lists() >= 2, "a relist after the handler threw");
    expect(log.some((l) => l.includes("handler bug"))).toBe(true);
    expect(seen).toEqual(["replace 1", "replace 1"]);
    expect(r.stats.watches).toBeGreaterThanOrEqual(1);
    // the version of the event that failed is not taken: the relist's version is used
    await until(() => s.watchPaths.length >= 2, "a new watch");
    expect(rvOf(s.watchPaths[1]!)).toBe("1");
  });

  it("relists afresh when a paged list's continue token expired (410 on the list)", async () => {
    let calls = 0;
    const s = fakeServer(() => {
      calls++;
      return calls === 1
        ? new KubeApiError(410, "Expired", "GET: HTTP 410 Expired: The provided continue parameter is too old")
        : { items: [obj("p1", "4")], rv: "4" };
    });
    const { r, replaced } = reflector(s.client);
    await r.synced;
    expect(replaced).toEqual([["p1"]]);
    expect(r.stats.gone).toBe(1);
  });
});
