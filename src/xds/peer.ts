// Who is at the other end of a stream, as the secure port established it (ServiceAccount token
// reviewed by the API server, or a client certificate issued by the mesh CA).
import type { ResourceMap } from "./snapshot.js";

export interface PeerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** How the peer proved it: "token" (TokenReview) or "certificate" (mesh CA client certificate). */
  readonly via: "token" | "certificate";
}

/** The Secrets that belong to a peer's own identity (workload certificate and root), kept current. */
export interface PeerSecretSource {
  /**
   * Follow `peer`'s Secrets: `listener` receives the encoded Secret resources (by name) once they
   * exist and again on every rotation. Returns the function that stops following.
   */
  watch(peer: PeerIdentity, listener: (secrets: ResourceMap) => void): () => void;
}

/** What a caller is judged by on the secure port, on either gRPC transport (grpc-js calls have this shape). */
export interface AuthSubject {
  getPeer(): string;
  getAuthContext(): { readonly sslPeerCertificate?: { readonly raw?: Buffer } | undefined };
  readonly metadata: { get(key: string): (string | Buffer)[] };
}
