import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bootstrapCommand, parseLabelsFile, writeBootstrap, type BootstrapCliOptions } from "../../../src/cli/bootstrap.js";

const dir = mkdtempSync(join(tmpdir(), "meshpilot-bootstrap-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: BootstrapCliOptions = { type: "router", xdsAddress: "meshpilot.meshpilot-system.svc:15010", adminAddress: "127.0.0.1:15000", label: [] };
/** What the kubelet gives a container whose env names the downward API's pod fields. */
const podEnv = {
  INSTANCE_IP: "10.244.0.17",
  POD_NAME: "istio-ingressgateway-5d8f-abcde",
  POD_NAMESPACE: "istio-ingress",
  SERVICE_ACCOUNT: "istio-ingressgateway",
};

async function node(o: BootstrapCliOptions): Promise<{ id: string; metadata: Record<string, unknown> }> {
  const r = await bootstrapCommand(o);
  if ("error" in r) throw new Error(r.error);
  return (JSON.parse(r.output) as { node: { id: string; metadata: Record<string, unknown> } }).node;
}

async function error(o: BootstrapCliOptions): Promise<string> {
  const r = await bootstrapCommand(o);
  if (!("error" in r)) throw new Error(`expected an error, got ${r.output.slice(0, 200)}`);
  return r.error;
}

describe("meshpilot bootstrap in a pod: the downward API", () => {
  it("builds the node id from INSTANCE_IP, POD_NAME and POD_NAMESPACE, as Istio's agent reads them", async () => {
    const n = await node({ ...base, env: podEnv });
    expect(n.id).toBe("router~10.244.0.17~istio-ingressgateway-5d8f-abcde.istio-ingress~istio-ingress.svc.cluster.local");
    expect(n.metadata).toMatchObject({ NAME: "istio-ingressgateway-5d8f-abcde", NAMESPACE: "istio-ingress", INSTANCE_IPS: "10.244.0.17" });
    expect(n.metadata["SERVICE_ACCOUNT"]).toBe("istio-ingressgateway");
    expect(n.metadata["INTERCEPTION_MODE"]).toBe("NONE");
  });

  it("takes POD_IP when INSTANCE_IP is not set, and flags over the environment", async () => {
    const { INSTANCE_IP: _, ...rest } = podEnv;
    expect((await node({ ...base, env: { ...rest, POD_IP: "10.244.0.9" } })).id).toMatch(/^router~10\.244\.0\.9~/);
    const n = await node({ ...base, ip: "10.1.1.1", pod: "gw-1", namespace: "edge", serviceAccount: "gw", env: podEnv });
    expect(n.id).toBe("router~10.1.1.1~gw-1.edge~edge.svc.cluster.local");
    expect(n.metadata["SERVICE_ACCOUNT"]).toBe("gw");
  });

  it("says which values are missing and where it looked", async () => {
    expect(await error({ ...base, env: { POD_NAME: "gw-1" } })).toBe(
      "give --node-id, or the pod's IP, name and namespace: missing --ip (or $INSTANCE_IP or $POD_IP), --namespace (or $POD_NAMESPACE)",
    );
  });

  it("explains a $(VAR) the kubelet left unexpanded instead of calling it a bad IP", async () => {
    const e = await error({ ...base, ip: "$(POD_IP)", env: { POD_NAME: "gw-1", POD_NAMESPACE: "edge" } });
    expect(e).toMatch(/^--ip "\$\(POD_IP\)": the kubelet did not expand \$\(POD_IP\): define POD_IP in the container's env/);
  });

  it("names the variable a bad value came from", async () => {
    expect(await error({ ...base, env: { ...podEnv, INSTANCE_IP: "not-an-ip" } })).toMatch(
      /^\$INSTANCE_IP, \$POD_NAME, \$POD_NAMESPACE: node id .*"not-an-ip" is not an IP address/,
    );
  });

  it("keeps --node-id whole: the environment does not override its parts", async () => {
    const id = "router~10.0.0.1~gw-0.edge~edge.svc.cluster.local";
    const n = await node({ ...base, nodeId: id, env: podEnv });
    expect(n.id).toBe(id);
    expect(n.metadata["NAMESPACE"]).toBe("edge");
  });
});

describe("meshpilot bootstrap --labels-file", () => {
  it("reads the downward API's metadata.labels file; --label wins", async () => {
    const file = join(dir, "labels");
    writeFileSync(file, 'app="istio-ingressgateway"\nistio="ingressgateway"\npod-template-hash="5d8f"\nsidecar.istio.io/inject="false"');
    const n = await node({ ...base, env: podEnv, labelsFile: file, label: ["istio=edge"] });
    expect(n.metadata["LABELS"]).toEqual({ app: "istio-ingressgateway", istio: "edge", "pod-template-hash": "5d8f", "sidecar.istio.io/inject": "false" });
  });

  it('refuses a line that is not key="value", naming the file and line', () => {
    expect(parseLabelsFile('a="1"\nb=2\n', "/etc/podinfo/labels")).toEqual({
      error: '--labels-file /etc/podinfo/labels line 2: expected key="value", as the downward API writes metadata.labels',
    });
    expect(parseLabelsFile('a="x\\"y"\n\n', "f")).toEqual({ labels: { a: 'x"y' } });
  });

  it("reports a missing file", async () => {
    expect(await error({ ...base, env: podEnv, labelsFile: join(dir, "nope") })).toMatch(/^--labels-file .*nope: ENOENT/);
  });
});

describe("meshpilot bootstrap --output", () => {
  it("writes the bootstrap readable by its owner only, also over an existing file", () => {
    const file = join(dir, "envoy.json");
    writeFileSync(file, "old", { mode: 0o644 });
    writeBootstrap(file, '{"node":{}}\n');
    expect(readFileSync(file, "utf8")).toBe('{"node":{}}\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
