#!/usr/bin/env node
// The local cluster for users: a single-node Kubernetes without Docker, kind or a registry,
// with meshpilot and the reviews canary in it.
//
//   npm run cluster          # node scripts/cluster/main.mjs up   (after npm run build)
//   npm run cluster:down     # node scripts/cluster/main.mjs down
//
// Options: --name NAME (default meshpilot; two names are two clusters), --no-demo.
// Needs root (namespaces, cgroups, mounts). Nothing it does is visible in the host's network
// namespace: the apiserver is reached through a relay on 127.0.0.1 (the kubeconfig it prints).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clusterConfig } from "./config.mjs";
import { deployDemo } from "./demo.mjs";
import { down } from "./down.mjs";
import { deployMeshpilot } from "./meshpilot.mjs";
import { prepareCluster } from "./prepare.mjs";
import { up } from "./up.mjs";

function parse(argv) {
  const opts = { cmd: argv[0], name: "meshpilot", demo: true };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === "--name" && argv[i + 1]) opts.name = argv[++i];
    else if (argv[i] === "--no-demo") opts.demo = false;
    else throw new Error(`unknown argument ${argv[i]} (usage: main.mjs up|down [--name NAME] [--no-demo])`);
  }
  if (opts.cmd !== "up" && opts.cmd !== "down") throw new Error("usage: main.mjs up|down [--name NAME] [--no-demo]");
  return opts;
}

const log = (m) => process.stderr.write(`cluster: ${m}\n`);

async function main(argv) {
  const opts = parse(argv);
  if (process.getuid?.() !== 0) throw new Error("the local cluster needs root (network and mount namespaces, cgroups)");
  const cfg = clusterConfig(opts.name);
  if (opts.cmd === "down") {
    await down(cfg, { log });
    return;
  }
  const t0 = Date.now();
  const { bins, images } = await prepareCluster({ log });
  const tPrepared = Date.now();
  const started = await up(cfg, { bins, images, ownerPid: null, log });
  await deployMeshpilot(cfg, bins, images.byName.meshpilot, log);
  if (opts.demo) await deployDemo(cfg, bins, images.byName, log);
  const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;
  const q = (s) => (/^[\w./:=@-]+$/.test(s) ? s : `'${s}'`);
  process.stdout.write(
    [
      "",
      `Cluster "${cfg.name}" is up: binaries and images ready in ${seconds(tPrepared - t0)}, cluster started in ${seconds(Date.now() - tPrepared)}.`,
      "",
      "Use it from the host (the apiserver is relayed to 127.0.0.1):",
      `  export KUBECONFIG=${started.kubeconfig}`,
      `  alias kubectl=${q(bins.kubectl)}`,
      "  kubectl get pods -A",
      ...(opts.demo
        ? [
            "  kubectl -n demo exec deploy/productpage-v1 -c client -- testapp client -n 100 -H 'Host: reviews' http://127.0.0.1:9080/",
            "  kubectl -n demo get virtualservice reviews -o yaml",
          ]
        : []),
      "",
      "Or inside the node's network namespace:",
      `  nsenter --net=/run/netns/${cfg.netnsNode} ${q(bins.kubectl)} --kubeconfig ${cfg.path("admin-node.kubeconfig")} get nodes`,
      "",
      `Logs: ${cfg.path("logs")}.  Stop it: npm run cluster:down${cfg.name === "meshpilot" ? "" : ` -- --name ${cfg.name}`}`,
      "",
    ].join("\n"),
  );
}

const isMain = process.argv[1] !== undefined && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`cluster: ${err.message}\n`);
    process.exit(1);
  });
}
