import { describe, expect, it } from "vitest";
import { headerMatches, pathMatches, queryMatches, routeMatches } from "../../../src/explain/matchers.js";
import { parseRequest, type ExplainRequest } from "../../../src/explain/request.js";

const req = (line: string): ExplainRequest => {
  const r = parseRequest(line);
  if ("error" in r) throw new Error(r.error);
  return r;
};

describe("parseRequest", () => {
  it("takes method, URL and headers as curl does; the authority becomes the Host", () => {
    const r = req("POST http://reviews:9080/a?b=1 -H 'x-user: jason' -H X-Two:2");
    expect(r.method).toBe("POST");
    expect(r.port).toBe(9080);
    expect(r.path).toBe("/a?b=1");
    expect(r.headers).toContainEqual([":authority", "reviews:9080"]);
    expect(r.headers).toContainEqual(["x-user", "jason"]);
    expect(r.headers).toContainEqual(["x-two", "2"]);
  });
  it("defaults to GET, port 80 and path /; -H host overrides the authority", () => {
    const r = req("reviews -H host:other.example");
    expect([r.method, r.port, r.path, r.host]).toEqual(["GET", 80, "/", "reviews"]);
    expect(r.headers).toContainEqual([":authority", "other.example"]);
  });
  it("says what is wrong with a bad request", () => {
    expect(parseRequest("GET")).toEqual({ error: expect.stringMatching(/no URL/) });
    expect(parseRequest("GET http://a/ -H novalue")).toEqual({ error: expect.stringMatching(/name:value/) });
    expect(parseRequest("GET ftp://a/")).toEqual({ error: expect.stringMatching(/scheme ftp/) });
  });
});

describe("header matching (Envoy's HeaderMatcher)", () => {
  const none = req("http://a/");
  it("a missing header fails a string match, and inverting it does not make it pass", () => {
    expect(headerMatches({ name: "x", stringMatch: { exact: "a" } }, none).ok).toBe(false);
    expect(headerMatches({ name: "x", stringMatch: { exact: "a" }, invertMatch: true }, none).ok).toBe(false);
  });
  it("treat_missing_header_as_empty lets an inverted match pass on a missing header (Istio's withoutHeaders)", () => {
    expect(headerMatches({ name: "x", stringMatch: { exact: "a" }, invertMatch: true, treatMissingHeaderAsEmpty: true }, none).ok).toBe(true);
    expect(headerMatches({ name: "x", stringMatch: { exact: "a" }, invertMatch: true, treatMissingHeaderAsEmpty: true }, req("http://a/ -H x:a")).ok).toBe(
      false,
    );
  });
  it("present_match: true needs the header, false needs it absent; inverted, the other way", () => {
    expect(headerMatches({ name: "x", presentMatch: true }, none).ok).toBe(false);
    expect(headerMatches({ name: "x", presentMatch: false }, none).ok).toBe(true);
    expect(headerMatches({ name: "x", presentMatch: true, invertMatch: true }, none).ok).toBe(true);
    expect(headerMatches({ name: "x", presentMatch: true }, req("http://a/ -H x:")).ok).toBe(true);
  });
  it("repeated headers are joined with a comma; names are case-insensitive", () => {
    const r = req("http://a/ -H X-Multi:a -H x-multi:b");
    expect(headerMatches({ name: "x-multi", stringMatch: { exact: "a,b" } }, r).ok).toBe(true);
    expect(headerMatches({ name: "X-MULTI", stringMatch: { exact: "a" } }, r).ok).toBe(false);
  });
  it("regexes are RE2 full matches, and ignore_case applies to the other string matchers", () => {
    const r = req("http://a/ -H x:Jason-Smith");
    expect(headerMatches({ name: "x", stringMatch: { safeRegex: { regex: "Jason" } } }, r).ok).toBe(false);
    expect(headerMatches({ name: "x", stringMatch: { safeRegex: { regex: "Jason.*" } } }, r).ok).toBe(true);
    expect(headerMatches({ name: "x", stringMatch: { prefix: "jason", ignoreCase: true } }, r).ok).toBe(true);
    expect(headerMatches({ name: "x", stringMatch: { prefix: "jason" } }, r).ok).toBe(false);
  });
  it("pseudo-headers: :method and :authority (Host)", () => {
    const r = req("DELETE http://web:8080/");
    expect(headerMatches({ name: ":method", stringMatch: { exact: "DELETE" } }, r).ok).toBe(true);
    expect(headerMatches({ name: ":authority", stringMatch: { safeRegex: { regex: "web:[0-9]+" } } }, r).ok).toBe(true);
  });
  it("range match is [start, end) over an integer value", () => {
    const m = { name: "n", rangeMatch: { start: "10", end: "20" } };
    expect(headerMatches(m, req("http://a/ -H n:19")).ok).toBe(true);
    expect(headerMatches(m, req("http://a/ -H n:20")).ok).toBe(false);
    expect(headerMatches(m, req("http://a/ -H n:1x")).ok).toBe(false);
  });
  it("says what it compared", () => {
    expect(headerMatches({ name: "x-user", stringMatch: { exact: "jason" } }, none).why).toBe('header x-user exact "jason": no, the request has (absent)');
  });
});

describe("query parameter matching", () => {
  it("tests the first value, percent-decoded; a parameter without = is present with value empty", () => {
    expect(queryMatches({ name: "a", stringMatch: { exact: "2" } }, req("http://h/?a=1&a=2")).ok).toBe(false);
    expect(queryMatches({ name: "a", stringMatch: { exact: "1" } }, req("http://h/?a=1&a=2")).ok).toBe(true);
    expect(queryMatches({ name: "q", stringMatch: { exact: "a b" } }, req("http://h/?q=a%20b")).ok).toBe(true);
    expect(queryMatches({ name: "flag", presentMatch: true }, req("http://h/?flag")).ok).toBe(true);
    expect(queryMatches({ name: "flag", presentMatch: true }, req("http://h/?other=1")).ok).toBe(false);
  });
});

describe("path matching", () => {
  const p = (m: Parameters<typeof pathMatches>[0], path: string) => pathMatches(m, path)?.ok;
  it("exact path and regex ignore the query string; regex is a full match", () => {
    expect(p({ path: "/a" }, "/a?x=1")).toBe(true);
    expect(p({ safeRegex: { regex: "/users/[0-9]+" } }, "/users/12?x")).toBe(true);
    expect(p({ safeRegex: { regex: "/users/[0-9]+" } }, "/users/12/x")).toBe(false);
  });
  it("case_sensitive false lowers prefix and path matches, never a regex", () => {
    expect(p({ path: "/CaseTest", caseSensitive: false }, "/casetest")).toBe(true);
    expect(p({ prefix: "/API", caseSensitive: false }, "/api/v1")).toBe(true);
    expect(p({ prefix: "/API" }, "/api/v1")).toBe(false);
    expect(p({ safeRegex: { regex: "/API" }, caseSensitive: false }, "/api")).toBe(false);
  });
  it("path_separated_prefix ends at a segment boundary", () => {
    expect(p({ pathSeparatedPrefix: "/api" }, "/api")).toBe(true);
    expect(p({ pathSeparatedPrefix: "/api" }, "/api/v1")).toBe(true);
    expect(p({ pathSeparatedPrefix: "/api" }, "/api?x")).toBe(true);
    expect(p({ pathSeparatedPrefix: "/api" }, "/apix")).toBe(false);
  });
  it("a route match needs its path, every header and every query parameter", () => {
    const m = { prefix: "/", headers: [{ name: "x", stringMatch: { exact: "1" } }], queryParameters: [{ name: "q", presentMatch: true }] };
    expect(routeMatches(m, req("http://h/?q -H x:1")).ok).toBe(true);
    expect(routeMatches(m, req("http://h/ -H x:1")).ok).toBe(false);
    expect(routeMatches(m, req("http://h/?q")).checks.filter((c) => !c.ok)).toHaveLength(1);
  });
});
