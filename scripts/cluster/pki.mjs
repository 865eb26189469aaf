// The cluster's PKI, made with openssl: one CA; a client certificate per component carrying the
// identity Kubernetes' RBAC bootstrap policy already grants (system:kube-scheduler, …); the
// apiserver's serving certificate (127.0.0.1 among its names, for the host's bridged port); the
// ServiceAccount signing key. ECDSA P-256 keys: generated in milliseconds, accepted everywhere.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../cache-util.mjs";

/** Component client identities: file stem → [CN, O]. */
export function clientIdentities(cfg) {
  return {
    admin: ["kubernetes-admin", "system:masters"],
    "apiserver-kubelet-client": ["kube-apiserver-kubelet-client", "system:masters"],
    kubelet: [`system:node:${cfg.nodeName}`, "system:nodes"],
    "kube-proxy": ["system:kube-proxy", ""],
    "kube-controller-manager": ["system:kube-controller-manager", ""],
    "kube-scheduler": ["system:kube-scheduler", ""],
  };
}

const openssl = (args, cwd) => run("openssl", args, { cwd });

// Certificates are issued in parallel: each gets a random serial (a shared ca.srl would race).
async function issue(pki, stem, subject, ext) {
  await openssl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${stem}.key`, "-out", `${stem}.csr`, "-subj", subject],
    pki,
  );
  writeFileSync(join(pki, `${stem}.ext`), ext);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${stem}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-out",
      `${stem}.crt`,
      "-days",
      "30",
      "-extfile",
      `${stem}.ext`,
    ],
    pki,
  );
  rmSync(join(pki, `${stem}.csr`));
  rmSync(join(pki, `${stem}.ext`));
}

/** Writes <dir>/pki: ca, apiserver, one client pair per component, sa.key/sa.pub. */
export async function makePKI(cfg) {
  const pki = cfg.path("pki");
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "30",
      "-subj",
      `/CN=meshpilot-local-${cfg.name}-ca`,
    ],
    pki,
  );
  const d = cfg.clusterDomain;
  const sans = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${d}`, "localhost"].map((n) => `DNS:${n}`);
  sans.push(`IP:${cfg.apiServiceIP}`, `IP:${cfg.nodeIP}`, "IP:127.0.0.1");
  const jobs = [issue(pki, "apiserver", "/CN=kube-apiserver", `subjectAltName=${sans.join(",")}\nextendedKeyUsage=serverAuth\n`)];
  for (const [stem, [cn, o]] of Object.entries(clientIdentities(cfg))) {
    jobs.push(issue(pki, stem, `/CN=${cn}${o ? `/O=${o}` : ""}`, "extendedKeyUsage=clientAuth\n"));
  }
  jobs.push(
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"], pki).then(() =>
      openssl(["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"], pki),
    ),
  );
  await Promise.all(jobs);
}

/**
 * A kubeconfig whose credentials are embedded files' paths (they stay in the scratch dir).
 * @param {string} server e.g. https://127.0.0.1:6443
 */
export function kubeconfig(cfg, user, server) {
  const pki = cfg.path("pki");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${cfg.name}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${join(pki, "ca.crt")}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate: ${join(pki, `${user}.crt`)}`,
    `    client-key: ${join(pki, `${user}.key`)}`,
    "contexts:",
    `- name: ${cfg.name}`,
    "  context:",
    `    cluster: ${cfg.name}`,
    `    user: ${user}`,
    `current-context: ${cfg.name}`,
    "",
  ].join("\n");
}
