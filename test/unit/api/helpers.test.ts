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
});

describe("Envoy header values", () => {
  it("accepts format commands and %%, refuses a lone %", () => {
    for (const v of ["plain", "%HOSTNAME%", "100%%", "a %REQ(x-id)% b", "%START_TIME(%Y-%m-%d)%", "%REQ(x-id):10%", ""])
      expect(headerValueError(v), v).toBeUndefined();
    for (const v of ["100%", "abc%123", "%START_TIME%%", "a\nb"]) expect(headerValueError(v), v).toBeDefined();
  });
});
