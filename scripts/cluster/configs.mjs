// The configuration files of containerd, the CNI bridge, the kubelet and kube-proxy, and the
// kubeconfigs, written into the scratch dir. Each setting that departs from a default says why:
// most are facts of machines without systemd, cgroup v2 or CAP_SYS_RESOURCE, or keep the
// cluster's writes inside its own directory and namespaces.
import { mkdirSync, writeFileSync } from "node:fs";
import { kubeconfig } from "./pki.mjs";

export function containerdConfig(cfg, pauseImage) {
  const c = cfg.path("containerd");
  return `version = 2
root = "${c}/root"
state = "${c}/state"
[grpc]
  address = "${c}/containerd.sock"
[ttrpc]
  address = "${c}/containerd.sock.ttrpc"
[debug]
  address = "${c}/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # pod network namespaces under our state dir, not /run/netns
  netns_mounts_under_state_dir = true
  # without CAP_SYS_RESOURCE runc cannot lower oom_score_adj to the -998 asked for the sandbox
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cfg.path("cni")}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${c}/opt"
`;
}

export function cniConfig(cfg) {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: `meshpilot-${cfg.name}`,
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: cfg.podCIDR, gateway: cfg.podGateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: cfg.path("cni-ipam"),
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(cfg) {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# no systemd as PID 1 and cgroup v1 only
cgroupDriver: cgroupfs
failCgroupV1: false
# pods live under a cgroup of this cluster's own, so that two clusters never share one
cgroupRoot: /${cfg.cgroupRoot}
failSwapOn: false
containerRuntimeEndpoint: unix://${cfg.path("containerd", "containerd.sock")}
imageServiceEndpoint: unix://${cfg.path("containerd", "containerd.sock")}
staticPodPath: ${cfg.path("static-pods")}
podLogsDir: ${cfg.path("pod-logs")}
podCIDR: ${cfg.podCIDR}
address: ${cfg.nodeIP}
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${cfg.path("pki", "ca.crt")}}
authorization: {mode: Webhook}
clusterDNS: [${cfg.dnsServiceIP}]
clusterDomain: ${cfg.clusterDomain}
# for dnsPolicy Default pods (CoreDNS): never the host's resolver
resolvConf: ${cfg.path("resolv.conf")}
serializeImagePulls: false
# images come from tarballs, never from a registry: nothing may garbage-collect them
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
`;
}

export function kubeProxyConfig(cfg) {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: ${cfg.path("kube-proxy.kubeconfig")}}
hostnameOverride: ${cfg.nodeName}
bindAddress: ${cfg.nodeIP}
clusterCIDR: ${cfg.clusterCIDR}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# nf_conntrack_max is read-only outside the initial network namespace: leave conntrack alone
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {syncPeriod: 10s, minSyncPeriod: 1s}
`;
}

/** Writes every config file; `pauseImage` is the sandbox image's reference. */
export function writeConfigs(cfg, pauseImage) {
  for (const d of ["containerd", "cni", "static-pods", "pod-logs", "kubelet", "etcd", "logs", "fakesys", "manifests"])
    mkdirSync(cfg.path(d), { recursive: true });
  writeFileSync(cfg.path("containerd", "config.toml"), containerdConfig(cfg, pauseImage));
  writeFileSync(cfg.path("cni", "10-meshpilot.conflist"), cniConfig(cfg));
  writeFileSync(cfg.path("kubelet-config.yaml"), kubeletConfig(cfg));
  writeFileSync(cfg.path("kube-proxy-config.yaml"), kubeProxyConfig(cfg));
  writeFileSync(cfg.path("resolv.conf"), `nameserver ${cfg.dnsServiceIP}\n`);
  const inside = `https://${cfg.nodeIP}:${cfg.apiserverPort}`;
  for (const user of ["kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler"]) {
    writeFileSync(cfg.path(`${user}.kubeconfig`), kubeconfig(cfg, user, inside));
  }
  // For kubectl run inside the node's network namespace (`nsenter --net`).
  writeFileSync(cfg.path("admin-node.kubeconfig"), kubeconfig(cfg, "admin", `https://127.0.0.1:${cfg.apiserverPort}`));
}

/** The user's kubeconfig: the apiserver through the bridge on the host's loopback. */
export function writeUserKubeconfig(cfg, hostPort) {
  writeFileSync(cfg.path("kubeconfig"), kubeconfig(cfg, "admin", `https://127.0.0.1:${hostPort}`), { mode: 0o600 });
  return cfg.path("kubeconfig");
}
