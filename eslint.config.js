// Lint: typescript-eslint plus the architecture's arrows. Each layer may import only the layers
// to its left: api ← store ← model ← translate; sources → api/store; xds is self-contained;
// pipeline composes model, translate, analyze and xds; debug reads the pipeline; runtime
// assembles the process from everything below cli; cli only parses arguments. Pure layers (api, model, translate, analyze, explain) may not touch
// I/O, clocks, randomness, the environment or the logger.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const layers = {
  api: [],
  store: ["api"],
  model: ["api", "store"],
  translate: ["api", "model", "gen"],
  analyze: ["api", "store", "model"],
  sources: ["api", "store"],
  xds: ["gen"],
  inject: ["api", "translate", "gen"],
  pipeline: ["api", "store", "model", "translate", "analyze", "xds", "gen"],
  explain: ["api", "model", "translate", "gen"],
  debug: ["api", "store", "model", "translate", "analyze", "explain", "xds", "pipeline", "gen"],
  runtime: ["api", "store", "model", "translate", "analyze", "sources", "xds", "inject", "debug", "pipeline", "gen"],
};
const all = ["api", "store", "model", "translate", "analyze", "explain", "sources", "xds", "inject", "debug", "pipeline", "runtime", "cli", "gen"];

// Modules of an allowed layer that a layer still may not import. translate/ builds Envoy messages
// from the view model/scope.ts resolves; it reads neither Istio's API types nor the model's
// lookups (rule selection, merging, host matching) and builders.
const resolvedOnly = "translate/ constructs from the resolved view (model/scope.ts, model/routes.ts, model/parsed.ts); resolve in model/";
const forbiddenModules = {
  translate: [
    "api/istio-types",
    "model/policies",
    "model/routing",
    "model/delegation",
    "model/hosts",
    "model/build",
    "model/services",
    "model/endpoints",
    "model/credentials",
    "model/input",
  ].map((m) => [m, resolvedOnly]),
};
const moduleGroup = (m) => ["../", "../../", "../../../"].flatMap((up) => [`${up}${m}`, `${up}${m}.js`]);

const layerRules = Object.entries(layers).map(([layer, allowed]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          ...all
            .filter((l) => l !== layer && !allowed.includes(l))
            .map((l) => ({
              group: [`../${l}/*`, `../../${l}/*`, `../../../${l}/*`, `../${l}`, `../../${l}`],
              message: `${layer}/ may not import ${l}/ (see DESIGN.md: data flows one way)`,
            })),
          ...(forbiddenModules[layer] ?? []).map(([m, why]) => ({ group: moduleGroup(m), message: `${layer}/ may not import ${m}: ${why}` })),
        ],
      },
    ],
  },
}));

const pureRules = {
  files: ["src/api/**/*.ts", "src/model/**/*.ts", "src/translate/**/*.ts", "src/analyze/**/*.ts", "src/explain/**/*.ts", "src/inject/**/*.ts"],
  rules: {
    "no-restricted-globals": [
      "error",
      { name: "process", message: "pure layer: no environment" },
      { name: "Date", message: "pure layer: no clocks" },
      { name: "setTimeout", message: "pure layer: no timers" },
      { name: "fetch", message: "pure layer: no I/O" },
    ],
    "no-restricted-properties": [
      "error",
      { object: "Math", property: "random", message: "pure layer: no randomness" },
      { object: "performance", property: "now", message: "pure layer: no clocks" },
    ],
    "no-restricted-syntax": [
      "error",
      {
        selector: "FunctionDeclaration[async=true], ArrowFunctionExpression[async=true], FunctionExpression[async=true]",
        message: "pure layer: synchronous only",
      },
    ],
  },
};
const pureImports = {
  files: ["src/api/**/*.ts", "src/model/**/*.ts", "src/translate/**/*.ts", "src/analyze/**/*.ts", "src/explain/**/*.ts", "src/inject/**/*.ts"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        paths: ["pino", "node:fs", "node:fs/promises", "node:net", "node:http", "node:child_process", "@grpc/grpc-js", "@kubernetes/client-node"].map(
          (name) => ({ name, message: "pure layer: no I/O or logging" }),
        ),
        patterns: [{ group: ["../log", "../log.js", "../../log.js"], message: "pure layer: no logger" }],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ["dist/**", "src/gen/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly",
        process: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        URL: "readonly",
        performance: "readonly",
        AbortController: "readonly",
        fetch: "readonly",
        setImmediate: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The live view's page script runs in the browser, as a classic script.
    files: ["src/debug/live-view/ui/**/*.js"],
    languageOptions: { sourceType: "script", globals: { document: "readonly", EventSource: "readonly", Node: "readonly" } },
  },
  ...layerRules,
  // Pure layers get both their arrow rule and the I/O ban; merge so one does not override the other.
  ...layerRules
    .filter((r) => ["src/api/**/*.ts", "src/model/**/*.ts", "src/translate/**/*.ts", "src/analyze/**/*.ts"].includes(r.files[0]))
    .map((r) => ({
      files: r.files,
      rules: {
        "no-restricted-imports": [
          "error",
          {
            paths: pureImports.rules["no-restricted-imports"][1].paths,
            patterns: [...r.rules["no-restricted-imports"][1].patterns, ...pureImports.rules["no-restricted-imports"][1].patterns],
          },
        ],
      },
    })),
  pureRules,
);
