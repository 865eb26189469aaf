// Cluster DNS deployed the way kubeadm deploys it: the `coredns` Deployment behind the `kube-dns`
// Service at the cluster's DNS address, a Corefile with the kubernetes plugin for the cluster
// domain. Two departures: no `forward` (nothing beyond the cluster and the external host is
// reachable), and a `hosts` entry naming the external host.

export function corefile(cfg) {
  return `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    hosts {
        ${cfg.externalIP} ${cfg.externalHost}
        fallthrough
    }
    kubernetes ${cfg.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30 {
        disable success ${cfg.clusterDomain}
        disable denial ${cfg.clusterDomain}
    }
    loop
    reload
    loadbalance
}
`;
}

/** The objects, as one multi-document YAML for `kubectl apply -f`. */
export function corednsManifest(cfg, image) {
  const indented = corefile(cfg)
    .split("\n")
    .map((l) => (l ? `    ${l}` : l))
    .join("\n");
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
${indented}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: coredns
      dnsPolicy: Default
      terminationGracePeriodSeconds: 5
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector: {matchLabels: {k8s-app: kube-dns}}
      volumes:
        - name: config-volume
          configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}
      containers:
        - name: coredns
          image: ${image}
          imagePullPolicy: Never
          args: ["-conf", "/etc/coredns/Corefile"]
          resources:
            requests: {cpu: 10m, memory: 32Mi}
            limits: {memory: 170Mi}
          volumeMounts:
            - {name: config-volume, mountPath: /etc/coredns, readOnly: true}
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
            - {name: metrics, containerPort: 9153, protocol: TCP}
          livenessProbe:
            httpGet: {path: /health, port: 8080}
            initialDelaySeconds: 60
            timeoutSeconds: 5
            failureThreshold: 5
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: ${cfg.dnsServiceIP}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
    - {name: metrics, port: 9153, protocol: TCP}
`;
}
