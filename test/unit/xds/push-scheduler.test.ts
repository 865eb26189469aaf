// The scheduler's contract, without clocks: it serves waiting streams on a later turn (never
// synchronously in `request`), each once per request, and starts no stream while the bytes sent
// and not yet answered are at the cap, resuming when they are released.
import { describe, expect, it } from "vitest";
import { PushScheduler, type InFlight } from "../../../src/xds/push-scheduler.js";

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function settle(s: PushScheduler): Promise<void> {
  for (let i = 0; i < 20 && s.pending.streams > 0; i++) await turn();
}

describe("PushScheduler", () => {
  it("flushes requested streams later, once each", async () => {
    const s = new PushScheduler();
    const flushed: string[] = [];
    const a = { flushNow: () => void flushed.push("a") };
    const b = { flushNow: () => void flushed.push("b") };
    s.request(a);
    s.request(b);
    s.request(a);
    expect(flushed).toEqual([]);
    await settle(s);
    expect(flushed).toEqual(["a", "b"]);
  });

  it("serves the other streams of a turn when one stream's flush throws, and reports it", async () => {
    const errors: unknown[] = [];
    const s = new PushScheduler({ onFlushError: (e) => errors.push(e) });
    const flushed: string[] = [];
    s.request({ flushNow: () => void flushed.push("a") });
    s.request({
      flushNow: () => {
        throw new Error("boom");
      },
    });
    s.request({ flushNow: () => void flushed.push("c") });
    await settle(s);
    expect(flushed).toEqual(["a", "c"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom"]);
    // Later requests are still served.
    s.request({ flushNow: () => void flushed.push("d") });
    await settle(s);
    expect(flushed).toEqual(["a", "c", "d"]);
  });

  it("holds streams while unanswered bytes are at the cap, and resumes on release", async () => {
    const s = new PushScheduler({ maxInFlightBytes: 10, stallMs: 60_000 });
    const sent: InFlight[] = [];
    const flushed: string[] = [];
    const stream = (name: string) => ({
      flushNow: () => {
        flushed.push(name);
        const w = { bytes: 8, sentAt: performance.now() };
        s.track(w);
        s.track(w); // tracking twice counts once
        sent.push(w);
      },
    });
    s.request(stream("a"));
    s.request(stream("b"));
    s.request(stream("c"));
    await settle(s);
    // a (8 B) leaves room, b (16 B) reaches the cap, c waits.
    expect(flushed).toEqual(["a", "b"]);
    for (let i = 0; i < 5; i++) await turn();
    expect(flushed).toEqual(["a", "b"]);
    expect(s.pending).toEqual({ streams: 1, bytesInFlight: 16 });
    s.release(sent[0]!);
    s.release(sent[0]!); // releasing twice counts once
    await settle(s);
    expect(flushed).toEqual(["a", "b", "c"]);
    expect(s.pending.bytesInFlight).toBe(16);
  });

  it("forgets a stream that went away", async () => {
    const s = new PushScheduler();
    const flushed: string[] = [];
    const a = { flushNow: () => void flushed.push("a") };
    s.request(a);
    s.forget(a);
    await turn();
    await turn();
    expect(flushed).toEqual([]);
  });
});

describe("PushScheduler slices", () => {
  it("starts a push with a short slice and doubles it up to sliceMs; the next push starts short again", async () => {
    // A clock that each flush moves by 1 ms: a slice of n ms serves n streams.
    let now = 0;
    const s = new PushScheduler({ sliceMs: 8, firstSliceMs: 1, clock: () => now });
    const perTurn: number[] = [];
    let lastRound = -1;
    const flushNow = (): void => {
      if (s.stats.rounds !== lastRound) perTurn.push(0);
      lastRound = s.stats.rounds;
      perTurn[perTurn.length - 1]!++;
      now += 1;
    };
    const push = (count: number): void => {
      for (let i = 0; i < count; i++) s.request({ flushNow });
    };
    push(30);
    await settle(s);
    expect(perTurn).toEqual([1, 2, 4, 8, 8, 7]);
    perTurn.length = 0;
    push(5);
    await settle(s);
    expect(perTurn).toEqual([1, 2, 2]);
  });
});

describe("PushScheduler.afterPush", () => {
  it("runs a task once every waiting stream was served, however many turns that takes", async () => {
    // sliceMs 0: one stream per turn, so the push spans three turns.
    const s = new PushScheduler({ sliceMs: 0 });
    const done: string[] = [];
    for (const name of ["a", "b", "c"]) s.request({ flushNow: () => void done.push(name) });
    s.afterPush(() => done.push("task"));
    await settle(s);
    await turn();
    expect(done).toEqual(["a", "b", "c", "task"]);
    expect(s.stats.rounds).toBe(3);
  });

  it("runs tasks in order on a later turn when no stream waits", async () => {
    const s = new PushScheduler();
    const done: string[] = [];
    s.afterPush(() => done.push("one"));
    s.afterPush(() => done.push("two"));
    expect(done).toEqual([]);
    await turn();
    expect(done).toEqual(["one", "two"]);
  });

  it("does not wait for streams held at the cap on unanswered bytes", async () => {
    const s = new PushScheduler({ maxInFlightBytes: 10, stallMs: 60_000 });
    const done: string[] = [];
    const stream = (name: string) => ({
      flushNow: () => {
        done.push(name);
        s.track({ bytes: 16, sentAt: performance.now() });
      },
    });
    s.request(stream("a"));
    s.request(stream("b"));
    s.afterPush(() => done.push("task"));
    for (let i = 0; i < 5; i++) await turn();
    expect(done).toEqual(["a", "task"]);
    expect(s.pending.streams).toBe(1);
  });
});
