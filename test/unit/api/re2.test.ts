import { describe, expect, it } from "vitest";
import { validateRe2 } from "../../../src/api/re2.js";

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
    ["a**", /bad repetition/],
    ["a{1001}", /bad repetition/],
    ["a{3,2}", /bad repetition/],
    ["*a", /missing argument/],
    ["(abc", /missing closing \)/],
    ["abc)", /unmatched/],
    ["[abc", /missing closing \]/],
    ["[z-a]", /invalid regular expression/],
    ["\\e", /invalid escape/],
    ["\\u0041", /invalid escape/],
    ["x\\", /trailing backslash/],
    ["(?x)a", /unsupported Perl syntax/],
    ["(?P<a>x)(?P<a>y)", /duplicate capture group/],
    ["[[:foo:]]", /invalid character class/],
  ];
  for (const [p, why] of bad) it(`rejects ${p}`, () => expect(validateRe2(p)).toMatch(why));
});
