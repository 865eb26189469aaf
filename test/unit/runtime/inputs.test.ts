// Inputs: the combined diagnostics of all sources, and which ones an update brought.
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../../src/api/diagnostics.js";
import { Inputs } from "../../../src/runtime/inputs.js";
import { Store } from "../../../src/store/store.js";

const finding = (message: string, file = "a.yaml"): Diagnostic => ({ severity: "error", code: "IST0106", message, source: { file } });

describe("Inputs", () => {
  it("reports a finding as added only in the update that brings it", () => {
    const inputs = new Inputs(new Store(), ["files", "kube"]);
    const update = (source: string, diagnostics: Diagnostic[]) => inputs.ingest(source, { source, events: [], diagnostics, initial: false });
    expect(update("files", [finding("one")]).added).toEqual([finding("one")]);
    // The same finding again (the file was saved again, still broken): nothing new.
    const again = update("files", [finding("one"), finding("two")]);
    expect(again.added).toEqual([finding("two")]);
    expect(again.diagnosticsChanged).toBe(true);
    // Another source's findings are its own.
    expect(update("kube", [finding("one")]).added).toEqual([finding("one")]);
    // Fixed, then broken the same way again: said again.
    expect(update("files", []).added).toEqual([]);
    expect(update("files", [finding("one")]).added).toEqual([finding("one")]);
    expect(inputs.diagnostics).toEqual([finding("one"), finding("one")]);
  });
});
