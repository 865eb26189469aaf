// The mesh CA: Istio's layouts (plug-in with an intermediate, self-signed), SPIFFE workload
// certificates with Istio's lifetimes, CSRs signed for the caller's identity only. Certificates
// are checked with openssl and node:crypto, not with the code under test.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { CA_CERT, CA_KEY, CERT_CHAIN, materialFromLayout, ROOT_CERT, selfSignedMaterial } from "../../../src/ca/ca-source.js";
import { MeshCa } from "../../../src/ca/mesh-ca.js";
import { readCsr } from "../../../src/ca/pki.js";
import { TestCerts } from "../../support/certs.js";

const certs = new TestCerts("meshpilot-mesh-ca-").intermediate("inter");
const other = new TestCerts("meshpilot-mesh-ca-other-");
afterAll(() => {
  certs.remove();
  other.remove();
});
const read = (f: string) => readFileSync(certs.path(f), "utf8");

const HOUR = 3600_000;

function layout(): Record<string, string> {
  return { [CA_CERT]: read("inter.pem"), [CA_KEY]: read("inter-key.pem"), [ROOT_CERT]: read("ca.pem"), [CERT_CHAIN]: read("inter.pem") + read("ca.pem") };
}

/** A CSR made by openssl, as an agent would send it, asking for `uriSan`. */
function csr(uriSan: string): string {
  const cfg = certs.path("csr.cnf");
  writeFileSync(cfg, `[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n[dn]\nO=ignored\n[ext]\nsubjectAltName=URI:${uriSan}\n`);
  return execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", certs.path("csr-key.pem"), "-config", cfg], {
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

function uriSans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? "").split(", ").filter((s) => s.startsWith("URI:"));
}

describe("mesh CA from Istio's cacerts layout (intermediate signed by a root)", () => {
  it("signs a CSR for the caller's identity only, whatever SAN the CSR asks for; the chain verifies up to the root", async () => {
    const ca = new MeshCa(await materialFromLayout(layout(), "test cacerts"));
    const req = await readCsr(csr("spiffe://cluster.local/ns/kube-system/sa/admin"));
    if ("error" in req) throw new Error(req.error);
    const chain = await ca.signCsr(req, { namespace: "shop", serviceAccount: "cart" }, 0);
    if ("error" in chain) throw new Error(chain.error);
    expect(chain).toHaveLength(3);
    expect(chain[1]!.trim()).toBe(read("inter.pem").trim());
    expect(chain[2]!.trim()).toBe(read("ca.pem").trim()); // root last
    expect(uriSans(chain[0]!)).toEqual(["URI:spiffe://cluster.local/ns/shop/sa/cart"]);
    const leaf = new X509Certificate(chain[0]!);
    expect(leaf.subject ?? "").toBe(""); // empty subject, as Istio's workload certificates
    expect(leaf.ca).toBe(false);
    // Istio's default workload lifetime: 24 h (plus the minute it is backdated).
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBeGreaterThanOrEqual(24 * HOUR);
    expect(Date.parse(leaf.validTo) - Date.now()).toBeLessThanOrEqual(24 * HOUR);
    expect(certs.verify(chain[0]!, chain[1]!, "sslclient")).toMatch(/: OK/);
    expect(certs.verify(chain[0]!, chain[1]!, "sslserver")).toMatch(/: OK/);
    expect(leaf.publicKey.export({ type: "spki", format: "pem" })).toBe(
      new X509Certificate(
        execFileSync("openssl", ["req", "-x509", "-key", certs.path("csr-key.pem"), "-subj", "/CN=x", "-days", "1"]).toString(),
      ).publicKey.export({ type: "spki", format: "pem" }),
    );
  });

  it("honours a requested TTL and refuses one above Istio's maximum (90 days)", async () => {
    const ca = new MeshCa(await materialFromLayout(layout(), "test cacerts"));
    const rsa = await readCsr(csr("spiffe://x"));
    if ("error" in rsa) throw new Error(rsa.error);
    const hour = await ca.signCsr(rsa, { namespace: "a", serviceAccount: "b" }, 3600);
    if ("error" in hour) throw new Error(hour.error);
    expect(Date.parse(new X509Certificate(hour[0]!).validTo) - Date.now()).toBeLessThanOrEqual(HOUR);
    expect(await ca.signCsr(rsa, { namespace: "a", serviceAccount: "b" }, 91 * 24 * 3600)).toEqual({
      error: expect.stringMatching(/greater than the max allowed TTL/),
    });
  });

  it("refuses a CSR whose signature does not match its key", async () => {
    const pem = csr("spiffe://x");
    const body = pem
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    const der = Buffer.from(body, "base64");
    der[der.length - 5] = der[der.length - 5]! ^ 0xff; // flip bits in the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await readCsr(tampered)).toEqual({ error: expect.stringMatching(/signature/) });
    expect(await readCsr("not a csr")).toEqual({ error: expect.stringMatching(/not a PEM PKCS#10/) });
  });

  it("tells a client certificate of this CA (its SPIFFE identity) from others", async () => {
    const ca = new MeshCa(await materialFromLayout(layout(), "test cacerts"));
    const issued = await ca.issueWorkload({ namespace: "shop", serviceAccount: "cart" });
    expect(certs.verify(issued.certChainPem.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!, read("inter.pem"))).toMatch(/: OK/);
    const der = new X509Certificate(issued.certChainPem).raw;
    expect(await ca.verifyClientCert(der)).toEqual({ namespace: "shop", serviceAccount: "cart" });
    const foreign = new MeshCa((await selfSignedMaterial("cluster.local", new Date())).material);
    expect(await foreign.verifyClientCert(der)).toBeUndefined();
    expect(await ca.verifyClientCert(der, new Date(Date.now() + 25 * HOUR))).toBeUndefined(); // expired
  });

  it("names the file and the reason when the layout does not fit", async () => {
    other.leaf("x", "DNS:x");
    await expect(materialFromLayout({ ...layout(), [CA_KEY]: readFileSync(other.path("x-key.pem"), "utf8") }, "Secret istio-system/cacerts")).rejects.toThrow(
      "Secret istio-system/cacerts: ca-key.pem is not the key of ca-cert.pem",
    );
    await expect(
      materialFromLayout({ ...layout(), [ROOT_CERT]: readFileSync(other.path("ca.pem"), "utf8"), [CERT_CHAIN]: "" }, "Secret istio-system/cacerts"),
    ).rejects.toThrow(/is not signed by the next certificate of cert-chain.pem or by root-cert.pem/);
    await expect(materialFromLayout({ [CA_CERT]: read("inter.pem") }, "files in /etc/cacerts")).rejects.toThrow(
      "files in /etc/cacerts: needs ca-cert.pem and ca-key.pem",
    );
    await expect(
      materialFromLayout({ [CA_CERT]: readFileSync(other.path("x.pem"), "utf8"), [CA_KEY]: readFileSync(other.path("x-key.pem"), "utf8") }, "w"),
    ).rejects.toThrow("w: ca-cert.pem is not a CA certificate");
  });
});

describe("self-signed mesh CA", () => {
  it("is a 10-year root for the trust domain, and workload certificates chain to it", async () => {
    const { material, data } = await selfSignedMaterial("example.org", new Date());
    const root = new X509Certificate(material.rootPem);
    expect(root.ca).toBe(true);
    expect(root.subject).toBe("O=example.org");
    expect((Date.parse(root.validTo) - Date.now()) / (365 * 24 * HOUR)).toBeGreaterThan(9.9);
    expect(data[CA_CERT]).toBe(material.rootPem);
    const reloaded = await materialFromLayout({ [CA_CERT]: data[CA_CERT], [CA_KEY]: data[CA_KEY] }, "istio-ca-secret");
    const ca = new MeshCa(reloaded, "example.org");
    const issued = await ca.issueWorkload({ namespace: "a", serviceAccount: "b" });
    const leaf = new X509Certificate(issued.certChainPem);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(uriSans(issued.certChainPem)).toEqual(["URI:spiffe://example.org/ns/a/sa/b"]);
    expect(issued.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(leaf.checkPrivateKey((await import("node:crypto")).createPrivateKey(issued.keyPem))).toBe(true);
  });
});
