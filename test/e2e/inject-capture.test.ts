/**
 * The injected capture rules in a real network namespace: the init container's script (as the
 * webhook generates it) runs in a pod-like namespace, iptables-save shows exactly the intended
 * nat table, and connections behave as Istio's REDIRECT capture: the application's outbound
 * traffic reaches 15001 with its original destination kept, the proxy's (uid 1337) goes out,
 * inbound traffic reaches 15006, Envoy's health port is not captured, and an
 * excludeOutboundIPRanges annotation really lets traffic past the proxy.
 *
 * Topology (both namespaces made here): "pod" 10.99.0.2 ⇄ veth ⇄ "peer" 10.99.0.1.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { captureConfig } from "../../src/inject/capture-config.js";
import { captureScript } from "../../src/inject/iptables.js";
import { DEFAULT_INJECTION_SETTINGS } from "../../src/inject/settings.js";
import { NetNs, netnsAvailable } from "../support/netns.js";
import { until } from "../support/wait.js";

const ci = process.env["CI"] === "true";
const available = netnsAvailable();
const PY = "/usr/bin/python3";

// Answers every connection with "<listener port> <original destination>", the destination read
// with SO_ORIGINAL_DST as Envoy's original_dst listener filter reads it (the local address where
// the namespace tracks no connections, i.e. has no nat rules).
const SERVER = `
import socket, struct, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            try:
                dport, ip = struct.unpack("!2xH4s8x", c.getsockopt(socket.SOL_IP, 80, 16))
                dst = "%s:%d" % (socket.inet_ntoa(ip), dport)
            except OSError:  # no conntrack in this namespace: nothing was rewritten
                dst = "%s:%d" % c.getsockname()
            c.sendall(("%d %s\\n" % (port, dst)).encode())
        finally:
            c.close()
ports = [int(p) for p in sys.argv[1:]]
for p in ports: threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
`;
const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(s.recv(200).decode().strip())
`;

function setup(annotations: Record<string, string> = {}) {
  const pod = NetNs.create("mp-cap-pod");
  const peer = NetNs.create("mp-cap-peer");
  try {
    pod.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer.name);
    pod.ip("addr", "add", "10.99.0.2/24", "dev", "eth0");
    peer.ip("addr", "add", "10.99.0.1/24", "dev", "eth0");
    pod.ip("link", "set", "eth0", "up");
    peer.ip("link", "set", "eth0", "up");
    const cfg = captureConfig(DEFAULT_INJECTION_SETTINGS, annotations);
    if (!cfg.config) throw new Error(JSON.stringify(cfg.errors));
    // busybox sh, the shell of the proxy-init image.
    const out = pod.exec("busybox", ["sh", "-c", captureScript(cfg.config)]);
    return { pod, peer, out };
  } catch (err) {
    pod.destroy();
    peer.destroy();
    throw err;
  }
}

async function startServer(ns: NetNs, ports: number[]): Promise<void> {
  const child = ns.spawn(PY, ["-c", SERVER, ...ports.map(String)]);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await until(() => out.includes("ready"), `python server on ${ports.join(",")} in ${ns.name}`, 10_000);
}

/** Connects as `uid` (0 = root) and returns the answering listener's line. */
function connect(ns: NetNs, uid: number, host: string, port: number): string {
  const cmd =
    uid === 0
      ? [PY, "-c", CLIENT, host, String(port)]
      : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", PY, "-c", CLIENT, host, String(port)];
  return ns.exec(cmd[0]!, cmd.slice(1)).trim();
}

function natRules(ns: NetNs): string[] {
  return ns
    .exec("iptables-save", ["-t", "nat"])
    .split("\n")
    .filter((l) => l.startsWith("-A ") || l.startsWith(":ISTIO"));
}

describe.skipIf(!available && !ci)("capture rules in a network namespace", () => {
  const made: NetNs[] = [];
  beforeAll(() => {
    if (ci && !available) throw new Error("CI=true but network namespaces cannot be created here (need root, iproute2, nsenter)");
  });
  afterEach(() => {
    for (const ns of made.splice(0)) ns.destroy();
  });

  it("installs exactly the intended nat table", () => {
    const { pod, peer, out } = setup();
    made.push(pod, peer);
    expect(out).toContain("ISTIO_OUTPUT");
    // As iptables-save prints them; written by hand.
    expect(natRules(pod)).toEqual([
      ":ISTIO_INBOUND - [0:0]",
      ":ISTIO_IN_REDIRECT - [0:0]",
      ":ISTIO_OUTPUT - [0:0]",
      ":ISTIO_REDIRECT - [0:0]",
      "-A PREROUTING -p tcp -j ISTIO_INBOUND",
      "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
      "-A ISTIO_INBOUND -p tcp -m multiport --dports 15090,15021,15020 -j RETURN",
      "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
      "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
      "-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN",
      "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
      "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
      "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
      "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT",
      "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
      "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
      "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
      "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
      "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
    ]);
  });

  it("redirects the application's outbound to 15001 and inbound to 15006; the proxy's uid and Envoy's health port pass", async () => {
    const { pod, peer } = setup();
    made.push(pod, peer);
    await startServer(pod, [15001, 15006, 15021, 8080]);
    await startServer(peer, [80, 8080]);
    // Application (uid 1000) calling out: captured, original destination kept.
    expect(connect(pod, 1000, "10.99.0.1", 80)).toBe("15001 10.99.0.1:80");
    // The proxy (uid 1337) calling the same destination reaches it.
    expect(connect(pod, 1337, "10.99.0.1", 80)).toBe("80 10.99.0.1:80");
    // The application's own loopback traffic is left alone.
    expect(connect(pod, 1000, "127.0.0.1", 8080)).toBe("8080 127.0.0.1:8080");
    // Inbound from outside the pod: captured to 15006 with the destination kept…
    expect(connect(peer, 0, "10.99.0.2", 8080)).toBe("15006 10.99.0.2:8080");
    // …except Envoy's own health port, which the kubelet must reach directly.
    expect(connect(peer, 0, "10.99.0.2", 15021)).toBe("15021 10.99.0.2:15021");
    // The proxy calling its own pod's address over loopback is inbound traffic (a service this pod backs).
    expect(connect(pod, 1337, "10.99.0.2", 8080)).toBe("15006 10.99.0.2:8080");
  });

  it("honours excludeOutboundIPRanges and excludeInboundPorts", async () => {
    const { pod, peer } = setup({ "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.99.0.1/32", "traffic.sidecar.istio.io/excludeInboundPorts": "8080" });
    made.push(pod, peer);
    await startServer(pod, [15001, 15006, 8080, 9090]);
    await startServer(peer, [80]);
    expect(connect(pod, 1000, "10.99.0.1", 80)).toBe("80 10.99.0.1:80");
    expect(connect(peer, 0, "10.99.0.2", 8080)).toBe("8080 10.99.0.2:8080");
    expect(connect(peer, 0, "10.99.0.2", 9090)).toBe("15006 10.99.0.2:9090");
  });
});
