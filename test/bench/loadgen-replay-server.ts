// The server side of loadgen-replay.ts's transport round: answers a gRPC stream with the recorded
// responses (the file in argv[2]: gRPC-framed, back to back) at once, whatever it is asked, at
// most argv[3] streams at a time (as a server caps what it has sent and not had answered); a
// stream is answered when it has sent a request for every response. Prints its port, then serves
// until killed.
import { readFileSync } from "node:fs";
import http2, { type ServerHttp2Stream } from "node:http2";
import { Deframer } from "../../src/xds/grpc-deframer.js";

const framed = readFileSync(process.argv[2]!);
const maxStreams = Number(process.argv[3] ?? 8);
let responses = 0;
for (let at = 0; at < framed.length; at += 5 + framed.readUInt32BE(at + 1)) responses++;

const waiting: ServerHttp2Stream[] = [];
let serving = 0;
function next(): void {
  while (serving < maxStreams && waiting.length > 0) {
    const stream = waiting.shift()!;
    if (stream.destroyed) continue;
    serving++;
    let requests = 0;
    let counted = false;
    const done = (): void => {
      if (counted) return;
      counted = true;
      serving--;
      next();
    };
    const d = new Deframer(() => {
      // The first request, then one ACK per response.
      if (++requests > responses) done();
    });
    stream.on("data", (b: Buffer) => void d.push(b));
    stream.on("close", done);
    stream.write(framed);
  }
}

const server = http2.createServer({ settings: { initialWindowSize: 256 * 1024 * 1024 } });
server.on("stream", (stream) => {
  stream.respond({ ":status": 200, "content-type": "application/grpc" });
  stream.on("error", () => {});
  waiting.push(stream);
  next();
});
server.on("session", (s) => s.on("error", () => {}));
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.stdout.write(`${typeof a === "object" && a ? a.port : 0}\n`);
});
