import type { InputObject, StoredObject } from "../api/objects.js";
import type { DestinationRule, VirtualService } from "../api/istio-types.js";
import type { EndpointSlice, Namespace, Node, Pod, Secret, Service } from "../api/kube-types.js";
import type { MeshInput } from "../model/input.js";

/** Group validated objects by kind for the model builder. */
export function meshInputFrom(objects: Iterable<StoredObject<InputObject>>): MeshInput {
  const services: StoredObject<Service>[] = [];
  const endpointSlices: StoredObject<EndpointSlice>[] = [];
  const pods: StoredObject<Pod>[] = [];
  const namespaces: StoredObject<Namespace>[] = [];
  const nodes: StoredObject<Node>[] = [];
  const secrets: StoredObject<Secret>[] = [];
  const virtualServices: StoredObject<VirtualService>[] = [];
  const destinationRules: StoredObject<DestinationRule>[] = [];
  for (const so of objects) {
    const o = so.object;
    switch (o.kind) {
      case "Service":
        services.push({ ...so, object: o });
        break;
      case "EndpointSlice":
        endpointSlices.push({ ...so, object: o });
        break;
      case "Pod":
        pods.push({ ...so, object: o });
        break;
      case "Namespace":
        namespaces.push({ ...so, object: o });
        break;
      case "Node":
        nodes.push({ ...so, object: o });
        break;
      case "Secret":
        secrets.push({ ...so, object: o });
        break;
      case "VirtualService":
        virtualServices.push({ ...so, object: o });
        break;
      case "DestinationRule":
        destinationRules.push({ ...so, object: o });
        break;
    }
  }
  return { services, endpointSlices, pods, namespaces, nodes, secrets, virtualServices, destinationRules };
}
