// The sender of the loopback baseline (targets-loopback.ts), in a process of its own: connects to
// the port in argv[2] and writes argv[3] bytes as fast as TCP takes them, then closes.
import { connect } from "node:net";

const port = Number(process.argv[2]);
let left = Number(process.argv[3]);
const chunk = Buffer.alloc(1024 * 1024, 0x5a);
const socket = connect(port, "127.0.0.1", () => {
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once("drain", pump);
    }
    socket.end();
  };
  pump();
});
socket.on("close", () => process.exit(0));
socket.on("error", (e) => {
  process.stderr.write(`loopback sender: ${e.message}\n`);
  process.exit(1);
});
