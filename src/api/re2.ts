/**
 * Regex validation for Envoy's dialect (Google RE2). Envoy NACKs a route whose `safe_regex` RE2 cannot
 * compile, so patterns are checked here, where the error can name the field.
 *
 * This is a stand-in until an RE2 build (e.g. re2-wasm) is available: it walks the pattern, rejects
 * what RE2 does not support (lookaround, backreferences, possessive quantifiers, atomic groups,
 * comments, recursion, repeat counts above 1000, unknown escapes), rewrites the RE2-only syntax into
 * its JavaScript equivalent (`(?P<n>…)`, `(?i)`, `\A`, `\z`, `\x{…}`, `\pN`, `\Q…\E`, POSIX classes)
 * and finally lets the JavaScript engine compile the result, which catches the remaining syntax
 * errors (unbalanced brackets, reversed ranges, …). Keep this file self-contained so it can be swapped.
 */

const POSIX_CLASSES = new Set(["alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word", "xdigit"]);
const GENERAL_CATEGORIES = new Set([
  "L",
  "Lu",
  "Ll",
  "Lt",
  "Lm",
  "Lo",
  "M",
  "Mn",
  "Mc",
  "Me",
  "N",
  "Nd",
  "Nl",
  "No",
  "P",
  "Pc",
  "Pd",
  "Ps",
  "Pe",
  "Pi",
  "Pf",
  "Po",
  "S",
  "Sm",
  "Sc",
  "Sk",
  "So",
  "Z",
  "Zs",
  "Zl",
  "Zp",
  "C",
  "Cc",
  "Cf",
  "Cs",
  "Co",
  "Any",
]);
/** Characters JavaScript's `u` mode accepts after a backslash as a literal. */
const JS_SYNTAX = new Set(["^", "$", "\\", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "/"]);
const MAX_REPEAT = 1000;

class Re2Error extends Error {}

/** The reason RE2 would reject `pattern`, or undefined when it is acceptable. */
export function validateRe2(pattern: string): string | undefined {
  try {
    const js = translate(pattern);
    new RegExp(js, "u");
    return undefined;
  } catch (e) {
    if (e instanceof Re2Error) return e.message;
    const msg = e instanceof Error ? e.message : String(e);
    // "Invalid regular expression: /…/u: Unterminated group" → keep the reason only
    const reason = msg.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
    return `invalid regular expression: ${reason}`;
  }
}

function fail(msg: string): never {
  throw new Re2Error(msg);
}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function translate(p: string): string {
  let out = "";
  let i = 0;
  let depth = 0;
  /** Whether the previous item can take a repetition operator. */
  let canRepeat = false;
  /** Whether the previous item was itself a repetition. */
  let afterRepeat = false;
  const groupNames = new Set<string>();
  let groupCount = 0;

  const repetition = (op: string): void => {
    if (afterRepeat) fail(`bad repetition operator: ${op}`);
    if (!canRepeat) fail(`missing argument to repetition operator: ${op}`);
    out += op;
    if (p[i] === "?") {
      out += "?";
      i++;
    } else if (p[i] === "+") {
      fail(`possessive quantifier ${op}+ is not supported by RE2`);
    }
    canRepeat = false;
    afterRepeat = true;
  };

  while (i < p.length) {
    const c = p[i] as string;
    if (c === "\\") {
      const r = escape(p, i + 1, false);
      out += r.js;
      i = r.next;
      canRepeat = r.repeatable;
      afterRepeat = false;
      continue;
    }
    if (c === "[") {
      const r = charClass(p, i);
      out += r.js;
      i = r.next;
      canRepeat = true;
      afterRepeat = false;
      continue;
    }
    if (c === "(") {
      i++;
      if (p[i] === "?") {
        const rest = p.slice(i + 1);
        if (rest.startsWith("=") || rest.startsWith("!")) fail("lookahead (?= / (?! is not supported by RE2");
        if (rest.startsWith("<=") || rest.startsWith("<!")) fail("lookbehind (?<= / (?<! is not supported by RE2");
        if (rest.startsWith(">")) fail("atomic groups (?> are not supported by RE2");
        if (rest.startsWith("#")) fail("comments (?# are not supported by RE2");
        if (rest.startsWith("P=") || rest.startsWith("P>") || rest.startsWith("&")) fail("named backreferences and recursion are not supported by RE2");
        if (rest.startsWith(":")) {
          out += "(?:";
          i += 2;
        } else if (rest.startsWith("P<") || rest.startsWith("<")) {
          const start = i + 1 + (rest.startsWith("P<") ? 2 : 1);
          const end = p.indexOf(">", start);
          if (end < 0) fail("invalid named capture group: missing >");
          const name = p.slice(start, end);
          if (!/^[A-Za-z0-9_]+$/.test(name)) fail(`invalid named capture group name "${name}"`);
          if (groupNames.has(name)) fail(`duplicate capture group name "${name}"`);
          groupNames.add(name);
          groupCount++;
          out += `(?<g${groupCount}>`;
          i = end + 1;
        } else {
          const m = /^([A-Za-z-]*)([:)])/.exec(rest);
          if (!m) fail(`invalid or unsupported Perl syntax: (?${rest.slice(0, 2)}`);
          const flags = m[1] ?? "";
          if (!/^[imsU]*(-[imsU]+)?$/.test(flags) || flags === "") fail(`invalid or unsupported Perl syntax: (?${flags}${m[2] ?? ""}`);
          i += 1 + m[0].length;
          if (m[2] === ")") {
            // flag setting for the rest of the group: no JS equivalent needed for validation
            canRepeat = false;
            afterRepeat = false;
            continue;
          }
          out += "(?:";
        }
      } else {
        groupCount++;
        out += "(";
      }
      depth++;
      canRepeat = false;
      afterRepeat = false;
      continue;
    }
    if (c === ")") {
      if (depth === 0) fail("unexpected ): unmatched parenthesis");
      depth--;
      out += ")";
      i++;
      canRepeat = true;
      afterRepeat = false;
      continue;
    }
    if (c === "*" || c === "+" || c === "?") {
      i++;
      repetition(c);
      continue;
    }
    if (c === "{") {
      const m = /^\{([0-9]+)(,([0-9]*))?\}/.exec(p.slice(i));
      if (m) {
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
        if (min > MAX_REPEAT || (max !== undefined && (max > MAX_REPEAT || max < min))) fail(`bad repetition operator: ${m[0]}`);
        i += m[0].length;
        repetition(m[0]);
        continue;
      }
      out += "\\{"; // a literal brace in RE2
      i++;
      canRepeat = true;
      afterRepeat = false;
      continue;
    }
    if (c === "}" || c === "]") {
      out += `\\${c}`;
      i++;
      canRepeat = true;
      afterRepeat = false;
      continue;
    }
    if (c === "|" || c === "^" || c === "$") {
      out += c;
      i++;
      canRepeat = false;
      afterRepeat = false;
      continue;
    }
    out += c;
    i++;
    canRepeat = true;
    afterRepeat = false;
  }
  if (depth > 0) fail("missing closing ): unmatched parenthesis");
  return out;
}

interface Piece {
  readonly js: string;
  readonly next: number;
  readonly repeatable: boolean;
}

/** Translate the escape whose character is at `i` (just after the backslash). */
function escape(p: string, i: number, inClass: boolean): Piece {
  const c = p[i];
  if (c === undefined) fail("trailing backslash at end of expression");
  if (c >= "1" && c <= "9") fail(`backreferences (\\${c}) are not supported by RE2`);
  if (c === "0") {
    let j = i + 1;
    let digits = "";
    while (j < p.length && digits.length < 2 && /[0-7]/.test(p[j] as string)) digits += p[j++];
    return { js: hex(parseInt(digits || "0", 8)), next: j, repeatable: true };
  }
  switch (c) {
    case "d":
    case "D":
    case "s":
    case "S":
    case "w":
    case "W":
    case "f":
    case "t":
    case "n":
    case "r":
    case "v":
      return { js: `\\${c}`, next: i + 1, repeatable: true };
    case "a":
      return { js: "\\x07", next: i + 1, repeatable: true };
    case "b":
    case "B":
      if (inClass) fail(`invalid escape sequence \\${c} inside a character class`);
      return { js: `\\${c}`, next: i + 1, repeatable: false };
    case "A":
      if (inClass) fail("invalid escape sequence \\A inside a character class");
      return { js: "^", next: i + 1, repeatable: false };
    case "z":
      if (inClass) fail("invalid escape sequence \\z inside a character class");
      return { js: "$", next: i + 1, repeatable: false };
    case "C":
      if (inClass) fail("invalid escape sequence \\C inside a character class");
      return { js: "[\\s\\S]", next: i + 1, repeatable: true };
    case "x": {
      if (p[i + 1] === "{") {
        const end = p.indexOf("}", i + 2);
        const h = end < 0 ? "" : p.slice(i + 2, end);
        if (!/^[0-9A-Fa-f]{1,8}$/.test(h) || parseInt(h, 16) > 0x10ffff) fail(`invalid escape sequence \\x{${h}`);
        return { js: hex(parseInt(h, 16)), next: end + 1, repeatable: true };
      }
      const h = p.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) fail(`invalid escape sequence \\x${h}`);
      return { js: hex(parseInt(h, 16)), next: i + 3, repeatable: true };
    }
    case "p":
    case "P": {
      let name: string;
      let next: number;
      if (p[i + 1] === "{") {
        const end = p.indexOf("}", i + 2);
        if (end < 0) fail("invalid character class range: missing } after \\p{");
        name = p.slice(i + 2, end);
        next = end + 1;
      } else {
        name = p[i + 1] ?? "";
        next = i + 2;
      }
      let negate = c === "P";
      if (name.startsWith("^")) {
        negate = !negate;
        name = name.slice(1);
      }
      if (!/^[A-Za-z_]+$/.test(name)) fail(`invalid character class range: \\${c}{${name}}`);
      const prop = GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
      return { js: `\\${negate ? "P" : "p"}{${prop}}`, next, repeatable: true };
    }
    case "Q": {
      if (inClass) fail("\\Q…\\E is not supported inside a character class");
      const end = p.indexOf("\\E", i + 1);
      const lit = end < 0 ? p.slice(i + 1) : p.slice(i + 1, end);
      let js = "";
      for (const ch of lit) js += /[A-Za-z0-9]/.test(ch) ? ch : hex(ch.codePointAt(0) ?? 0);
      return { js: lit === "" ? "(?:)" : `(?:${js})`, next: end < 0 ? p.length : end + 2, repeatable: lit !== "" };
    }
    case "E":
      return { js: "", next: i + 1, repeatable: false };
    default:
      break;
  }
  if (/[A-Za-z0-9]/.test(c) || c.charCodeAt(0) > 0x7e) fail(`invalid escape sequence \\${c}`);
  // escaped punctuation is a literal in RE2
  if (JS_SYNTAX.has(c) || (inClass && c === "-")) return { js: `\\${c}`, next: i + 1, repeatable: true };
  return { js: c, next: i + 1, repeatable: true };
}

/** Translate the character class starting at `p[start] === "["`. */
function charClass(p: string, start: number): Piece {
  let i = start + 1;
  let js = "[";
  if (p[i] === "^") {
    js += "^";
    i++;
  }
  if (p[i] === "]") {
    js += "\\]"; // a leading ] is a literal in RE2
    i++;
  }
  while (i < p.length) {
    const c = p[i] as string;
    if (c === "]") return { js: js + "]", next: i + 1, repeatable: true };
    if (c === "\\") {
      const r = escape(p, i + 1, true);
      js += r.js;
      i = r.next;
      continue;
    }
    if (c === "[" && p[i + 1] === ":") {
      const end = p.indexOf(":]", i + 2);
      if (end >= 0) {
        let name = p.slice(i + 2, end);
        if (name.startsWith("^")) name = name.slice(1);
        if (!POSIX_CLASSES.has(name)) fail(`invalid character class range: [:${name}:]`);
        js += "\\w";
        i = end + 2;
        continue;
      }
    }
    if (c === "[") {
      js += "\\[";
      i++;
      continue;
    }
    js += c;
    i++;
  }
  fail("missing closing ]: unterminated character class");
}
