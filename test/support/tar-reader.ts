/**
 * A minimal ustar/PAX reader for tests that inspect image tarballs: lists the entries of a tar
 * (or of a tar stored inside another, given its byte range) without loading file contents, and
 * reads one entry's bytes on demand. Independent of the writer in scripts/cluster so that a
 * test of the writer does not read its output with its own assumptions.
 */
import { closeSync, openSync, readSync } from "node:fs";

export interface TarEntry {
  name: string;
  /** "0" file, "2" symlink, "5" directory, … */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string;
  /** Absolute offset of the content in the outermost file. */
  offset: number;
}

const cstr = (b: Buffer, start: number, len: number): string => {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? s.length : nul).toString("utf8");
};
const num = (b: Buffer, start: number, len: number): number => parseInt(cstr(b, start, len).trim() || "0", 8);

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) throw new Error(`tar: unexpected end of file at ${offset + got}`);
    got += n;
  }
  return buf;
}

/** PAX records are "<len> <key>=<value>\n", <len> counting bytes of the whole record. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    const len = Number(data.subarray(pos, sp).toString("ascii"));
    const kv = data.subarray(sp + 1, pos + len - 1).toString("utf8");
    const eq = kv.indexOf("=");
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Entries of the tar in `file` between `start` and `start + length` (the whole file by default). */
export function listTar(file: string, start = 0, length = Infinity): TarEntry[] {
  const fd = openSync(file, "r");
  try {
    const entries: TarEntry[] = [];
    let pos = start;
    let pax: Record<string, string> = {};
    while (pos + 512 <= start + length) {
      const h = readAt(fd, pos, 512);
      if (h.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
      if (sum !== num(h, 148, 8)) throw new Error(`tar: bad header checksum at ${pos}`);
      if (cstr(h, 257, 6) !== "ustar") throw new Error(`tar: not a ustar header at ${pos}`);
      const size = num(h, 124, 12);
      const type = cstr(h, 156, 1) || "0";
      const contentAt = pos + 512;
      pos = contentAt + Math.ceil(size / 512) * 512;
      if (type === "x") {
        pax = parsePax(readAt(fd, contentAt, size));
        continue;
      }
      const prefix = cstr(h, 345, 155);
      const base = cstr(h, 0, 100);
      entries.push({
        name: pax["path"] ?? (prefix ? `${prefix}/${base}` : base),
        type,
        mode: num(h, 100, 8),
        uid: num(h, 108, 8),
        gid: num(h, 116, 8),
        uname: cstr(h, 265, 32),
        gname: cstr(h, 297, 32),
        mtime: num(h, 136, 12),
        size,
        linkname: pax["linkpath"] ?? cstr(h, 157, 100),
        offset: contentAt,
      });
      pax = {};
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** The bytes of one entry (or the first `max` of them). */
export function readEntry(file: string, entry: TarEntry, max = entry.size): Buffer {
  const fd = openSync(file, "r");
  try {
    return readAt(fd, entry.offset, Math.min(max, entry.size));
  } finally {
    closeSync(fd);
  }
}
