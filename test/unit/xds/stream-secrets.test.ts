// What one stream sees of its view's Secrets, and that streams which see alike share one object
// (thousands of streams of one view each made a copy of the snapshot on every change).
import { describe, expect, it } from "vitest";
import { contentVersion, typeVersion } from "../../../src/xds/encode.js";
import { routeForm } from "../../../src/xds/route-form.js";
import type { Resource, ResourceMap, Snapshot } from "../../../src/xds/snapshot.js";
import { StreamSecrets } from "../../../src/xds/stream-secrets.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

function resources(...names: string[]): ResourceMap {
  const m = new Map<string, Resource>();
  for (const name of names) {
    const body = new TextEncoder().encode(name);
    m.set(name, { name, version: contentVersion(body), body });
  }
  return m;
}

function snapshot(): Snapshot {
  const res = new Map([
    [TYPE_URL.cluster, resources("c1", "c2")],
    [TYPE_URL.secret, resources("kubernetes://gw-cert")],
  ]);
  return { resources: res, versions: new Map([...res].map(([t, m]) => [t, [...m.values()].map((r) => r.version).join()])) };
}

describe("StreamSecrets", () => {
  it("gives an unentitled stream the snapshot itself when its view holds no Secret", () => {
    const res = new Map([
      [TYPE_URL.cluster, resources("c1")],
      [TYPE_URL.secret, resources()],
    ]);
    const s: Snapshot = { resources: res, versions: new Map([...res].map(([t, m]) => [t, typeVersion(m)])) };
    expect(new StreamSecrets(false).apply(s)).toBe(s);
    // An empty map that does not have an empty map's version is not taken for one.
    const odd: Snapshot = { resources: res, versions: new Map([...s.versions, [TYPE_URL.secret, "x"]]) };
    const form = new StreamSecrets(false).apply(odd);
    expect(form).not.toBe(odd);
    expect(form.versions.get(TYPE_URL.secret)).toBe(typeVersion(new Map()));
  });

  it("shows no view Secret to an unentitled stream, and every such stream of a snapshot gets the same object", () => {
    const s = snapshot();
    const a = new StreamSecrets(false).apply(s);
    const b = new StreamSecrets(false).apply(s);
    expect(a.resources.get(TYPE_URL.secret)?.size).toBe(0);
    expect(a.resources.get(TYPE_URL.cluster)).toBe(s.resources.get(TYPE_URL.cluster));
    expect(b).toBe(a);
    // So the route form laid over it is made once per snapshot too, not once per stream.
    expect(routeForm(b, true)).toBe(routeForm(a, true));
    const next = snapshot();
    expect(new StreamSecrets(false).apply(next)).not.toBe(a);
  });

  it("shows an entitled stream the view's Secrets with its own laid over them, kept while neither changes", () => {
    const s = snapshot();
    expect(new StreamSecrets(true).apply(s)).toBe(s);
    const own = resources("default", "ROOTCA");
    const mine = new StreamSecrets(true);
    mine.setOwn(own);
    const seen = mine.apply(s);
    expect([...seen.resources.get(TYPE_URL.secret)!.keys()].sort()).toEqual(["ROOTCA", "default", "kubernetes://gw-cert"]);
    expect(mine.apply(s)).toBe(seen);
    const other = new StreamSecrets(false);
    other.setOwn(resources("default"));
    expect([...other.apply(s).resources.get(TYPE_URL.secret)!.keys()]).toEqual(["default"]);
    expect(other.apply(s)).not.toBe(seen);
  });
});
