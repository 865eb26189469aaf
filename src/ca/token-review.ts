/**
 * ServiceAccount tokens checked by the API server (TokenReview), as istiod does for its CA and its
 * secure xDS port: the review names the audiences the token must carry (Istio's TOKEN_AUDIENCES,
 * default `istio-ca`; a token minted for the API server's own audience is refused, as in Istio),
 * and only ServiceAccount users (`system:serviceaccount:<ns>:<sa>`) are accepted.
 *
 * Results are kept for a short while per token, so a proxy reconnecting or a burst of requests
 * does not cost one review each; a refusal is not kept (the token may become valid, e.g. after its
 * ServiceAccount is created).
 */
import { createHash } from "node:crypto";
import type { KubeClient } from "../sources/kube/client.js";

export const DEFAULT_TOKEN_AUDIENCES: readonly string[] = ["istio-ca"];

export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type TokenAuthenticator = (token: string) => Promise<ServiceAccountIdentity | { error: string }>;

interface ReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; groups?: string[] };
}

/** The identity a TokenReview status proves, or why it proves none. Pure, for tests. */
export function identityFromReview(status: ReviewStatus | undefined, audiences: readonly string[]): ServiceAccountIdentity | { error: string } {
  if (!status) return { error: "the token review returned no status" };
  if (status.error) return { error: `the service account authentication returns an error: ${status.error}` };
  if (!status.authenticated) return { error: "the token is not authenticated" };
  // An audience-aware API server echoes the audiences it matched; one that is not must not pass.
  if (audiences.length > 0 && !(status.audiences ?? []).some((a) => audiences.includes(a))) {
    return { error: `the token is not for audience ${audiences.join(" or ")}` };
  }
  if (!(status.user?.groups ?? []).includes("system:serviceaccounts")) return { error: "the token is not a service account" };
  const parts = (status.user?.username ?? "").split(":");
  if (parts.length !== 4 || parts[0] !== "system" || parts[1] !== "serviceaccount" || !parts[2] || !parts[3]) {
    return { error: "invalid username field in the token review result" };
  }
  return { namespace: parts[2], serviceAccount: parts[3] };
}

export interface TokenReviewOptions {
  readonly audiences?: readonly string[];
  /** How long an accepted token's identity is kept; default 60 s (never past the token's own expiry). */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** Reads `exp` from a JWT without trusting it (only to bound how long a review result is kept). */
function jwtExpiryMs(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function tokenReviewAuthenticator(client: KubeClient, opts: TokenReviewOptions = {}): TokenAuthenticator {
  const audiences = opts.audiences ?? DEFAULT_TOKEN_AUDIENCES;
  const cacheMs = opts.cacheMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { id: ServiceAccountIdentity; until: number }>();
  return async (token) => {
    if (token === "") return { error: "no bearer token" };
    // Keyed by a digest: the cache must not become a store of live credentials.
    const key = createHash("sha256").update(token).digest("base64");
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.id;
    cache.delete(key);
    let res;
    try {
      res = await client.request(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences } },
        { timeoutMs: 10_000 },
      );
    } catch (e) {
      return { error: `token review failed: ${(e as Error).message}` };
    }
    if (res.status !== 201 && res.status !== 200) return { error: `token review failed: HTTP ${res.status} from the API server` };
    const id = identityFromReview((res.body as { status?: ReviewStatus } | null)?.status, audiences);
    if ("error" in id) return id;
    if (cache.size > 10_000) cache.clear(); // bounded; a clear only costs reviews
    cache.set(key, { id, until: Math.min(now() + cacheMs, jwtExpiryMs(token) ?? Infinity) });
    return id;
  };
}

/** The token of an `authorization: Bearer <token>` value, or "" when there is none. */
export function bearerToken(authorization: string | undefined): string {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m ? m[1]! : "";
}
