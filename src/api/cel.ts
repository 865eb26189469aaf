/**
 * CEL as Envoy reads it in access-log filters (`envoy.access_loggers.extension_filters.cel`):
 * the expression must parse; Envoy builds it with comprehensions turned off, so the macros that
 * iterate (`all`, `exists`, `exists_one`, `map`, `filter`) are refused when it loads the
 * listener; and every function must be one Envoy's CEL knows (most of CEL's standard ones), or the
 * build fails with "No overload found". Attributes (`request.*`, `response.*`, …) are resolved when
 * Envoy evaluates, so unknown names are not an error here.
 */
import type * as Cel from "@marcbachmann/cel-js";
import { lazyModule } from "../lazy-module.js";

const cel = lazyModule<typeof Cel>("@marcbachmann/cel-js");

const COMPREHENSIONS: ReadonlySet<string> = new Set(["all", "exists", "exists_one", "map", "filter"]);
/** What Envoy 1.40 resolves: CEL's standard functions (less the `string` conversion) and the `has` macro. */
const FUNCTIONS: ReadonlySet<string> = new Set([
  "has",
  "size",
  "matches",
  "startsWith",
  "endsWith",
  "contains",
  "int",
  "uint",
  "double",
  "bytes",
  "bool",
  "dyn",
  "type",
  "timestamp",
  "duration",
  "getFullYear",
  "getMonth",
  "getDayOfYear",
  "getDayOfMonth",
  "getDate",
  "getDayOfWeek",
  "getHours",
  "getMinutes",
  "getSeconds",
  "getMilliseconds",
]);

/** Why Envoy would refuse `expression`, if it would. */
export function envoyCelProblem(expression: string): string | undefined {
  let ast: unknown;
  try {
    ast = cel().parse(expression).ast;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
  const call = firstCall(ast, (name) => COMPREHENSIONS.has(name) || !FUNCTIONS.has(name));
  if (call === undefined) return undefined;
  return COMPREHENSIONS.has(call)
    ? `${call}() iterates, and Envoy's CEL has comprehensions turned off`
    : `${call}() is not a function Envoy's CEL knows (it knows ${[...FUNCTIONS].join(", ")})`;
}

/**
 * The name of the first call in a parsed expression that `wanted` picks. Nodes are `{op, args}`;
 * a call's args are [name, arguments], a receiver call's [name, receiver, arguments].
 */
function firstCall(node: unknown, wanted: (name: string) => boolean): string | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const found = firstCall(n, wanted);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!node || typeof node !== "object") return undefined;
  const { op, args } = node as { op?: unknown; args?: unknown };
  if ((op === "call" || op === "rcall") && Array.isArray(args) && typeof args[0] === "string" && wanted(args[0])) return args[0];
  return firstCall(args, wanted);
}
