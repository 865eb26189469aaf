// Command lines of the cluster's processes, and where each runs: the control plane in the node's
// network namespace only; containerd, the kubelet and kube-proxy also in the private mount
// namespace (their mounts and hard-coded paths stay there).

/** @param {Record<string, string>} bins ensureKubeCluster's result */
export function components(cfg, bins) {
  const p = cfg.path;
  const pki = (f) => p("pki", f);
  const kc = (u) => p(`${u}.kubeconfig`);
  return {
    etcd: {
      where: { net: "node" },
      cmd: bins.etcd,
      args: [
        "--name", cfg.name,
        "--data-dir", p("etcd"),
        "--listen-client-urls", "http://127.0.0.1:2379",
        "--advertise-client-urls", "http://127.0.0.1:2379",
        "--listen-peer-urls", "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
        "--initial-cluster", `${cfg.name}=http://127.0.0.1:2380`,
        "--listen-metrics-urls", "http://127.0.0.1:2381",
        // a throwaway cluster: losing etcd's last writes on a power cut costs nothing
        "--unsafe-no-fsync",
      ],
    },
    containerd: {
      where: { net: "node", mount: true },
      cmd: "containerd",
      args: ["--config", p("containerd", "config.toml")],
    },
    "kube-apiserver": {
      where: { net: "node" },
      cmd: bins.apiserver,
      args: [
        "--etcd-servers", "http://127.0.0.1:2379",
        "--bind-address", "0.0.0.0",
        "--advertise-address", cfg.nodeIP,
        "--secure-port", String(cfg.apiserverPort),
        "--service-cluster-ip-range", cfg.serviceCIDR,
        "--client-ca-file", pki("ca.crt"),
        "--tls-cert-file", pki("apiserver.crt"),
        "--tls-private-key-file", pki("apiserver.key"),
        "--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"),
        "--kubelet-client-key", pki("apiserver-kubelet-client.key"),
        // by name it would ask the host's resolver for the node's name
        "--kubelet-preferred-address-types", "InternalIP",
        "--service-account-key-file", pki("sa.pub"),
        "--service-account-signing-key-file", pki("sa.key"),
        "--service-account-issuer", `https://kubernetes.default.svc.${cfg.clusterDomain}`,
        "--authorization-mode", "Node,RBAC",
        "--enable-admission-plugins", "NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
      ],
    },
    "kube-controller-manager": {
      where: { net: "node" },
      cmd: bins["kube-controller-manager"],
      args: [
        "--kubeconfig", kc("kube-controller-manager"),
        "--authentication-kubeconfig", kc("kube-controller-manager"),
        "--authorization-kubeconfig", kc("kube-controller-manager"),
        "--bind-address", "127.0.0.1",
        "--leader-elect=false",
        "--use-service-account-credentials",
        "--service-account-private-key-file", pki("sa.key"),
        "--root-ca-file", pki("ca.crt"),
        "--cluster-signing-cert-file", pki("ca.crt"),
        "--cluster-signing-key-file", pki("ca.key"),
        "--cluster-cidr", cfg.clusterCIDR,
        "--service-cluster-ip-range", cfg.serviceCIDR,
      ],
    },
    "kube-scheduler": {
      where: { net: "node" },
      cmd: bins["kube-scheduler"],
      args: [
        "--kubeconfig", kc("kube-scheduler"),
        "--authentication-kubeconfig", kc("kube-scheduler"),
        "--authorization-kubeconfig", kc("kube-scheduler"),
        "--bind-address", "127.0.0.1",
        "--leader-elect=false",
      ],
    },
    kubelet: {
      where: { net: "node", mount: true },
      cmd: bins.kubelet,
      args: [
        "--config", p("kubelet-config.yaml"),
        "--kubeconfig", kc("kubelet"),
        "--hostname-override", cfg.nodeName,
        "--node-ip", cfg.nodeIP,
        "--root-dir", p("kubelet"),
        "--cert-dir", p("kubelet", "pki"),
      ],
    },
    "kube-proxy": {
      where: { net: "node", mount: true },
      cmd: bins["kube-proxy"],
      args: ["--config", p("kube-proxy-config.yaml")],
    },
  };
}
