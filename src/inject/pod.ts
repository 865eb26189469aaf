/**
 * The parts of a Pod that injection reads, as they arrive in an AdmissionReview. Everything the
 * injector does not read passes through untouched (the patch only adds and replaces).
 */
export interface HttpGetAction {
  readonly path?: string;
  readonly port: number | string;
  readonly host?: string;
  readonly scheme?: string;
  readonly httpHeaders?: readonly { readonly name: string; readonly value: string }[];
}

export interface Probe {
  readonly httpGet?: HttpGetAction;
  readonly tcpSocket?: unknown;
  readonly grpc?: unknown;
  readonly exec?: unknown;
  readonly [k: string]: unknown;
}

export interface PodContainer {
  readonly name: string;
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number; readonly protocol?: string }[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly restartPolicy?: string;
  readonly [k: string]: unknown;
}

export interface AdmittedPod {
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly hostNetwork?: boolean;
    readonly containers?: readonly PodContainer[];
    readonly initContainers?: readonly PodContainer[];
    readonly volumes?: readonly { readonly name: string; readonly [k: string]: unknown }[];
    readonly [k: string]: unknown;
  };
}
