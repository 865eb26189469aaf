/**
 * Reading a directory of multi-document Kubernetes YAML. `parseYamlFile` is pure (text in, parse
 * results and diagnostics out, with line numbers); `listYamlFiles` and `loadDirectory` do the I/O.
 */
import { readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type * as Yaml from "yaml";
import type { Document, Node } from "yaml";
import { Codes } from "../../api/codes.js";
import { DeferredFieldLines, type Diagnostic, type FieldLineTable } from "../../api/diagnostics.js";
import { parseDocument, specLines, type LineLookup, type ParseResult } from "../../api/parse.js";
import { lazyModule } from "../../lazy-module.js";
import { quickDocuments } from "./fast-yaml.js";
import { ownStrings } from "./own-strings.js";

/** The exact reader, loaded only for a file the quick reading declines or that has a diagnostic. */
const yaml = lazyModule<typeof Yaml>("yaml");
import type { FieldPath } from "../../api/path.js";

/** One parse result and the 1-based index of the document it came from. */
export type DocumentResult = ParseResult & { readonly document: number };

export interface FileLoad {
  readonly file: string;
  /**
   * False when the file could not be read or is not valid YAML: then `results` is empty and the
   * reason is in `diagnostics` (callers keep what they had from this file).
   */
  readonly ok: boolean;
  readonly results: readonly DocumentResult[];
  /** Every diagnostic for this file: YAML errors and the diagnostics of all results. */
  readonly diagnostics: readonly Diagnostic[];
}

export function isYamlFileName(name: string): boolean {
  return (name.endsWith(".yaml") || name.endsWith(".yml")) && !name.startsWith(".");
}

/**
 * Parse the text of one file (any number of `---`-separated documents). Read quickly, without
 * positions, when that gives the same values and no diagnostic; otherwise (or when a document
 * has a diagnostic, which names its line) read with every node's position.
 */
export function parseYamlFile(file: string, text: string): FileLoad {
  return quickLoad(file, text) ?? parseYamlFileWithPositions(file, text);
}

function quickLoad(file: string, text: string): FileLoad | undefined {
  const docs = quickDocuments(text);
  if (!docs) return undefined;
  const results: DocumentResult[] = [];
  for (const [i, { value, line, key, depth, text: own, offset }] of docs.entries()) {
    const document = i + 1;
    const v = value as Record<string, unknown> | null;
    if (v?.["kind"] === "List" && v["apiVersion"] === "v1") return undefined; // items get lines of their own
    const fieldLines = new DeferredFieldLines(key, () => documentFieldLines(own, offset));
    for (const r of parseDocument({ value, source: { file, document, ...(line !== undefined ? { line } : {}) }, fieldLines, depth })) {
      if (r.diagnostics.length > 0) return undefined;
      results.push({ ...r, document });
    }
  }
  return { file, ok: true, results, diagnostics: [] };
}

/**
 * The field lines of one document's `spec`, from an exact reading of that document's text alone
 * (`offset`: the file's lines before it). An object outlives its file's later versions when a
 * rewrite leaves it equal (the store and the file state keep the first reading), so it holds only
 * its own document's text: holding the file's would keep a copy of the whole file per rewrite.
 */
function documentFieldLines(text: string, offset: number): FieldLineTable {
  const lineCounter = new (yaml().LineCounter)();
  const [doc] = yaml().parseAllDocuments(text, { lineCounter, merge: true, uniqueKeys: true });
  const spec = (doc?.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null | undefined)?.["spec"];
  if (!doc || spec === undefined) return {};
  const lineOf = lineLookup(doc, lineCounter);
  return specLines(
    spec,
    (path) => {
      const line = lineOf(path);
      return line === undefined ? undefined : line + offset;
    },
    [],
  );
}

/** parseYamlFile reading every node's position (what it does when the quick reading does not apply). */
export function parseYamlFileWithPositions(file: string, text: string): FileLoad {
  const lineCounter = new (yaml().LineCounter)();
  const docs = yaml().parseAllDocuments(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: true });
  const syntax: Diagnostic[] = [];
  const decoded: { value: unknown; doc: Document.Parsed; index: number }[] = [];
  let index = 0;
  for (const doc of docs) {
    index++;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const line = err.linePos?.[0]?.line;
        const col = err.linePos?.[0]?.col;
        const reason = (err.message.split("\n")[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, "");
        syntax.push({
          severity: "error",
          code: Codes.YamlSyntax,
          message: `YAML syntax error${col !== undefined ? ` (column ${col})` : ""}: ${reason}; the file's previous objects stay in use`,
          source: { file, document: index, ...(line !== undefined ? { line } : {}) },
        });
      }
      continue;
    }
    try {
      // Its strings would otherwise be views of the whole file's text (own-strings.ts).
      decoded.push({ value: ownStrings(doc.toJS({ maxAliasCount: 100 })), doc, index });
    } catch (e) {
      const line = doc.contents?.range ? lineCounter.linePos(doc.contents.range[0]).line : undefined;
      syntax.push({
        severity: "error",
        code: Codes.YamlSyntax,
        message: `YAML error: ${e instanceof Error ? e.message : String(e)}; the file's previous objects stay in use`,
        source: { file, document: index, ...(line !== undefined ? { line } : {}) },
      });
    }
  }
  if (syntax.length > 0) return { file, ok: false, results: [], diagnostics: syntax };

  const results: DocumentResult[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { value, doc, index: document } of decoded) {
    const lineOf = lineLookup(doc, lineCounter);
    const docLine = lineOf([]);
    for (const r of parseDocument({ value, source: { file, document, ...(docLine !== undefined ? { line: docLine } : {}) }, lineOf })) {
      results.push({ ...r, document });
      diagnostics.push(...r.diagnostics);
    }
  }
  return { file, ok: true, results, diagnostics };
}

/** Line of a field path in a parsed document: the key's line for map entries, the item's for list entries. */
export function lineLookup(doc: Document.Parsed, lc: Yaml.LineCounter): LineLookup {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  const lineOfNode = (n: unknown): number | undefined => {
    const range = (n as Node | null | undefined)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  return (fieldPath: FieldPath) => {
    let node: unknown = doc.contents;
    let line = lineOfNode(node);
    for (const seg of fieldPath) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => {
          const k = isScalar(p.key) ? p.key.value : p.key;
          return k !== null && k !== undefined && String(k) === String(seg);
        });
        if (!pair) break;
        line = lineOfNode(pair.key) ?? lineOfNode(pair.value) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) break;
        line = lineOfNode(item) ?? line;
        node = item;
      } else break;
    }
    return line;
  };
}

/** `*.yaml` / `*.yml` files under `dir`, recursively, sorted; hidden entries (`.git`, `..data`) skipped; symlinks followed. */
export async function listYamlFiles(dir: string): Promise<string[]> {
  return (await listYamlTree(dir)).files;
}

/** listYamlFiles, plus every directory walked (`dir` first), e.g. to watch them, and whether a symlink was followed. */
export async function listYamlTree(dir: string): Promise<{ files: string[]; dirs: string[]; links: boolean }> {
  const out: string[] = [];
  const dirs: string[] = [];
  let links = false;
  const seenDirs = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    const st = await stat(d);
    const id = `${st.dev}:${st.ino}`;
    if (seenDirs.has(id)) return; // symlink loop
    seenDirs.add(id);
    dirs.push(d);
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = path.join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        links = true;
        try {
          const t = await stat(p);
          isDir = t.isDirectory();
          isFile = t.isFile();
        } catch {
          continue; // dangling link
        }
      }
      if (isDir) await walk(p);
      else if (isFile && isYamlFileName(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return { files: out, dirs, links };
}

/** Read and parse one file; a read failure becomes a not-ok load with a diagnostic. */
export async function loadFile(file: string): Promise<FileLoad> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    return unreadable(file, e);
  }
  return parseYamlFile(file, text);
}

/**
 * loadFile in this turn: for a few files named by watch events, where each await of the thread
 * pool cost milliseconds on a busy machine.
 */
export function loadFileSync(file: string): FileLoad {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return unreadable(file, e);
  }
  return parseYamlFile(file, text);
}

function unreadable(file: string, e: unknown): FileLoad {
  return {
    file,
    ok: false,
    results: [],
    diagnostics: [{ severity: "error", code: Codes.ReadError, message: `cannot read file: ${errorText(e)}`, source: { file } }],
  };
}

/** One-shot load of a whole directory (for `meshpilot translate` and tests). */
export async function loadDirectory(dir: string): Promise<FileLoad[]> {
  const files = await listYamlFiles(dir);
  return Promise.all(files.map(loadFile));
}

export function errorText(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && "message" in e) return String((e as { message: unknown }).message);
  return e instanceof Error ? e.message : String(e);
}
