// The files the load generator writes for `serve --config-dir` read as manifests do.
import { describe, expect, it } from "vitest";
import { parseAllDocuments, visit } from "yaml";
import { toYaml } from "../../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../../src/loadgen/mesh.js";

describe("toYaml", () => {
  it("writes each service's objects without anchors or aliases, and they read back equal", () => {
    const mesh = new LoadMesh({ services: 4, variant: "full", injected: true });
    for (let i = 0; i < 4; i++) {
      const objects = mesh.serviceObjects(i);
      const docs = parseAllDocuments(toYaml(objects));
      let aliases = 0;
      for (const d of docs) {
        expect(d.errors).toEqual([]);
        // An anchor is only written for an alias, so counting aliases counts both.
        visit(d, { Alias: () => void aliases++ });
      }
      expect(aliases).toBe(0);
      expect(docs.map((d) => d.toJS())).toEqual(JSON.parse(JSON.stringify(objects)));
    }
  });
});
