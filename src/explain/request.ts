/**
 * The request `meshpilot explain` follows, written as a user would type it for curl:
 * `GET http://reviews:9080/path?x=1 -H x-test-user:true`. The method is optional (GET); the URL's
 * authority becomes the Host header unless `-H host:…` gives one, as an HTTP client sends it.
 */

export interface ExplainRequest {
  readonly method: string;
  readonly scheme: "http" | "https";
  /** The host the application dials (DNS name or IP), without port. */
  readonly host: string;
  /** The port the application dials. */
  readonly port: number;
  /** `:path` as sent: path and query. */
  readonly path: string;
  /** Lower-cased names, in the order given, `:authority` (Host) among them. */
  readonly headers: readonly (readonly [string, string])[];
}

const METHOD = /^[A-Z]+$/;

/** Words of a shell-like line: whitespace separates, single and double quotes group. */
function words(line: string): string[] | { error: string } {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return { error: `unterminated ${quote} quote` };
  if (inWord) out.push(cur);
  return out;
}

/** Parse `[METHOD] URL [-H name:value]… [-X METHOD]`. */
export function parseRequest(line: string): ExplainRequest | { error: string } {
  const w = words(line);
  if ("error" in w) return w;
  let method: string | undefined;
  let url: string | undefined;
  const headers: [string, string][] = [];
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    if (word === "-H" || word === "--header" || word === "-X" || word === "--request") {
      const value = w[++i];
      if (value === undefined) return { error: `${word} needs a value` };
      if (word === "-X" || word === "--request") {
        method = value.toUpperCase();
        continue;
      }
      const colon = value.indexOf(":", value.startsWith(":") ? 1 : 0);
      if (colon <= 0) return { error: `header "${value}" must be name:value` };
      headers.push([value.slice(0, colon).trim().toLowerCase(), value.slice(colon + 1).trim()]);
    } else if (url === undefined && method === undefined && METHOD.test(word)) {
      method = word;
    } else if (url === undefined) {
      url = word;
    } else {
      return { error: `unexpected "${word}" (headers are given with -H name:value)` };
    }
  }
  if (url === undefined) return { error: "no URL (e.g. GET http://reviews:9080/)" };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    return { error: `"${url}" is not a URL` };
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return { error: `scheme ${scheme} is not supported (http or https)` };
  // URL drops a scheme's default port; the raw text tells whether the user wrote one.
  const explicitPort = /^[a-z]+:\/\/(\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(withScheme)?.[2];
  const port = explicitPort !== undefined ? Number(explicitPort) : scheme === "https" ? 443 : 80;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const rawPath = /^[a-z]+:\/\/[^/?#]*([^#]*)/i.exec(withScheme)?.[1] ?? "/";
  const path = rawPath === "" ? "/" : rawPath.startsWith("?") ? `/${rawPath}` : rawPath;
  const authority = explicitPort !== undefined ? `${parsed.hostname}:${explicitPort}` : parsed.hostname;
  const hostHeader = headers.find(([n]) => n === "host" || n === ":authority");
  const rest = headers.filter(([n]) => n !== "host" && n !== ":authority");
  return {
    method: method ?? "GET",
    scheme,
    host,
    port,
    path,
    headers: [[":authority", hostHeader ? hostHeader[1] : authority], [":method", method ?? "GET"], [":path", path], [":scheme", scheme], ...rest],
  };
}

/** All values of a header joined by ",", as Envoy reads a header for matching; undefined when absent. */
export function headerValue(req: ExplainRequest, name: string): string | undefined {
  const n = name.toLowerCase() === "host" ? ":authority" : name.toLowerCase();
  const values = req.headers.filter(([k]) => k === n).map(([, v]) => v);
  return values.length ? values.join(",") : undefined;
}
