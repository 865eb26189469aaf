import { describe, expect, it } from "vitest";
import { syncState } from "../../../src/xds/observer.js";
import { Subscription, TypeState } from "../../../src/xds/stream-state.js";

const view = (s: Subscription): { wildcard: boolean; names: string[] } => ({ wildcard: s.wildcard, names: [...s.names].sort() });

describe("Subscription", () => {
  it("follows the SotW wildcard sequence of the xDS spec (legacy empty → * + A → A → nothing)", () => {
    const s = new Subscription();
    expect(s.replace([], true)).toBe(true);
    expect(view(s)).toEqual({ wildcard: true, names: [] });
    expect(s.replace(["*", "A"], true)).toBe(true);
    expect(view(s)).toEqual({ wildcard: true, names: ["A"] });
    expect(s.replace(["A"], true)).toBe(false);
    expect(view(s)).toEqual({ wildcard: false, names: ["A"] });
    // Once a name was sent, empty means "nothing", not legacy wildcard.
    expect(s.replace([], true)).toBe(false);
    expect(view(s)).toEqual({ wildcard: false, names: [] });
    expect(s.empty).toBe(true);
  });

  it("never makes EDS/RDS wildcard from an empty list", () => {
    const s = new Subscription();
    expect(s.replace([], false)).toBe(false);
    expect(s.empty).toBe(true);
    expect(s.replace(["a"], false)).toBe(true);
    expect(s.replace(["a", "b"], false)).toBe(true);
    expect(s.replace(["b"], false)).toBe(false); // shrinking needs no answer
  });

  it("follows the delta sequence (first empty → wildcard; * and names; unsubscribe *)", () => {
    const s = new Subscription();
    expect(s.apply([], [], true, true)).toEqual({ added: [], removed: [], wildcardAdded: true });
    expect(s.apply(["A"], [], false, true)).toEqual({ added: ["A"], removed: [], wildcardAdded: false });
    expect(view(s)).toEqual({ wildcard: true, names: ["A"] });
    expect(s.apply([], ["*"], false, true).removed).toEqual([]);
    expect(view(s)).toEqual({ wildcard: false, names: ["A"] });
    expect(s.apply([], ["A", "phantom"], false, true).removed).toEqual(["A"]);
    expect(s.empty).toBe(true);
    // A later empty request is an ACK, not a wildcard subscription.
    s.apply([], [], false, true);
    expect(s.empty).toBe(true);
    const eds = new Subscription();
    eds.apply([], [], true, false);
    expect(eds.empty).toBe(true);
  });
});

describe("syncState", () => {
  it("judges the last response sent: NOT SENT, STALE until answered, SYNCED on its ACK, NACKED on its NACK", () => {
    const st = new TypeState();
    expect(st.status().state).toBe("NOT SENT");
    st.versionSent = "v1";
    st.nonceSent = "1";
    expect(st.status().state).toBe("STALE");
    st.nack("1", "bad");
    expect(st.status().state).toBe("NACKED");
    // A newer response supersedes the NACK: not answered yet, then ACKed.
    st.versionSent = "v2";
    st.nonceSent = "2";
    expect(st.status().state).toBe("STALE");
    st.ack("2", "v2");
    expect(st.status()).toMatchObject({ state: "SYNCED", versionAcked: "v2", lastNack: { version: "v1", message: "bad" } });
    expect(st.status().ackedAt).toBeInstanceOf(Date);
    expect(syncState({ nonceSent: "3", nonceAcked: "2", lastNack: { nonce: "2" } })).toBe("STALE");
  });
});
