// The live view's page, script and style: plain files beside this module (src/debug/live-view/ui,
// copied into dist by the build), read once and served from memory. No framework and no CDN: the
// Content-Security-Policy lets the page load and connect to nothing but this server.
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";

const UI_DIR = fileURLToPath(new URL("./ui/", import.meta.url));

const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  "/ui/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};

const loaded = new Map<string, Promise<Buffer>>();

export function isAsset(pathname: string): boolean {
  return pathname in ASSETS;
}

/** Writes the asset at `pathname` (one `isAsset` accepts). */
export async function serveAsset(pathname: string, res: ServerResponse): Promise<void> {
  const asset = ASSETS[pathname]!;
  let body = loaded.get(asset.file);
  if (!body) {
    body = readFile(UI_DIR + asset.file);
    loaded.set(asset.file, body);
    body.catch(() => loaded.delete(asset.file));
  }
  const bytes = await body;
  res.writeHead(200, { "content-type": asset.type, ...SECURITY_HEADERS });
  res.end(bytes);
}
