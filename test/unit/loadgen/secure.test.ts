// The load proxies' secure transport (src/loadgen/secure.ts): the identity a ServiceAccount token
// names (read, not verified: the server verifies), the token sent as `authorization: Bearer` and
// read again on every connect (projected tokens rotate), and clear errors naming the option.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PLAINTEXT, secureTransport, tokenIdentity } from "../../../src/loadgen/secure.js";

const jwt = (claims: object): string =>
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("the load proxies' secure transport", () => {
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-loadgen-secure-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A self-signed root made by openssl (the handshake is not made here, the PEM must parse).
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=root", "-days", "1"].concat([
      "-keyout",
      join(dir, "k.pem"),
      "-out",
      join(dir, "c.pem"),
    ]),
    { stdio: "ignore" },
  );
  const ROOT = readFileSync(join(dir, "c.pem"), "utf8");
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it("reads the ServiceAccount a Kubernetes token names, from its subject or its kubernetes.io claims", () => {
    expect(tokenIdentity(jwt({ sub: "system:serviceaccount:shop:cart" }))).toMatchObject({ namespace: "shop", serviceAccount: "cart" });
    expect(tokenIdentity(jwt({ sub: "someone", "kubernetes.io": { namespace: "ns", serviceaccount: { name: "sa" } } }))).toMatchObject({
      namespace: "ns",
      serviceAccount: "sa",
    });
    for (const t of [jwt({ sub: "system:serviceaccount:shop" }), jwt({ sub: "user" }), "not-a-jwt", "a.%%%.b", jwt([1])])
      expect(tokenIdentity(t), t).toBeUndefined();
  });

  it("sends the token as authorization: Bearer, read again on every connect; the fleet claims the token's identity", () => {
    const tokenFile = file("token", `${jwt({ sub: "system:serviceaccount:shop:cart" })}\n`);
    const t = secureTransport({ caCertFile: file("root.pem", ROOT), tokenFile, serverName: "meshpilot.meshpilot-system.svc" });
    expect(t.describe).toBe("TLS with a bearer token");
    expect(t.identity).toMatchObject({ namespace: "shop", serviceAccount: "cart" });
    expect(t.authority).toBe("meshpilot.meshpilot-system.svc");
    expect(t.tls?.servername).toBe("meshpilot.meshpilot-system.svc");
    expect(t.metadata().authorization).toBe(`Bearer ${jwt({ sub: "system:serviceaccount:shop:cart" })}`);
    const rotated = jwt({ sub: "system:serviceaccount:shop:cart", iat: 2 });
    writeFileSync(tokenFile, rotated);
    expect(t.metadata().authorization).toBe(`Bearer ${rotated}`);
    // A file briefly unreadable (being rotated) keeps the last token.
    writeFileSync(tokenFile, "");
    expect(t.metadata().authorization).toBe(`Bearer ${rotated}`);
    expect(PLAINTEXT.metadata().authorization).toBeUndefined();
  });

  it("names the option and the file when a credential is missing or malformed", () => {
    const root = file("root2.pem", ROOT);
    expect(() => secureTransport({ caCertFile: join(dir, "absent.pem") })).toThrow(/--ca-cert .*absent\.pem: ENOENT/);
    expect(() => secureTransport({ caCertFile: file("junk.pem", "junk") })).toThrow(/--ca-cert .*junk\.pem: no PEM certificate/);
    expect(() => secureTransport({ caCertFile: root, tokenFile: file("empty", " \n") })).toThrow(/--token-file .*empty: not one token \(empty\)/);
    expect(() => secureTransport({ caCertFile: root, tokenFile: file("two", "a b") })).toThrow(/not one token \(holds whitespace\)/);
    expect(() => secureTransport({ caCertFile: root, certChainFile: root })).toThrow("--cert-chain and --key go together");
    expect(secureTransport({ caCertFile: root }).describe).toBe("TLS");
  });
});
