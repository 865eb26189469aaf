import { describe, expect, it } from "vitest";
import { compileRe2, validateRe2 } from "../../../src/api/re2.js";

describe("validateRe2", () => {
  const ok = [
    "/api/v[0-9]+/.*",
    "^/reviews/\\d{1,3}$",
    "(?i)jason",
    "(?i:Jason|Fred)",
    "(?P<ver>v[12])",
    "(?<ver>v[12])",
    "\\Afoo\\z",
    "\\x{41}\\x41",
    "\\pL+\\p{Greek}\\PN\\p{^Lu}",
    "[[:alpha:]_-]+",
    "[]a]",
    "\\Q.*+?\\E",
    "a{2,}b{,3}",
    "a{1000}",
    "foo\\-bar\\#baz",
    "a*?b+?c??",
    ".*",
    "\\0",
  ];
  for (const p of ok) it(`accepts ${p}`, () => expect(validateRe2(p)).toBeUndefined());

  const bad: [string, RegExp][] = [
    ["foo(?=bar)", /lookahead/],
    ["foo(?!bar)", /lookahead/],
    ["(?<=a)b", /lookbehind/],
    ["(?<!a)b", /lookbehind/],
    ["(a)\\1", /backreferences/],
    ["(?P<x>a)(?P=x)", /named backreferences/],
    ["\\k<x>", /invalid escape/],
    ["a++", /possessive/],
    ["a*+", /possessive/],
    ["a{2}+", /possessive/],
    ["(?>a)", /atomic/],
    ["(?#comment)a", /comments/],
    ["a**", /invalid nested repetition/],
    ["a{1001}", /invalid repeat count/],
    ["a{3,2}", /invalid repeat count/],
    ["*a", /missing argument/],
    ["(abc", /missing closing \)/],
    ["abc)", /unexpected \)/],
    ["[abc", /missing closing \]/],
    ["[z-a]", /invalid character class range/],
    ["\\e", /invalid escape/],
    ["\\u0041", /invalid escape/],
    ["x\\", /trailing backslash/],
    ["(?x)a", /unsupported Perl syntax/],
    ["(?P<a>x)(?P<a>y)", /duplicate capture group/],
    ["[[:foo:]]", /invalid character class/],
  ];
  for (const [p, why] of bad) it(`rejects ${p}`, () => expect(validateRe2(p)).toMatch(why));
});

describe("compileRe2", () => {
  const compiled = (p: string) => {
    const c = compileRe2(p);
    if (!c.ok) throw new Error(c.reason);
    return c.re;
  };
  it("matches the whole input, as RE2::FullMatch", () => {
    expect(compiled("/api/v[0-9]+").fullMatch("/api/v1")).toBe(true);
    expect(compiled("/api/v[0-9]+").fullMatch("/api/v1/x")).toBe(false);
    expect(compiled("a|ab").fullMatch("ab")).toBe(true);
  });
  it("has RE2's escapes and flags, not JavaScript's", () => {
    expect(compiled("\\Qa.b\\E").fullMatch("a.b")).toBe(true);
    expect(compiled("\\Qa.b\\E").fullMatch("axb")).toBe(false);
    expect(compiled("(?i)jason").fullMatch("JASON")).toBe(true);
    expect(compiled("[[:digit:]]+").fullMatch("123")).toBe(true);
  });
  it("rewrites with \\N group references, as Envoy's regex_rewrite", () => {
    expect(compiled("^/service/([^/]+)(/.*)$").replaceAll("/service/foo/v1/api", "\\2/instance/\\1")).toBe("/v1/api/instance/foo");
    expect(compiled("one").replaceAll("one two one", "$1")).toBe("$1 two $1");
  });
  it("reports why a pattern is refused", () => {
    expect(compileRe2("(a")).toEqual({ ok: false, reason: "missing closing ): `(a`" });
  });
});
