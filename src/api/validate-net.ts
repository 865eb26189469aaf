/** IP addresses, CIDR blocks and ports, validated without node:net (api/ is pure). */

export function isValidPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

export function portError(n: unknown): string | undefined {
  return isValidPort(n) ? undefined : `port number ${String(n)} must be in the range 1..65535`;
}

/** Dotted quad, no leading zeros (as Go's netip and current Kubernetes parse it). */
export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

/** RFC 4291 text form: up to 8 groups of 1-4 hex digits, one `::`, optional trailing dotted quad. No zone. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let groupsNeeded = 8;
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    text = text.slice(0, lastColon + 1) + "0";
    groupsNeeded = 7; // the dotted quad is two groups; it was replaced by one placeholder group
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const parseGroups = (h: string): number | undefined => {
    if (h === "") return 0;
    const gs = h.split(":");
    for (const g of gs) if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    return gs.length;
  };
  if (halves.length === 2) {
    const a = parseGroups(halves[0] ?? "");
    const b = parseGroups(halves[1] ?? "");
    if (a === undefined || b === undefined) return false;
    return a + b <= groupsNeeded - 1;
  }
  const n = parseGroups(text);
  return n === groupsNeeded;
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/** `10.0.0.0/8`, `2001:db8::/32`. */
export function isCIDR(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) return false;
  const n = Number(bits);
  if (isIPv4(ip)) return n <= 32;
  if (isIPv6(ip)) return n <= 128;
  return false;
}
