/**
 * A TCP relay on loopback between a proxy and its control plane that a test can hold: while held
 * it reads nothing from either side, so what the control plane writes stays in the kernel's
 * buffers and the proxy keeps its older config, like a proxy behind a slow or broken network.
 */
import net from "node:net";

export interface Relay {
  readonly port: number;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startRelay(target: { host: string; port: number }): Promise<Relay> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let held = false;
  const connect = ([down, up]: [net.Socket, net.Socket]): void => {
    down.pipe(up);
    up.pipe(down);
  };
  // Unpiped as well as paused: a pipe resumes its source on the next 'drain'.
  const pause = ([down, up]: [net.Socket, net.Socket]): void => {
    down.unpipe(up);
    up.unpipe(down);
    down.pause();
    up.pause();
  };
  const server = net.createServer((down) => {
    const up = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [down, up];
    pairs.add(pair);
    if (held) pause(pair);
    else connect(pair);
    const end = (): void => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    hold() {
      held = true;
      for (const p of pairs) pause(p);
    },
    release() {
      held = false;
      for (const p of pairs) connect(p);
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
