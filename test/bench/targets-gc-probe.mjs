// Preloaded (`node --expose-gc --import`) into the `meshpilot serve` process the targets bench
// measures: on request over the IPC channel, collect garbage and report what stays, so that the
// heap per connected proxy is measured in the real server process, not in a stand-in.
process.on("message", (m) => {
  if (m?.cmd !== "heap" || typeof globalThis.gc !== "function") return;
  for (let i = 0; i < 3; i++) globalThis.gc();
  const u = process.memoryUsage();
  process.send?.({ event: "heap", heap: u.heapUsed, buffers: u.arrayBuffers });
});
// The IPC channel must not keep a server that was told to stop alive.
process.channel?.unref();
