/**
 * The local cluster's images in a real containerd: a throwaway containerd (own root, state and
 * socket in a temp dir, CRI off) runs in a private mount namespace with a tmpfs over /run, so
 * its shims, runc state and container mounts never appear on the host. Every tarball is
 * imported with `ctr images import`, as the cluster does, and each image's main program runs in
 * a container with a read-only root filesystem and its own network namespace: the image works,
 * not just its file list.
 *
 * Needs root (containerd, runc); installs containerd and runc from Debian when missing. Skipped
 * when not root outside CI; under CI=true it runs.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, closeSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImages, NODE_RUNTIME } from "../../scripts/cluster/images.mjs";
import type { BuiltImage } from "../../scripts/cluster/images.mjs";
import { ensureDebPackages } from "../../scripts/cluster/host-files.mjs";
import { captureConfig } from "../../src/inject/capture-config.js";
import { captureScript } from "../../src/inject/iptables.js";
import { DEFAULT_INJECTION_SETTINGS } from "../../src/inject/settings.js";

const runnable = process.getuid?.() === 0 || process.env["CI"] === "true";
const NS = `meshpilot-images-${process.pid}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir = "";
let containerd: ChildProcess | undefined;
let images: BuiltImage[] = [];

function ctr(args: string[], timeoutMs = 60_000): Promise<Result> {
  const pid = containerd?.pid;
  if (!pid) throw new Error("containerd is not running");
  return new Promise((resolve) => {
    execFile(
      "nsenter",
      ["-t", String(pid), "-m", "ctr", "--address", join(dir, "containerd.sock"), "-n", NS, ...args],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

const ref = (name: string): string => {
  const img = images.find((i) => i.name === name);
  if (!img) throw new Error(`no image ${name}`);
  return img.ref;
};

/** Runs `sh -c script` in a fresh container of the image; the container is removed afterwards. */
async function runIn(name: string, id: string, script: string, extra: string[] = []): Promise<Result> {
  const res = await ctr(["run", "--rm", "--read-only", ...extra, ref(name), id, "/bin/sh", "-c", script], 90_000);
  if (res.code === null) {
    // Timed out: the shell as PID 1 ignores SIGTERM, so end the task for good.
    await ctr(["task", "kill", "-s", "SIGKILL", id]);
    await sleep(500);
    await ctr(["task", "delete", id]);
    await ctr(["container", "delete", id]);
  }
  return res;
}

function startContainerd(): ChildProcess {
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${dir}/containerd.sock"`,
      "[ttrpc]",
      `  address = "${dir}/containerd.sock.ttrpc"`,
      "[debug]",
      `  address = "${dir}/debug.sock"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      "",
    ].join("\n"),
  );
  const log = openSync(join(dir, "containerd.log"), "w");
  // unshare and sh exec in place, so the child's pid is containerd's.
  const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", `mount -t tmpfs tmpfs /run && exec containerd --config ${config}`], {
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  return child;
}

/** Shim processes serving our socket (they outlive containerd when a task was left). */
function ourShims(): number[] {
  const sock = join(dir, "containerd.sock");
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes("containerd-shim") && cmd.includes(sock)) pids.push(Number(p));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/** Removes this test's cgroups (deepest first); true when none is left. */
function removeCgroups(): boolean {
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync("/sys/fs/cgroup");
  } catch {
    return true;
  }
  let left = false;
  const rmTree = (path: string): void => {
    if (!existsSync(path)) return;
    for (const d of readdirSync(path, { withFileTypes: true })) if (d.isDirectory()) rmTree(join(path, d.name));
    try {
      rmdirSync(path);
    } catch (err) {
      // ENOENT: a co-mounted hierarchy (cpu,cpuacct) already removed it; EBUSY: a killed task has not exited yet
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") left = true;
    }
  };
  for (const h of hierarchies) rmTree(join("/sys/fs/cgroup", h, NS));
  return !left;
}

describe.skipIf(!runnable)("images in a throwaway containerd", () => {
  beforeAll(async () => {
    await ensureDebPackages(["containerd", "runc"], (m) => console.log(`[images-containerd] ${m}`));
    ({ images } = await ensureImages({ log: () => undefined }));
    dir = mkdtempSync(join(tmpdir(), "meshpilot-ctrd-"));
    containerd = startContainerd();
    for (let i = 0; ; i++) {
      if ((await ctr(["version"], 5_000)).code === 0) break;
      if (i > 100 || containerd.exitCode !== null)
        throw new Error(`containerd did not start:\n${readFileSync(join(dir, "containerd.log"), "utf8").slice(-3000)}`);
      await sleep(200);
    }
    for (const img of images) {
      const res = await ctr(["images", "import", img.tar], 120_000);
      if (res.code !== 0) throw new Error(`ctr images import ${img.tar} failed: ${res.stderr}`);
    }
  }, 900_000);

  afterAll(async () => {
    if (containerd?.pid && containerd.exitCode === null) {
      // A task left by a failed test: kill it and let containerd remove it (and runc its cgroup).
      const tasks = (await ctr(["task", "ls", "-q"], 10_000)).stdout.split("\n").filter(Boolean);
      for (const t of tasks) await ctr(["task", "kill", "-s", "SIGKILL", t], 10_000);
      for (const t of tasks) {
        for (let i = 0; i < 25 && (await ctr(["task", "delete", t], 10_000)).code !== 0; i++) await sleep(200);
        await ctr(["container", "delete", t], 10_000);
      }
      const exited = new Promise((r) => containerd!.once("exit", r));
      containerd.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (containerd.exitCode === null) containerd.kill("SIGKILL");
    }
    if (dir) {
      for (const pid of ourShims()) process.kill(pid, "SIGKILL");
      for (let i = 0; i < 50 && !removeCgroups(); i++) await sleep(200);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("has every tarball imported under its digest tag and the alias", async () => {
    const listed = (await ctr(["images", "ls", "-q"])).stdout.split("\n");
    for (const img of images) expect(listed).toEqual(expect.arrayContaining([img.ref, img.alias]));
  }, 300_000);

  it("pause waits as PID 1, reaps the orphans re-parented to it, and exits 0 on SIGTERM", async () => {
    const running = ctr(["run", "--rm", "--read-only", ref("pause"), "pause-1"], 60_000);
    let state = "";
    for (let i = 0; i < 150 && !/pause-1\s+\d+\s+RUNNING/.test(state); i++) {
      await sleep(200);
      state = (await ctr(["task", "ls"])).stdout;
    }
    const pid = Number(/pause-1\s+(\d+)\s+RUNNING/.exec(state)?.[1]);
    expect(pid).toBeGreaterThan(0);
    // A shell entering pause's PID namespace leaves a `sleep` behind: the kernel re-parents it to
    // the namespace's PID 1, which must collect it once it exits, or it stays a zombie.
    const orphan = await new Promise<number>((resolve, reject) =>
      execFile("nsenter", ["-t", String(pid), "-p", "--", "/bin/sh", "-c", "sleep 1 >/dev/null 2>&1 & echo $!"], (err, stdout) =>
        err ? reject(err) : resolve(Number(stdout.trim())),
      ),
    );
    expect(orphan, "the orphan's pid inside the namespace").toBeGreaterThan(1);
    const children = (): { pid: number; state: string }[] =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .flatMap((p) => {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            return Number(fields[1]) === pid ? [{ pid: Number(p), state: fields[0]! }] : [];
          } catch {
            return [];
          }
        });
    expect(children().length, "the orphan was re-parented to pause").toBe(1);
    for (let i = 0; i < 50 && children().length > 0; i++) await sleep(200);
    expect(children(), "no zombie left under pause").toEqual([]);
    expect((await ctr(["task", "ls"])).stdout, "still running before the signal").toMatch(/pause-1\s+\d+\s+RUNNING/);
    await ctr(["task", "kill", "-s", "SIGTERM", "pause-1"]);
    const res = await running;
    expect(res.code).toBe(0);
    expect(res.stdout + res.stderr).toContain("signal 15");
  }, 120_000);

  it("busybox gives a shell with the applets and a sticky /tmp", async () => {
    const res = await runIn("busybox", "busybox-1", "id -u; stat -c %a /tmp; wget --help 2>&1 | head -1");
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.split("\n").slice(0, 2)).toEqual(["0", "1777"]);
    expect(res.stdout).toMatch(/BusyBox/);
  }, 120_000);

  it("envoy starts as uid 1337 on a read-only root and reports 1.40", async () => {
    const script = [
      `su -s /bin/sh istio-proxy -c 'id -u; exec envoy --disable-hot-restart -l warning --config-yaml "admin: {address: {socket_address: {address: 127.0.0.1, port_value: 15000}}}"' &`,
      "for i in $(seq 250); do wget -qO- http://127.0.0.1:15000/ready >/dev/null 2>&1 && break; sleep 0.2; done",
      "wget -qO- http://127.0.0.1:15000/server_info",
      "kill $!",
    ].join("\n");
    const res = await runIn("envoy", "envoy-1", script);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.split("\n")[0]).toBe("1337");
    expect(res.stdout).toMatch(/"version": "[0-9a-f]+\/1\.40\.\d+\//);
  }, 120_000);

  it("meshpilot runs as the image's non-root user on a read-only root and becomes ready", async () => {
    const script = [
      "id -u; node --version",
      "node /app/dist/cli/main.js serve --config-dir /app/proto --xds-address 127.0.0.1:15010 --debug-address 127.0.0.1:15014 >/dev/null 2>&1 &",
      "for i in $(seq 250); do wget -qO- http://127.0.0.1:15014/ready 2>/dev/null && break; sleep 0.2; done",
      "echo; kill $!",
    ].join("\n");
    const res = await runIn("meshpilot", "meshpilot-1", script);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.split("\n");
    expect(lines.slice(0, 2)).toEqual(["65532", `v${NODE_RUNTIME.version}`]);
    expect(lines[2]).toMatch(/ready/);
  }, 120_000);

  it("testapp answers who it is, calls its upstreams forwarding the routing and tracing headers, echoes TCP", async () => {
    const script = [
      "testapp -service ratings -version v1 -port 8081 2>/dev/null &",
      "testapp -service reviews -version v3 -upstreams http://127.0.0.1:8081/ratings -tcp-echo-port 9000 2>/dev/null &",
      "for p in 8080 8081; do for i in $(seq 250); do wget -qO- http://127.0.0.1:$p/healthz >/dev/null 2>&1 && break; sleep 0.2; done; done",
      "testapp client -n 3 -H 'x-test-user: jason' http://127.0.0.1:8080/",
      "wget -qO- --header 'end-user: jason' --header 'x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7' --header 'x-not-forwarded: 1' http://127.0.0.1:8080/reviews/1",
      "echo hello | nc 127.0.0.1 9000",
      "kill %1 %2",
    ].join("\n");
    const res = await runIn("testapp", "testapp-1", script);
    expect(res.code, res.stderr).toBe(0);
    const [tally, page, echo] = res.stdout.split("\n");
    expect(JSON.parse(tally!)).toMatchObject({ requests: 3, ok: 3, errors: 0, versions: { "reviews/v3": 3 }, upstreams: { "ratings/v1": 3 } });
    const answer = JSON.parse(page!) as {
      service: string;
      path: string;
      headers: Record<string, string>;
      upstreams: { status: number; body: { service: string; path: string; headers: Record<string, string> } }[];
    };
    expect(answer).toMatchObject({ service: "reviews", version: "v3", path: "/reviews/1" });
    expect(answer.headers["x-not-forwarded"]).toBe("1");
    const upstream = answer.upstreams[0]!;
    expect(upstream.status).toBe(200);
    expect(upstream.body).toMatchObject({ service: "ratings", path: "/ratings" });
    expect(upstream.body.headers).toMatchObject({ "end-user": "jason", "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7" });
    expect(upstream.body.headers["x-not-forwarded"]).toBeUndefined();
    expect(echo).toBe("reviews/v3 hello");
  }, 120_000);

  it("proxy-init installs an owner-matched REDIRECT that moves a connection to the local port", async () => {
    const script = [
      "iptables -t nat -A OUTPUT -p tcp --dport 80 -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001",
      "iptables -t nat -S OUTPUT",
      // A route for the made-up address, inside this container's own network namespace.
      "ip route add 10.1.2.3/32 dev lo src 127.0.0.1",
      // In the foreground, as a job: killall could race the child that served the request.
      "httpd -f -p 127.0.0.1:15001 -h /etc &",
      "for i in $(seq 50); do wget -qO- http://10.1.2.3/group 2>/dev/null && break; sleep 0.2; done",
      "kill $!",
    ].join("\n");
    const res = await runIn("proxy-init", "proxy-init-1", script, ["--cap-add", "CAP_NET_ADMIN", "--cap-add", "CAP_NET_RAW"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain("-A OUTPUT -p tcp -m tcp --dport 80 -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001");
    expect(res.stdout).toMatch(/^istio-proxy:x:1337:$/m);
  }, 120_000);

  it("proxy-init runs the script the sidecar injector gives istio-init", async () => {
    const config = captureConfig(DEFAULT_INJECTION_SETTINGS, {}).config;
    if (!config) throw new Error("default capture config refused");
    const res = await ctr(
      ["run", "--rm", "--cap-add", "CAP_NET_ADMIN", "--cap-add", "CAP_NET_RAW", ref("proxy-init"), "proxy-init-2", "/bin/sh", "-c", captureScript(config)],
      90_000,
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^-A OUTPUT -p tcp -j ISTIO_OUTPUT$/m);
    expect(res.stdout).toMatch(/REDIRECT --to-ports 15001/);
    expect(res.stdout).toMatch(/REDIRECT --to-ports 15006/);
  }, 120_000);
});
