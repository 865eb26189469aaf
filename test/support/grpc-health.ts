/**
 * A gRPC server that implements only grpc.health.v1.Health/Check, on loopback, with statuses
 * the test sets per service name ("" is the server as a whole). The two tiny messages are
 * encoded by hand (field 1 of each), so no .proto is loaded.
 */
import * as grpc from "@grpc/grpc-js";

export const SERVING = 1;
export const NOT_SERVING = 2;

export interface GrpcHealthServer {
  readonly port: number;
  setStatus(service: string, status: number): void;
  close(): Promise<void>;
}

/** HealthCheckRequest { string service = 1; } */
function serviceOf(request: Buffer): string {
  if (request.length < 2 || request[0] !== 0x0a) return "";
  return request.subarray(2, 2 + request[1]!).toString("utf8");
}

const raw = (b: Buffer): Buffer => b;

export async function startGrpcHealth(): Promise<GrpcHealthServer> {
  const statuses = new Map<string, number>([["", SERVING]]);
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    Check: {
      path: "/grpc.health.v1.Health/Check",
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  };
  server.addService(definition, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      const status = statuses.get(serviceOf(call.request));
      if (status === undefined) done({ code: grpc.status.NOT_FOUND, details: "unknown service" });
      // HealthCheckResponse { ServingStatus status = 1; }
      else done(null, Buffer.from([0x08, status]));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    setStatus: (service, status) => statuses.set(service, status),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
