/**
 * A Secret that replicas share and the first one creates: read it; if absent, make its content
 * and create it; if another replica created it meanwhile (409), read theirs. Used for the CA
 * roots, so that every replica signs with one key and proxies trust one root.
 */
import type { KubeClient } from "../sources/kube/client.js";

export type SecretData = Readonly<Record<string, string>>;

/** Decoded `data` of a Secret (base64 → text). */
export function decodeSecretData(body: unknown): Record<string, string> {
  const data = ((body as { data?: Record<string, string> } | null)?.data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/** The Secret's decoded data, or undefined when it does not exist. Throws on other API errors. */
export async function readSecret(client: KubeClient, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const got = await client.request("GET", `/api/v1/namespaces/${namespace}/secrets/${name}`);
  if (got.status === 404) return undefined;
  if (got.status !== 200) throw new Error(`reading Secret ${namespace}/${name}: HTTP ${got.status}`);
  return decodeSecretData(got.body);
}

/**
 * Read `namespace/name`, or create it with `make()`'s data. `use` turns the data into the value
 * (throwing with a reason when the Secret is unusable); it sees the winner's data after a race.
 */
export async function sharedSecret<T>(
  client: KubeClient,
  secret: { namespace: string; name: string; type?: string },
  make: () => Promise<{ data: SecretData; value: T }>,
  use: (data: Record<string, string>) => Promise<T>,
): Promise<{ value: T; created: boolean }> {
  const { namespace, name } = secret;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await readSecret(client, namespace, name);
    if (existing) return { value: await use(existing), created: false };
    const made = await make();
    const created = await client.request("POST", `/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace, labels: { "app.kubernetes.io/part-of": "meshpilot" } },
      type: secret.type ?? "Opaque",
      data: Object.fromEntries(Object.entries(made.data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    });
    if (created.status === 201 || created.status === 200) return { value: made.value, created: true };
    if (created.status !== 409) throw new Error(`creating Secret ${namespace}/${name}: HTTP ${created.status}`);
  }
  throw new Error(`Secret ${namespace}/${name}: created and deleted concurrently; giving up`);
}
