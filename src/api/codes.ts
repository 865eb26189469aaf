/**
 * Diagnostic codes used by parsing and validation. Istio's analyzer code is used where Istio has
 * one (IST0106: the object fails the schema/webhook validation); `MP…` codes are meshpilot's own.
 */
export const Codes = {
  /** An Istio object fails the checks Istio's validating webhook does. */
  IstioSchema: "IST0106",
  /** The file is not valid YAML (syntax error, duplicate key, …). */
  YamlSyntax: "MP0001",
  /** The file or directory could not be read. */
  ReadError: "MP0002",
  /** A document is not a Kubernetes object (not a mapping, no apiVersion/kind). */
  NotAnObject: "MP0003",
  /** A kind meshpilot does not read; the document is skipped. */
  UnknownKind: "MP0004",
  /** A kind meshpilot reads, under an apiVersion it does not. */
  UnsupportedApiVersion: "MP0005",
  /** A Kubernetes object (Service, EndpointSlice, Pod, Namespace) fails validation. */
  KubeSchema: "MP0006",
  /** The same kind/namespace/name is defined twice; the first definition is kept. */
  DuplicateObject: "MP0007",
  /** A field Istio accepts but meshpilot does not implement (yet); it is ignored. */
  NotImplemented: "MP0008",
  /** The file watcher failed. */
  WatchError: "MP0009",
  /** An object of a kind meshpilot reads but does not translate yet; the message says what that means for traffic. */
  NotTranslated: "MP0010",
  /** An object nested deeper than any real one; refused before anything walks it recursively. */
  TooDeep: "MP0011",
} as const;
export type Code = (typeof Codes)[keyof typeof Codes];
