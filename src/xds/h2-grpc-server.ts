// A gRPC server on meshpilot's own HTTP/2 (src/h2/server-connection.ts), plaintext or TLS (ALPN
// h2, the TLS options and rotating context of grpc-js ServerCredentials). Calls are routed by
// path: ADS and SDS streams take the H2GrpcCall itself (an AdsCall); unary services written for
// grpc-js (Istio's CA) are served through a call of the shape they read.
import { status as GrpcStatus, type ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import net from "node:net";
import tls, { type SecureContextOptions } from "node:tls";
import { encodeHeaders } from "../h2/hpack.js";
import { ServerConnection, type HeaderFields, type ServerStream } from "../h2/server-connection.js";
import { LISTEN_BACKLOG } from "./accept-gate.js";
import { H2GrpcCall } from "./h2-grpc-call.js";

export type CallHandler = (call: H2GrpcCall) => void;

export interface H2GrpcServerOptions {
  readonly maxReceiveBytes: number;
  readonly maxConcurrentStreams?: number;
  /** TLS (grpc-js server credentials: their constructor options, context and updates); absent: plaintext. */
  readonly credentials?: ServerCredentials;
}

/** The grpc-js ServerCredentials members read here (grpc-js 1.14). */
interface CredentialsInternals {
  _getConstructorOptions?(): tls.TlsOptions | null;
  _getSecureContextOptions?(): SecureContextOptions | null;
  _addWatcher?(watcher: (context: SecureContextOptions | null) => void): void;
}

export class H2GrpcServer {
  /** Emits 'session' with each connection's ServerConnection (accept-gate.ts and keepalive.ts listen). */
  readonly server: net.Server;
  private readonly routes = new Map<string, CallHandler>();
  private readonly connections = new Set<ServerConnection>();

  constructor(private readonly o: H2GrpcServerOptions) {
    const creds = o.credentials as CredentialsInternals | undefined;
    const secure = creds?._getConstructorOptions?.();
    // Credentials whose TLS options cannot be read must not leave the port serving plaintext.
    if (creds && !secure)
      throw new Error("xDS server: the TLS credentials' options cannot be read (not grpc-js 1.14 ServerCredentials with TLS); the secure port is not served");
    const start = (socket: net.Socket): void => this.connected(socket);
    if (secure && creds) {
      const server = tls.createServer({ ...secure, ...creds._getSecureContextOptions?.(), ALPNProtocols: ["h2"] });
      server.on("secureConnection", start);
      server.on("tlsClientError", () => {}); // the handshake failed: the socket is gone, nothing to serve
      creds._addWatcher?.((context) => {
        if (context) server.setSecureContext(context);
      });
      this.server = server;
    } else this.server = net.createServer(start);
    this.server.on("error", () => {});
  }

  /** Serve calls to `path` with `handler`. */
  route(path: string, handler: CallHandler): void {
    this.routes.set(path, handler);
  }

  /** A grpc-js service of unary methods (streaming methods are served by route()). */
  addUnaryService(definition: ServiceDefinition, handlers: UntypedServiceImplementation): void {
    for (const [name, m] of Object.entries(definition)) {
      if (m.requestStream || m.responseStream) throw new Error(`${m.path}: only unary methods are served from a grpc-js service definition`);
      const h = (handlers[name] ?? handlers[m.originalName ?? ""]) as UnaryHandler | undefined;
      if (typeof h !== "function") continue;
      this.route(m.path, (call) => serveUnary(call, m.requestDeserialize as (b: Buffer) => unknown, m.responseSerialize as (v: unknown) => Buffer, h));
    }
  }

  /** Listen on host:port (port 0: a free one); the bound port. */
  listen(address: string): Promise<number> {
    const { host, port } = hostPort(address);
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(err);
      this.server.once("error", failed);
      this.server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        this.server.removeListener("error", failed);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stop listening and send GOAWAY; connections still open after `graceMs` are closed. */
  async close(graceMs: number): Promise<void> {
    if (this.server.listening) this.server.close();
    for (const c of this.connections) c.close();
    if (this.connections.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const c of [...this.connections]) c.destroy("server shut down");
        resolve();
      }, graceMs);
      const check = (): void => {
        if (this.connections.size > 0) return;
        clearTimeout(timer);
        resolve();
      };
      for (const c of this.connections) c.once("close", check);
    });
  }

  /** Close every connection at once. */
  destroy(): void {
    if (this.server.listening) this.server.close();
    for (const c of [...this.connections]) c.destroy("server shut down");
  }

  private connected(socket: net.Socket): void {
    const conn = new ServerConnection(socket, {
      onStream: (stream, headers) => this.onStream(stream, headers),
      ...(this.o.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: this.o.maxConcurrentStreams } : {}),
    });
    this.connections.add(conn);
    conn.once("close", () => this.connections.delete(conn));
    this.server.emit("session", conn);
  }

  private onStream(stream: ServerStream, headers: HeaderFields): void {
    let method = "";
    let contentType = "";
    for (const [n, v] of headers) {
      if (n === ":method") method = v;
      else if (n === "content-type") contentType = v;
    }
    if (method !== "POST") return stream.respondOnly(httpStatus(405));
    if (!contentType.startsWith("application/grpc")) return stream.respondOnly(httpStatus(415));
    const call = new H2GrpcCall(stream, headers, this.o.maxReceiveBytes);
    const handler = this.routes.get(call.path);
    if (!handler) return call.sendStatus(GrpcStatus.UNIMPLEMENTED, `The server does not implement the method ${call.path}`);
    try {
      handler(call);
    } catch (e) {
      call.sendStatus(GrpcStatus.INTERNAL, `internal error: ${(e as Error).message}`);
    }
  }
}

/** `:status` alone (literal, name :status from the static table). */
function httpStatus(code: number): Buffer {
  return encodeHeaders([[":status", String(code)]]);
}

type UnaryCallback = (err: (Error & { code?: number; details?: string }) | null, value?: unknown) => void;
type UnaryHandler = (call: object, callback: UnaryCallback) => void;

/** One request, one response, through a handler written for grpc-js (it reads request, metadata, getPeer, getAuthContext, cancelled). */
function serveUnary(call: H2GrpcCall, deserialize: (b: Buffer) => unknown, serialize: (v: unknown) => Buffer, handler: UnaryHandler): void {
  const messages: Buffer[] = [];
  call.read({
    message: (raw) => void messages.push(Buffer.from(raw)),
    end: () => {
      if (messages.length !== 1) return call.sendStatus(GrpcStatus.UNIMPLEMENTED, `expected one request message, got ${messages.length}`);
      let request: unknown;
      try {
        request = deserialize(messages[0]!);
      } catch (e) {
        return call.sendStatus(GrpcStatus.INTERNAL, `Error deserializing request: ${(e as Error).message}`);
      }
      const unary = {
        request,
        metadata: call.metadata,
        getPeer: () => call.getPeer(),
        getAuthContext: () => call.getAuthContext(),
        getPath: () => call.path,
        get cancelled() {
          return call.cancelled;
        },
      };
      handler(unary, (err, value) => {
        if (err) return call.sendStatus(err.code ?? GrpcStatus.UNKNOWN, err.details ?? err.message);
        let bytes: Buffer;
        try {
          bytes = serialize(value);
        } catch (e) {
          return call.sendStatus(GrpcStatus.INTERNAL, `Error serializing response: ${(e as Error).message}`);
        }
        call.write({ chunks: [bytes], length: bytes.length }, () => {});
        call.sendStatus(GrpcStatus.OK, "");
      });
    },
  });
}

/** host:port, the host in brackets for IPv6; an empty host or 0.0.0.0 listens on every IPv4 address. */
export function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw new Error(`not host:port: ${address}`);
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in ${address}`);
  return { host: host === "" ? "0.0.0.0" : host, port };
}
