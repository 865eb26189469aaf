// The CoreDNS image: the static binary from ensure-coredns.mjs and nothing else, written once
// next to the binary as a docker-archive (scripts/cluster/docker-archive.mjs).
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureCoreDNS } from "../ensure-coredns.mjs";
import { writeDockerArchive } from "./docker-archive.mjs";

export async function ensureCoreDNSImage(options = {}) {
  const { version, coredns } = await ensureCoreDNS(options);
  // The binary is a pure function of the pinned version (-trimpath, local toolchain), so the
  // version is a faithful tag.
  const ref = `localhost/meshpilot-coredns:${version}`;
  const tar = join(dirname(coredns), `coredns-image-${version}.tar`);
  if (!existsSync(tar)) {
    writeDockerArchive(tar, {
      refs: [ref],
      config: {
        architecture: "amd64",
        os: "linux",
        created: "1970-01-01T00:00:00Z",
        config: { Entrypoint: ["/coredns"], WorkingDir: "/", ExposedPorts: { "53/tcp": {}, "53/udp": {} } },
      },
      entries: [{ path: "coredns", type: "file", mode: 0o755, source: coredns, size: statSync(coredns).size }],
    });
  }
  return { name: "coredns", ref, tar };
}
