/**
 * Who a call on the secure port comes from, as istiod decides it: a client certificate issued by
 * the mesh CA (the TLS handshake asks for one and accepts calls without), else a ServiceAccount
 * token in the `authorization: Bearer …` metadata, reviewed by the API server.
 */
import type { AuthSubject, PeerIdentity } from "../xds/peer.js";
import type { MeshCa } from "./mesh-ca.js";
import { bearerToken, type TokenAuthenticator } from "./token-review.js";

export type CallAuthenticator = (call: AuthSubject) => Promise<PeerIdentity | { error: string }>;

export function callAuthenticator(ca: MeshCa, tokens: TokenAuthenticator | undefined): CallAuthenticator {
  return async (call) => {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (raw && raw.length > 0) {
      const id = await ca.verifyClientCert(raw);
      if (id) return { ...id, via: "certificate" };
      // A certificate from elsewhere proves nothing here; a token may still.
    }
    const auth = call.metadata.get("authorization")[0];
    const token = bearerToken(typeof auth === "string" ? auth : auth?.toString("utf8"));
    if (token === "") {
      return {
        error:
          raw && raw.length > 0
            ? "the client certificate is not one of this mesh CA's, and no bearer token was sent"
            : "no client certificate and no bearer token (authorization metadata)",
      };
    }
    if (!tokens) return { error: "bearer tokens cannot be checked: meshpilot has no Kubernetes API to review them" };
    const id = await tokens(token);
    return "error" in id ? id : { ...id, via: "token" };
  };
}
