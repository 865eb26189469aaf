// Full garbage collections inside a test, for counts of what stays reachable (never times).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
/** A full collection (V8's gc(), exposed after start-up through a fresh context). */
export const gc = runInNewContext("gc") as () => void;

/** ArrayBuffer bytes still reachable after full collections. */
export function arrayBuffersAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

/** After a turn of the event loop: weak references made or read in this one hold until it ends. */
export async function nextTurn(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}
