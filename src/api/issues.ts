import type { Severity } from "./diagnostics.js";
import type { FieldPath, PathSegment } from "./path.js";

/** One finding of a validator, before it is placed in a file and attached to an object. */
export interface Issue {
  readonly severity: Severity;
  readonly path: FieldPath;
  readonly message: string;
  /** Overrides the code the caller would use for this object kind. */
  readonly code?: string;
}

/**
 * Collects issues under a base path. `at("spec", "http", 0)` gives a child that shares the same list,
 * so validators can be written against "their" node and still report full paths.
 */
export class Issues {
  private constructor(
    private readonly list: Issue[],
    readonly path: FieldPath,
  ) {}

  static root(path: FieldPath = []): Issues {
    return new Issues([], path);
  }

  at(...segments: PathSegment[]): Issues {
    return new Issues(this.list, [...this.path, ...segments]);
  }

  error(message: string, code?: string): void {
    this.list.push({ severity: "error", path: this.path, message, ...(code ? { code } : {}) });
  }

  warning(message: string, code?: string): void {
    this.list.push({ severity: "warning", path: this.path, message, ...(code ? { code } : {}) });
  }

  info(message: string, code?: string): void {
    this.list.push({ severity: "info", path: this.path, message, ...(code ? { code } : {}) });
  }

  get all(): readonly Issue[] {
    return this.list;
  }

  get hasErrors(): boolean {
    return this.list.some((i) => i.severity === "error");
  }
}
