/**
 * Label selectors for namespace discovery, like meshConfig `discoverySelectors`: a namespace is
 * in scope when ANY selector matches it; inside one selector every requirement must hold.
 * Selectors are written in kubectl's syntax: `env=prod,tier in (a,b),!legacy`.
 */
export type Requirement =
  { readonly key: string; readonly op: "In" | "NotIn"; readonly values: readonly string[] } | { readonly key: string; readonly op: "Exists" | "DoesNotExist" };

export type Selector = readonly Requirement[];

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;

/** Parse one selector in kubectl syntax; throws with a readable reason. */
export function parseSelector(text: string): Selector {
  const reqs: Requirement[] = [];
  // split on commas that are not inside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) throw new Error(`selector "${text}": empty requirement`);
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^)]*)\\)$`).exec(p))) {
      const values = m[3]!
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "");
      reqs.push({ key: m[1]!, op: m[2] === "in" ? "In" : "NotIn", values });
    } else if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`).exec(p))) {
      reqs.push({ key: m[1]!, op: m[2] === "!=" ? "NotIn" : "In", values: [m[3]!] });
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(p))) {
      reqs.push({ key: m[1]!, op: "DoesNotExist" });
    } else if ((m = new RegExp(`^(${KEY})$`).exec(p))) {
      reqs.push({ key: m[1]!, op: "Exists" });
    } else {
      throw new Error(`selector "${text}": cannot parse "${p}" (use key=value, key!=value, key in (a,b), key notin (a,b), key, !key)`);
    }
  }
  return reqs;
}

export function matches(selector: Selector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case "In":
        return has && r.values.includes(l[r.key]!);
      case "NotIn":
        return !has || !r.values.includes(l[r.key]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
    }
  });
}

/** True when no selectors are given (everything in scope) or any of them matches. */
export function anyMatches(selectors: readonly Selector[], labels: Readonly<Record<string, string>> | undefined): boolean {
  return selectors.length === 0 || selectors.some((s) => matches(s, labels));
}
