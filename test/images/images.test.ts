/**
 * The local cluster's images, checked as files (no containerd needed): each tarball is a
 * docker-archive whose manifest, config and layer agree (digests recomputed here), whose layer
 * is normalised (mtime 0, root-owned, sorted, parents first), and whose root filesystem holds
 * what the image is for, with the loader of every dynamic executable present. Two builds into
 * separate caches give byte-identical tarballs, and an unchanged input is not rebuilt.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImages, IMAGES, NODE_RUNTIME } from "../../scripts/cluster/images.mjs";
import type { BuiltImage } from "../../scripts/cluster/images.mjs";
import { listTar, readEntry, type TarEntry } from "../support/tar-reader.js";

const REPO = join(import.meta.dirname, "..", "..");

interface OpenedImage {
  built: BuiltImage;
  manifest: { Config: string; RepoTags: string[]; Layers: string[] }[];
  configName: string;
  configBytes: Buffer;
  config: {
    architecture: string;
    os: string;
    config: { Entrypoint: string[] | null; Cmd: string[] | null; User?: string; Env: string[] };
    rootfs: { type: string; diff_ids: string[] };
  };
  layerEntry: TarEntry;
  /** Layer entries in archive order. */
  entries: TarEntry[];
  /** By path without a trailing slash. */
  byPath: Map<string, TarEntry>;
}

const norm = (name: string): string => name.replace(/\/$/, "");

function openImage(built: BuiltImage): OpenedImage {
  const outer = new Map(listTar(built.tar).map((e) => [e.name, e]));
  const manifestEntry = outer.get("manifest.json");
  if (!manifestEntry) throw new Error(`${built.tar}: no manifest.json`);
  const manifest = JSON.parse(readEntry(built.tar, manifestEntry).toString("utf8")) as OpenedImage["manifest"];
  const configName = manifest[0]!.Config;
  const configBytes = readEntry(built.tar, outer.get(configName)!);
  const layerEntry = outer.get(manifest[0]!.Layers[0]!)!;
  const entries = listTar(built.tar, layerEntry.offset, layerEntry.size);
  return {
    built,
    manifest,
    configName,
    configBytes,
    config: JSON.parse(configBytes.toString("utf8")) as OpenedImage["config"],
    layerEntry,
    entries,
    byPath: new Map(entries.map((e) => [norm(e.name), e])),
  };
}

function sha256Range(file: string, offset: number, size: number): string {
  const h = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - done), offset + done);
      if (n === 0) throw new Error("short read");
      h.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

const sha256File = (file: string): string => sha256Range(file, 0, statSync(file).size);

/** The PT_INTERP path of an ELF entry, or null for a static executable. */
function interpreter(img: OpenedImage, e: TarEntry): string | null {
  const head = readEntry(img.built.tar, e, 64 * 1024);
  expect(head.readUInt32BE(0), `${e.name} is an ELF file`).toBe(0x7f454c46);
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (head.readUInt32LE(ph) !== 3) continue;
    const off = Number(head.readBigUInt64LE(ph + 8));
    const size = Number(head.readBigUInt64LE(ph + 32));
    return head.subarray(off, off + size - 1).toString("ascii");
  }
  return null;
}

function file(img: OpenedImage, path: string): TarEntry {
  const e = img.byPath.get(path);
  expect(e, `${img.built.name}: /${path} in the layer`).toBeDefined();
  expect(e!.type, `${img.built.name}: /${path} is a regular file`).toBe("0");
  return e!;
}

function executable(img: OpenedImage, path: string, linking: "static" | "dynamic"): void {
  const e = file(img, path);
  expect(e.mode & 0o111, `/${path} is executable`).toBe(0o111);
  const interp = interpreter(img, e);
  if (linking === "static") expect(interp, `/${path} is static`).toBeNull();
  else expect(interp, `/${path} is dynamically linked`).not.toBeNull();
}

function symlink(img: OpenedImage, path: string, target: string): void {
  const e = img.byPath.get(path);
  expect(e?.type, `${img.built.name}: /${path} is a symlink`).toBe("2");
  expect(e!.linkname).toBe(target);
}

const text = (img: OpenedImage, path: string): string => readEntry(img.built.tar, file(img, path)).toString("utf8");

let built: BuiltImage[];
const opened = new Map<string, OpenedImage>();
const logs: string[] = [];

beforeAll(async () => {
  ({ images: built } = await ensureImages({ log: (m) => logs.push(m) }));
  for (const b of built) opened.set(b.name, openImage(b));
}, 900_000);

const img = (name: string): OpenedImage => {
  const o = opened.get(name);
  if (!o) throw new Error(`image ${name} was not built`);
  return o;
};

describe("image table", () => {
  it("builds every image of the table under a localhost/meshpilot* ref tagged with its content digest", () => {
    expect(built.map((b) => b.name)).toEqual(IMAGES.map((s) => s.name));
    expect(new Set(IMAGES.map((s) => s.repository)).size).toBe(IMAGES.length);
    for (const spec of IMAGES) {
      const b = built.find((x) => x.name === spec.name)!;
      expect(spec.repository).toMatch(/^localhost\/meshpilot(-[a-z-]+)?$/);
      expect(b.ref).toMatch(new RegExp(`^${spec.repository}:[0-9a-f]{16}$`));
      expect(b.alias).toBe(`${spec.repository}:local`);
      expect(statSync(b.tar).isFile()).toBe(true);
    }
  });
});

describe.each(IMAGES.map((s) => s.name))("image %s", (name) => {
  it("is a docker-archive whose manifest, config and layer digests agree", () => {
    const o = img(name);
    expect(o.manifest).toHaveLength(1);
    expect(o.manifest[0]!.RepoTags).toEqual([o.built.ref, o.built.alias]);
    expect(o.configName).toBe(`${createHash("sha256").update(o.configBytes).digest("hex")}.json`);
    expect(o.config.os).toBe("linux");
    expect(o.config.architecture).toBe("amd64");
    expect(o.config.rootfs).toEqual({ type: "layers", diff_ids: [`sha256:${sha256Range(o.built.tar, o.layerEntry.offset, o.layerEntry.size)}`] });
  });

  it("has a normalised layer: root-owned, mtime 0, sorted, each parent directory before its children", () => {
    const o = img(name);
    expect(o.entries.length).toBeGreaterThan(0);
    const seen = new Set<string>();
    let previous = "";
    for (const e of o.entries) {
      expect([e.uid, e.gid, e.mtime, e.uname, e.gname], e.name).toEqual([0, 0, 0, "", ""]);
      const path = norm(e.name);
      expect(path.startsWith("/") || path.startsWith("./"), e.name).toBe(false);
      expect(path > previous, `${path} sorts after ${previous}`).toBe(true);
      const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      if (parent) expect(seen.has(parent) && o.byPath.get(parent)!.type === "5", `parent of ${path}`).toBe(true);
      if (e.type === "5") seen.add(path);
      previous = path;
    }
  });

  it("holds the loader of every dynamically linked executable and the target of every symlink", () => {
    const o = img(name);
    for (const e of o.entries) {
      if (e.type === "2") {
        const target = e.linkname.startsWith("/") ? e.linkname.slice(1) : posix.join(posix.dirname(e.name), e.linkname);
        expect(o.byPath.has(target), `${e.name} → ${e.linkname}`).toBe(true);
      }
      if (e.type !== "0" || (e.mode & 0o100) === 0 || e.size < 64) continue;
      const magic = readEntry(o.built.tar, e, 4);
      if (magic.readUInt32BE(0) !== 0x7f454c46) continue;
      const interp = interpreter(o, e);
      if (interp) expect(o.byPath.get(interp.slice(1))?.type, `${e.name} needs ${interp}`).toBe("0");
    }
  });
});

describe("image contents", () => {
  it("pause: one static /pause as the entrypoint", () => {
    const o = img("pause");
    executable(o, "pause", "static");
    expect(o.config.config.Entrypoint).toEqual(["/pause"]);
  });

  it("busybox: static busybox with its applets, users, a sticky /tmp", () => {
    const o = img("busybox");
    executable(o, "bin/busybox", "static");
    symlink(o, "bin/sh", "/bin/busybox");
    symlink(o, "usr/bin/wget", "/bin/busybox");
    symlink(o, "bin/sleep", "/bin/busybox");
    expect(text(o, "etc/passwd")).toMatch(/^root:x:0:0:/m);
    expect(o.byPath.get("tmp")?.mode).toBe(0o1777);
    expect(o.config.config.Cmd).toEqual(["/bin/sh"]);
  });

  it("envoy: the wheel's Envoy with its libraries and a shell, no USER (manifests set runAsUser 1337)", () => {
    const o = img("envoy");
    executable(o, "usr/local/bin/envoy", "dynamic");
    file(o, "lib/x86_64-linux-gnu/libc.so.6");
    symlink(o, "bin/sh", "/bin/busybox");
    expect(text(o, "etc/passwd")).toMatch(/^istio-proxy:x:1337:1337:/m);
    expect(o.config.config.User).toBeUndefined();
    expect(o.config.config.Entrypoint).toEqual(["/usr/local/bin/envoy"]);
  });

  it("meshpilot: the pinned Node, dist, production dependencies only, non-root, `serve` entrypoint", () => {
    const o = img("meshpilot");
    executable(o, "usr/local/bin/node", "dynamic");
    file(o, "lib/x86_64-linux-gnu/libstdc++.so.6");
    // `meshpilot …` runs through the symlink, as in the Dockerfile, so main.js must be executable.
    expect(file(o, "app/dist/cli/main.js").mode & 0o111).toBe(0o111);
    symlink(o, "usr/local/bin/meshpilot", "/app/dist/cli/main.js");
    expect(JSON.parse(text(o, "app/package.json")).type).toBe("module");
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) file(o, `app/node_modules/${dep}/package.json`);
    // What the lock marks dev-only (vitest, typescript, …) must stay out; some devDependencies are also needed at run time.
    const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path.startsWith("node_modules/") && p.dev === true);
    expect(devOnly.length).toBeGreaterThan(10);
    for (const [path] of devOnly) expect(o.byPath.has(`app/${path}`), `dev-only ${path} left out`).toBe(false);
    const compiled = [...o.byPath.keys()].filter((p) => p.startsWith("app/dist/") && p.endsWith(".js"));
    expect(compiled.length).toBeGreaterThan(50);
    expect([...o.byPath.keys()].filter((p) => p.endsWith(".map") || p.endsWith(".d.ts"))).toEqual([]);
    expect(o.config.config.Entrypoint).toEqual(["/usr/local/bin/node", "/app/dist/cli/main.js", "serve"]);
    expect(o.config.config.User).toBe("65532:65532");
    expect(o.config.config.Env).toContain("NODE_ENV=production");
    expect(text(o, "usr/local/share/doc/node/LICENSE")).toMatch(/Node\.js/);
    expect(NODE_RUNTIME.version).toMatch(/^(20\.(19|[2-9]\d)|22)\./);
  });

  it("testapp: the static Go test application plus a shell", () => {
    const o = img("testapp");
    executable(o, "usr/local/bin/testapp", "static");
    symlink(o, "bin/sh", "/bin/busybox");
    expect(o.config.config.Entrypoint).toEqual(["/usr/local/bin/testapp"]);
  });

  it("proxy-init: iptables (nf_tables) with the REDIRECT and owner extensions and their libraries", () => {
    const o = img("proxy-init");
    executable(o, "usr/sbin/xtables-nft-multi", "dynamic");
    symlink(o, "usr/sbin/iptables", "xtables-nft-multi");
    symlink(o, "usr/sbin/iptables-restore", "xtables-nft-multi");
    for (const ext of ["libxt_REDIRECT.so", "libxt_owner.so"]) {
      // Debian ships some extensions as symlinks to the module that implements them.
      const e = o.byPath.get(`usr/lib/x86_64-linux-gnu/xtables/${ext}`);
      const target = e?.type === "2" ? `usr/lib/x86_64-linux-gnu/xtables/${e.linkname}` : `usr/lib/x86_64-linux-gnu/xtables/${ext}`;
      file(o, target);
    }
    file(o, "lib/x86_64-linux-gnu/libxtables.so.12");
    file(o, "lib/x86_64-linux-gnu/libnftnl.so.11");
  });
});

describe("reproducibility", () => {
  let other: string;
  afterAll(() => {
    if (other) rmSync(other, { recursive: true, force: true });
  });

  it("reuses an unchanged image without writing it again", async () => {
    const before = built.map((b) => statSync(b.tar).mtimeMs);
    const again = await ensureImages({ log: () => undefined });
    expect(again.images).toEqual(built);
    expect(again.images.map((b) => statSync(b.tar).mtimeMs)).toEqual(before);
  });

  it("gives byte-identical tarballs when built again from scratch in another cache", async () => {
    other = mkdtempSync(join(tmpdir(), "meshpilot-images-"));
    const fresh = await ensureImages({ cacheDir: other, log: () => undefined });
    expect(fresh.images.map((b) => b.ref)).toEqual(built.map((b) => b.ref));
    for (const [i, b] of fresh.images.entries()) {
      expect(b.tar.startsWith(other)).toBe(true);
      expect(sha256File(b.tar), `${b.name} tarball`).toBe(sha256File(built[i]!.tar));
    }
  }, 900_000);
});
