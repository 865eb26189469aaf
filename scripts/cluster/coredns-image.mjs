// The CoreDNS image: the static binary from ensure-coredns.mjs and nothing else, written once
// next to the binary as a docker-archive (scripts/cluster/docker-archive.mjs).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureCoreDNS } from "../ensure-coredns.mjs";
import { writeBinaryImage } from "./docker-archive.mjs";

export async function ensureCoreDNSImage(options = {}) {
  const { version, coredns } = await ensureCoreDNS(options);
  // The binary is a pure function of the pinned version (-trimpath, local toolchain), so the
  // version is a faithful tag.
  const ref = `localhost/meshpilot-coredns:${version}`;
  const tar = join(dirname(coredns), `coredns-image-${version}.tar`);
  if (!existsSync(tar)) {
    writeBinaryImage(tar, { refs: [ref], path: "/coredns", binary: coredns, config: { ExposedPorts: { "53/tcp": {}, "53/udp": {} } } });
  }
  return { name: "coredns", ref, tar };
}
