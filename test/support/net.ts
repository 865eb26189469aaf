/** Loopback port helpers shared by the e2e, kube and bench fixtures. */
import net from "node:net";

export const randomInt = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

/** Whether host:port can be bound exclusively right now (a fixed port picked at random may be taken). */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port the kernel considers free on 127.0.0.1 at this moment. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen({ host: "127.0.0.1", port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Listens at host:port; or, given `listening` (a server that already listens, e.g. one made inside
 * a network namespace by NetNs.listen), serves its connections instead and closes it along with
 * `server`. Resolves with the address connections arrive at.
 */
export function listenOrAdopt(server: net.Server, host: string, port: number, listening?: net.Server): Promise<net.AddressInfo> {
  if (listening) {
    listening.on("connection", (socket) => server.emit("connection", socket));
    server.once("close", () => listening.close());
    // An http(s) server sets up its connection tracking (closeAllConnections) on "listening".
    server.emit("listening");
    return Promise.resolve(listening.address() as net.AddressInfo);
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as net.AddressInfo);
    });
  });
}
