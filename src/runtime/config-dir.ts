import type { Diagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import { FileSource } from "../sources/file/file-source.js";
import { Store } from "../store/store.js";

/** Load a config directory once, with the same rules as `serve` (duplicates, invalid objects). */
export async function loadConfigDir(dir: string): Promise<{ objects: StoredObject[]; diagnostics: readonly Diagnostic[] }> {
  const store = new Store();
  let diagnostics: readonly Diagnostic[] = [];
  const source = new FileSource({
    dir,
    watch: false,
    onUpdate: (u) => {
      store.apply(u.source, u.events);
      diagnostics = u.diagnostics;
    },
  });
  await source.start();
  await source.stop();
  return { objects: [...store.snapshot().objects()], diagnostics };
}
