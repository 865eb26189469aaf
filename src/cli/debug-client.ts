// The CLI side of meshpilot's debug HTTP server: fetch one JSON document, with a clear error
// naming the server when it cannot be reached or answers with an error.

/** `host:port` or a URL → the base URL without a trailing slash. */
export function serverUrl(server: string): string {
  const base = /^https?:\/\//.test(server) ? server : `http://${server}`;
  return base.replace(/\/+$/, "");
}

export async function fetchJson(server: string, pathAndQuery: string, timeoutMs = 10_000): Promise<unknown> {
  const url = `${serverUrl(server)}${pathAndQuery}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new Error(`cannot reach ${url}: ${(e as Error).message}`, { cause: e });
  }
  const text = await res.text();
  if (!res.ok) {
    let reason = text.trim();
    try {
      reason = String((JSON.parse(text) as { error?: unknown }).error ?? reason);
    } catch {
      // not JSON: the text is the reason
    }
    throw new Error(`${url} answered ${res.status}: ${reason}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${url} did not answer JSON`);
  }
}
