import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { durationError, parseDuration } from "../../../src/api/duration.js";
import { deepEqual } from "../../../src/api/equal.js";
import { formatPath } from "../../../src/api/path.js";
import { headerValueError } from "../../../src/api/validate-common.js";
import { isCIDR, isIPv4, isIPv6 } from "../../../src/api/validate-net.js";
import { hostsOverlap, ianaSvcNameError, qualifiedNameError, wildcardDomainError } from "../../../src/api/validate-names.js";

describe("durations (Istio's form)", () => {
  it("parses Go-style durations exactly", () => {
    expect(parseDuration("1s")?.totalNanos).toBe(1_000_000_000n);
    expect(parseDuration("500ms")?.totalNanos).toBe(500_000_000n);
    expect(parseDuration("1.5s")).toMatchObject({ seconds: 1n, nanos: 500_000_000 });
    expect(parseDuration("1h30m")?.totalNanos).toBe(5_400_000_000_000n);
    expect(parseDuration("87600h")?.seconds).toBe(315_360_000n);
    expect(parseDuration("10")).toBeUndefined();
    expect(parseDuration("1d")).toBeUndefined();
    expect(parseDuration("s")).toBeUndefined();
    expect(parseDuration("")).toBeUndefined();
  });
  it("applies Istio's rule: at least 1ms, millisecond precision", () => {
    expect(durationError("1ms")).toBeUndefined();
    expect(durationError("0.5ms")).toMatch(/at least 1ms/);
    expect(durationError("0s")).toMatch(/at least 1ms/);
    expect(durationError("1.0005s")).toMatch(/ms precision/);
    expect(durationError("-1s")).toMatch(/negative/);
    expect(durationError("ten seconds")).toMatch(/not a duration/);
    expect(durationError("0s", "istio-or-zero")).toBeUndefined();
    expect(durationError("1.5s", "seconds")).toMatch(/seconds precision/);
  });
});

describe("names and addresses", () => {
  it("hosts", () => {
    for (const h of ["reviews", "reviews.default.svc.cluster.local", "*.example.com", "*", "*-foo.example.com", "istio.io.", "Foo.Example.com"])
      expect(wildcardDomainError(h), h).toBeUndefined();
    for (const h of ["", "foo..com", "foo.*.com", "-foo.com", "foo.123", "a_b.com", "x".repeat(64) + ".com"]) expect(wildcardDomainError(h), h).toBeDefined();
    expect(hostsOverlap("*.foo.com", "bar.foo.com")).toBe(true);
    expect(hostsOverlap("*", "x")).toBe(true);
    expect(hostsOverlap("a.com", "b.com")).toBe(false);
  });
  it("label keys and port names", () => {
    expect(qualifiedNameError("app.kubernetes.io/name")).toBeUndefined();
    expect(qualifiedNameError("a/b/c")).toBeDefined();
    expect(qualifiedNameError("-x")).toBeDefined();
    expect(ianaSvcNameError("http-web")).toBeUndefined();
    expect(ianaSvcNameError("8080")).toMatch(/at least one letter/);
    expect(ianaSvcNameError("a--b")).toMatch(/consecutive/);
  });
  it("IPs and CIDRs", () => {
    expect(isIPv4("10.0.0.1")).toBe(true);
    expect(isIPv4("10.0.0.256")).toBe(false);
    expect(isIPv4("010.0.0.1")).toBe(false);
    for (const a of ["::", "::1", "2001:db8::1", "fe80::1:2:3:4", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::"]) expect(isIPv6(a), a).toBe(true);
    for (const a of [":1", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::ffff:10.0.0.256", "fe80::1%eth0"]) expect(isIPv6(a), a).toBe(false);
    expect(isCIDR("10.0.0.0/8")).toBe(true);
    expect(isCIDR("10.0.0.0/33")).toBe(false);
    expect(isCIDR("2001:db8::/32")).toBe(true);
  });
  it("paths and equality", () => {
    expect(formatPath(["spec", "http", 0, "route", 1, "weight"])).toBe("spec.http[0].route[1].weight");
    expect(formatPath(["metadata", "labels", "app.kubernetes.io/name"])).toBe('metadata.labels["app.kubernetes.io/name"]');
    expect(formatPath(["spec", "http", 0, "match", 0, "headers", "x-user"])).toBe("spec.http[0].match[0].headers.x-user");
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    // Maps and Sets by their entries (model data holds them), not as empty objects.
    expect(deepEqual(new Map([["a", { x: 1 }]]), new Map([["a", { x: 1 }]]))).toBe(true);
    expect(deepEqual(new Map([["a", 1]]), new Map([["a", 2]]))).toBe(false);
    expect(deepEqual(new Map([["a", 1]]), new Map([["b", 1]]))).toBe(false);
    expect(deepEqual(new Set([1, 2]), new Set([1, 3]))).toBe(false);
    expect(deepEqual(new Map(), {})).toBe(false);
  });

  it("deepEqual compares objects by their own enumerable keys with a value, as Object.keys lists them", () => {
    // The plain reading of the rule, to hold the allocation-free walk to.
    const reference = (a: unknown, b: unknown): boolean => {
      if (a === b) return true;
      if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return Number.isNaN(a) && Number.isNaN(b);
      if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) return deepEqual(a, b);
      if (Array.isArray(a) !== Array.isArray(b)) return false;
      if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => reference(v, (b as unknown[])[i]));
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const kx = Object.keys(x).filter((k) => x[k] !== undefined);
      const ky = Object.keys(y).filter((k) => y[k] !== undefined);
      return kx.length === ky.length && kx.every((k) => Object.prototype.hasOwnProperty.call(y, k) && reference(x[k], y[k]));
    };
    const value = fc.letrec((tie) => ({
      leaf: fc.constantFrom<unknown>(undefined, null, 0, 1, "a", "", true, Number.NaN),
      obj: fc.dictionary(fc.constantFrom("a", "b", "c", "1", "__proto__"), tie("any"), { maxKeys: 3 }),
      arr: fc.array(tie("any"), { maxLength: 3 }),
      any: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("obj"), tie("arr")),
    })).any;
    // Pairs that are often equal: a value and a copy with some keys undefined, added or dropped.
    const variant = (v: unknown, seed: number): unknown => {
      if (v === null || typeof v !== "object") return seed % 7 === 0 ? "other" : v;
      if (Array.isArray(v)) return v.map((x, i) => variant(x, seed + i));
      const o: Record<string, unknown> = Object.create(seed % 5 === 0 ? null : Object.prototype) as Record<string, unknown>;
      for (const [k, x] of Object.entries(v)) if (seed % 11 !== 1) o[k] = variant(x, seed * 3 + k.length);
      if (seed % 3 === 0) o["u"] = undefined;
      if (seed % 13 === 2) o["extra"] = 1;
      return o;
    };
    fc.assert(
      fc.property(value, value, fc.nat(), (a, b, seed) => {
        expect(deepEqual(a, b)).toBe(reference(a, b));
        const c = variant(a, seed);
        expect(deepEqual(a, c)).toBe(reference(a, c));
        expect(deepEqual(c, a)).toBe(reference(c, a));
      }),
      { numRuns: 3000 },
    );
    // Inherited enumerable keys are not the object's own.
    const proto = { inherited: 1 };
    expect(deepEqual(Object.create(proto) as object, {})).toBe(true);
    expect(deepEqual({}, Object.create(proto) as object)).toBe(true);
  });
});

describe("Envoy header values", () => {
  it("accepts format commands and %%, refuses a lone %", () => {
    for (const v of ["plain", "%HOSTNAME%", "100%%", "a %REQ(x-id)% b", "%START_TIME(%Y-%m-%d)%", "%REQ(x-id):10%", ""])
      expect(headerValueError(v), v).toBeUndefined();
    for (const v of ["100%", "abc%123", "%START_TIME%%", "a\nb"]) expect(headerValueError(v), v).toBeDefined();
  });
});
