// What the image recipes take from the host: Debian packages (installed when missing), the
// shared libraries a dynamically linked binary loads, and content digests of files, remembered
// by inode, size and times so that an unchanged file is not read again on the next run.
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { run } from "../cache-util.mjs";

/**
 * Installs the Debian packages that are not installed yet (idempotent; other setup scripts may
 * install some of them first). Needs root; apt waits for a lock another installer holds.
 * @param {string[]} packages
 * @param {(msg: string) => void} log
 */
export async function ensureDebPackages(packages, log) {
  const missing = [];
  for (const p of packages) {
    const installed = await run("dpkg-query", ["-W", "-f=${Status}", p]).then(
      (r) => r.stdout.trim() === "install ok installed",
      () => false,
    );
    if (!installed) missing.push(p);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`Debian packages ${missing.join(", ")} are missing and installing them needs root: apt-get install -y ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", ...missing];
  log(`apt-get install ${missing.join(" ")}`);
  try {
    await run("apt-get", install, { env });
  } catch {
    // A fresh machine has no package lists yet.
    await run("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], { env });
    await run("apt-get", install, { env });
  }
}

/**
 * The shared objects that `ldd` says the given ELF files load (each as the path the loader
 * asks for), the dynamic loader included; empty for static binaries. One `ldd` run for all.
 * @param {string[]} files
 * @returns {Promise<string[]>} sorted, unique
 */
export async function lddClosure(files) {
  if (files.length === 0) return [];
  // ldd exits 1 when one of several files is static ("not a dynamic executable"); its output
  // still lists the others.
  const { stdout } = await run("ldd", files).catch((err) => ({ stdout: err.stdout ?? "" }));
  const libs = new Set();
  for (const line of stdout.split("\n")) {
    const t = line.trim();
    if (t.includes("=> not found")) throw new Error(`ldd: ${t.split(" ")[0]} not found (needed by one of ${files.join(", ")})`);
    const arrow = /=>\s+(\/\S+)\s+\(0x/.exec(t);
    if (arrow) libs.add(arrow[1]);
    else if (/^\/\S+\s+\(0x/.test(t)) libs.add(t.split(/\s+/)[0]); // the loader
  }
  return [...libs].sort();
}

/** Whether an ELF file asks for a program interpreter, i.e. is not statically linked. */
export function isDynamicElf(path) {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new Error(`${path} is not a 64-bit ELF file`);
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * sha256 of file contents, remembered in a JSON file keyed by path and checked against the
 * file's device, inode, size, mtime and ctime (a rewrite changes at least one of them).
 * @param {string} memoPath
 */
export function fileDigests(memoPath) {
  let memo = {};
  try {
    memo = JSON.parse(readFileSync(memoPath, "utf8"));
  } catch {
    // first run, or a damaged memo: digests are recomputed
  }
  let dirty = false;
  return {
    /** @param {string} path @returns {{ sha256: string, size: number }} */
    digest(path) {
      const real = realpathSync(path);
      const st = statSync(real, { bigint: true });
      const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const known = memo[real];
      if (known && known.stamp === stamp) return { sha256: known.sha256, size: Number(st.size) };
      const h = createHash("sha256");
      const fd = openSync(real, "r");
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
      } finally {
        closeSync(fd);
      }
      const sha256 = h.digest("hex");
      memo[real] = { stamp, sha256 };
      dirty = true;
      return { sha256, size: Number(st.size) };
    },
    save() {
      if (!dirty) return;
      const tmp = `${memoPath}.${process.pid}`;
      writeFileSync(tmp, JSON.stringify(memo));
      renameSync(tmp, memoPath);
      dirty = false;
    },
  };
}
