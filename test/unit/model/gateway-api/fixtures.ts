// Inputs for the Gateway API conversion tests: bookinfo behind a Gateway of meshpilot's class.
import { buildMeshState } from "../../../../src/model/build.js";
import type { MeshModel } from "../../../../src/model/ir.js";
import { meshInputFrom } from "../../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../../support/objects.js";

const svc = (ns: string, name: string, port: number, ip: string, portName = "http") => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { clusterIP: ${ip}, selector: { app: ${name} }, ports: [{ name: ${portName}, port: ${port} }] }
---`;

export const BASE = `
apiVersion: v1
kind: Namespace
metadata: { name: bookinfo, labels: { shared-gateway: "true" } }
---
apiVersion: v1
kind: Namespace
metadata: { name: infra }
---
apiVersion: v1
kind: Namespace
metadata: { name: other }
---
${svc("bookinfo", "productpage", 9080, "10.96.1.1")}
${svc("bookinfo", "reviews", 9080, "10.96.1.2")}
${svc("bookinfo", "reviews-v2", 9080, "10.96.1.3")}
${svc("bookinfo", "ratings", 9080, "10.96.1.4")}
${svc("bookinfo", "grpc-echo", 9000, "10.96.1.5", "grpc")}
${svc("bookinfo", "db", 3306, "10.96.1.6", "tcp")}
${svc("bookinfo", "tls-echo", 8443, "10.96.1.7", "tls")}
${svc("infra", "edge-meshpilot", 80, "10.96.9.9")}
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: meshpilot }
spec: { controllerName: meshpilot.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: someone-else }
spec: { controllerName: example.com/other }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: infra }
spec:
  gatewayClassName: meshpilot
  listeners:
    - name: http
      port: 80
      protocol: HTTP
      allowedRoutes: { namespaces: { from: Selector, selector: { matchLabels: { shared-gateway: "true" } } } }
    - name: grpc
      port: 9000
      protocol: HTTP
      hostname: grpc.example.com
      allowedRoutes: { namespaces: { from: All } }
    - name: db
      port: 3306
      protocol: TCP
      allowedRoutes: { namespaces: { from: All } }
    - name: tls
      port: 443
      protocol: TLS
      tls: { mode: Passthrough }
      allowedRoutes: { namespaces: { from: All } }
---`;

export function meshOf(yaml: string, strict = true): MeshModel {
  return buildMeshState(meshInputFrom(validObjects(yaml, { strict }))).mesh;
}
