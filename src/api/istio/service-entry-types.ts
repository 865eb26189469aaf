/**
 * ServiceEntry and WorkloadEntry specs (networking.istio.io v1) as validation leaves them: the
 * objects keep the user's map as `spec`; the model reads it through these types once
 * `validateServiceEntrySpec` / `validateWorkloadEntrySpec` have accepted it.
 */
import type { ObjectMeta } from "../kube-types.js";

export const SE_LOCATIONS = ["MESH_EXTERNAL", "MESH_INTERNAL"] as const;
export const SE_RESOLUTIONS = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"] as const;
export type ServiceEntryLocation = (typeof SE_LOCATIONS)[number];
export type ServiceEntryResolution = (typeof SE_RESOLUTIONS)[number];

export interface ServiceEntryPort {
  readonly number: number;
  readonly protocol?: string;
  readonly name?: string;
  readonly targetPort?: number;
}

export interface WorkloadEntrySpec {
  readonly address?: string;
  /** Port name (of the Service or ServiceEntry port) → the workload's port. */
  readonly ports?: Readonly<Record<string, number>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly network?: string;
  readonly locality?: string;
  readonly weight?: number;
  readonly serviceAccount?: string;
}

export interface ServiceEntrySpec {
  readonly hosts?: readonly string[];
  readonly addresses?: readonly string[];
  readonly ports?: readonly ServiceEntryPort[];
  readonly location?: ServiceEntryLocation;
  readonly resolution?: ServiceEntryResolution;
  readonly endpoints?: readonly WorkloadEntrySpec[];
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> };
  readonly exportTo?: readonly string[];
  readonly subjectAltNames?: readonly string[];
}

export interface ServiceEntry {
  readonly apiVersion: string;
  readonly kind: "ServiceEntry";
  readonly metadata: ObjectMeta;
  readonly spec: ServiceEntrySpec;
}

export interface WorkloadEntry {
  readonly apiVersion: string;
  readonly kind: "WorkloadEntry";
  readonly metadata: ObjectMeta;
  readonly spec: WorkloadEntrySpec;
}
