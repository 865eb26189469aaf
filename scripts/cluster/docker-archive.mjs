// Writes a one-layer image as a docker-archive tarball (the format `docker save` writes and
// `ctr images import` reads), byte for byte the same for the same entries: every header has
// mtime 0, uid/gid 0 and empty user names, entries are sorted by path, and nothing of the
// building machine (time, user, umask, directory order) reaches the output.
//
// Hand-written rather than built on a tar library: the archive must be reproducible to the byte
// and streamed in one pass (the meshpilot image's layer is ~200 MB), which needs control over
// every header field and the layer's size before its bytes; a ustar writer for files, directories
// and symlinks (plus PAX records for long names) is about sixty lines.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";

const BLOCK = 512;
const padLength = (size) => (BLOCK - (size % BLOCK)) % BLOCK;

function octal(value, width) {
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte octal field`);
  return s.padStart(width - 1, "0") + "\0";
}

function paxRecord(key, value) {
  // Each record is "<len> <key>=<value>\n" where <len> counts its own digits too.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

function ustarHeader({ name, mode, size, type, linkname = "" }) {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(0, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(type, 156, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

/**
 * The header block(s) of one entry; a PAX extended header precedes it when the path or the
 * link target is longer than ustar's 100 bytes.
 * @param {{ name: string, mode: number, size: number, type: "0"|"2"|"5", linkname?: string }} e
 */
export function tarHeader(e) {
  const long = Buffer.byteLength(e.name) > 100 || Buffer.byteLength(e.linkname ?? "") > 100;
  if (!long) return ustarHeader(e);
  let pax = paxRecord("path", e.name);
  if (e.linkname) pax += paxRecord("linkpath", e.linkname);
  const paxBytes = Buffer.from(pax, "utf8");
  return Buffer.concat([
    ustarHeader({ name: "././@PaxHeader", mode: 0o644, size: paxBytes.length, type: "x" }),
    paxBytes,
    Buffer.alloc(padLength(paxBytes.length)),
    ustarHeader({ ...e, name: e.name.slice(0, 99), linkname: (e.linkname ?? "").slice(0, 99) }),
  ]);
}

const TYPE = { file: "0", symlink: "2", dir: "5" };

/**
 * Layer entries as tar headers with their content sources, and the layer's exact length.
 * @param {import("./images.mjs").RootfsEntry[]} entries sorted by path
 */
function planLayer(entries) {
  let size = 0;
  const plan = entries.map((e) => {
    const name = e.type === "dir" ? `${e.path}/` : e.path;
    const contentSize = e.type === "file" ? e.size : 0;
    const header = tarHeader({ name, mode: e.mode, size: contentSize, type: TYPE[e.type], linkname: e.target ?? "" });
    size += header.length + contentSize + padLength(contentSize);
    return { entry: e, header, contentSize };
  });
  return { plan, size: size + 2 * BLOCK };
}

/** Streams one file's bytes into fd, hashing them; fails when the file changed since it was planned. */
function copyFile(fd, entry, hashes) {
  if (entry.data) {
    writeSync(fd, entry.data);
    for (const h of hashes) h.update(entry.data);
    return;
  }
  const src = openSync(entry.source, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let total = 0;
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      writeSync(fd, chunk);
      for (const h of hashes) h.update(chunk);
      total += n;
    }
    if (total !== entry.size) throw new Error(`${entry.source} changed size while the image was written (${entry.size} → ${total})`);
  } finally {
    closeSync(src);
  }
}

function writeBytes(fd, bytes, hashes) {
  writeSync(fd, bytes);
  for (const h of hashes) h.update(bytes);
}

/**
 * Writes `out` (atomically, through a temporary file) as a docker-archive holding one image.
 * The layer comes first under a fixed name, so that it can be streamed while its digest is
 * computed; the config (which names that digest) and manifest.json follow.
 * @param {string} out
 * @param {{ refs: string[], config: object, entries: import("./images.mjs").RootfsEntry[] }} image
 * @returns {{ diffId: string, configDigest: string }}
 */
export function writeDockerArchive(out, { refs, config, entries }) {
  const { plan, size } = planLayer(entries);
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    const layerHash = createHash("sha256");
    writeSync(fd, tarHeader({ name: "layer.tar", mode: 0o644, size, type: "0" }));
    for (const { entry, header, contentSize } of plan) {
      writeBytes(fd, header, [layerHash]);
      if (contentSize > 0) {
        copyFile(fd, entry, [layerHash]);
        writeBytes(fd, Buffer.alloc(padLength(contentSize)), [layerHash]);
      }
    }
    writeBytes(fd, Buffer.alloc(2 * BLOCK), [layerHash]);
    writeSync(fd, Buffer.alloc(padLength(size)));
    const diffId = `sha256:${layerHash.digest("hex")}`;

    const configBytes = Buffer.from(JSON.stringify({ ...config, rootfs: { type: "layers", diff_ids: [diffId] } }));
    const configDigest = createHash("sha256").update(configBytes).digest("hex");
    const configName = `${configDigest}.json`;
    const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: refs, Layers: ["layer.tar"] }]));
    for (const [name, bytes] of [
      [configName, configBytes],
      ["manifest.json", manifest],
    ]) {
      writeSync(fd, tarHeader({ name, mode: 0o644, size: bytes.length, type: "0" }));
      writeSync(fd, bytes);
      writeSync(fd, Buffer.alloc(padLength(bytes.length)));
    }
    writeSync(fd, Buffer.alloc(2 * BLOCK));
    closeSync(fd);
    renameSync(tmp, out);
    return { diffId, configDigest: `sha256:${configDigest}` };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * A one-binary image: `binary` at `path` (the entrypoint, run from /), plus `entries` (files such
 * as /etc/passwd, sorted in with it), as a docker-archive at `out`.
 * @param {string} out
 * @param {{ refs: string[], path: string, binary: string, user?: string, config?: object,
 *   history?: object[], entries?: import("./images.mjs").RootfsEntry[] }} image
 */
export function writeBinaryImage(out, { refs, path, binary, user, config = {}, history, entries = [] }) {
  const all = [...entries, { path: path.slice(1), type: "file", mode: 0o755, source: binary, size: statSync(binary).size }].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  return writeDockerArchive(out, {
    refs,
    config: {
      architecture: "amd64",
      os: "linux",
      created: "1970-01-01T00:00:00Z",
      config: { ...(user ? { User: user } : {}), Entrypoint: [path], WorkingDir: "/", ...config },
      ...(history ? { history } : {}),
    },
    entries: all,
  });
}
