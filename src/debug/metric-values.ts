// The values behind meshpilot's own Prometheus metrics, kept without prom-client and written in
// the text exposition format when scraped. prom-client (and the OpenTelemetry API it pulls in)
// cost a server about 20 ms of CPU to load at every start (issue 12 item 3, start-up), before any
// scrape: metrics.ts loads it at the first scrape, for the process's default metrics only.

export type Labels = Readonly<Record<string, string>>;

/** One metric family: its samples as exposition lines. */
export interface MetricFamily {
  readonly name: string;
  /** The `# HELP`, `# TYPE` and sample lines. */
  lines(): string[];
}

const escapeHelp = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeValue = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** A sample value as Prometheus reads it (prom-client's spelling of the special values). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return "Nan";
  if (!Number.isFinite(v)) return v < 0 ? "-Inf" : "+Inf";
  return `${v}`;
}

function labelText(pairs: readonly (readonly [string, string])[]): string {
  return pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(",")}}`;
}

/**
 * A sample's key: its label values joined. The push metrics are observed for every response to
 * every stream with one label, so that case allocates nothing.
 */
function sampleKey(labelNames: readonly string[], labels: Labels | undefined): string {
  if (labelNames.length === 1) return labels?.[labelNames[0]!] ?? "";
  return labelNames.map((n) => labels?.[n] ?? "").join("\u0000");
}

abstract class Family implements MetricFamily {
  /** Label values in labelNames' order, by their joined key; the metrics without labels start at one sample of 0. */
  protected readonly samples = new Map<string, { labels: string[]; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: "counter" | "gauge",
    protected readonly labelNames: readonly string[] = [],
  ) {
    if (labelNames.length === 0) this.samples.set("", { labels: [], value: 0 });
  }

  protected sample(labels: Labels | undefined): { labels: string[]; value: number } {
    const key = sampleKey(this.labelNames, labels);
    let s = this.samples.get(key);
    if (!s) this.samples.set(key, (s = { labels: this.labelNames.map((n) => labels?.[n] ?? ""), value: 0 }));
    return s;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.samples.values())
      out.push(`${this.name}${labelText(s.labels.map((v, i) => [this.labelNames[i]!, v] as const))} ${valueText(s.value)}`);
    return out;
  }
}

export class CounterValue extends Family {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, "counter", labelNames);
  }

  inc(labels?: Labels, by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new Error(`counter ${this.name}: cannot add ${by}`);
    this.sample(labels).value += by;
  }
}

export class GaugeValue extends Family {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, "gauge", labelNames);
  }

  set(value: number): void;
  set(labels: Labels, value: number): void;
  set(a: Labels | number, b?: number): void {
    if (typeof a === "number") this.sample(undefined).value = a;
    else this.sample(a).value = b ?? 0;
  }

  inc(labels?: Labels, by = 1): void {
    this.sample(labels).value += by;
  }

  dec(labels?: Labels, by = 1): void {
    this.sample(labels).value -= by;
  }
}

/** A counter or gauge whose value is read from elsewhere when scraped. */
export class ReadValue implements MetricFamily {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: "counter" | "gauge",
    private readonly read: () => number | undefined,
  ) {}

  lines(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, `${this.name} ${valueText(this.read() ?? 0)}`];
  }
}

export class HistogramValue implements MetricFamily {
  private readonly samples = new Map<string, { labels: string[]; buckets: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly string[],
    /** Upper bounds, ascending (+Inf is implied). */
    private readonly bounds: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) throw new Error(`histogram ${this.name}: cannot observe ${value}`);
    const key = sampleKey(this.labelNames, labels);
    let s = this.samples.get(key);
    if (!s) this.samples.set(key, (s = { labels: this.labelNames.map((n) => labels[n] ?? ""), buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    for (const s of this.samples.values()) {
      const pairs = s.labels.map((v, i) => [this.labelNames[i]!, v] as const);
      let acc = 0;
      for (const [i, b] of this.bounds.entries()) {
        acc += s.buckets[i]!;
        out.push(`${this.name}_bucket${labelText([["le", valueText(b)], ...pairs])} ${acc}`);
      }
      out.push(`${this.name}_bucket${labelText([["le", "+Inf"], ...pairs])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(pairs)} ${valueText(s.sum)}`);
      out.push(`${this.name}_count${labelText(pairs)} ${s.count}`);
    }
    return out;
  }
}

/** The exposition text of `families`, as prom-client writes a registry (a blank line between families). */
export function expositionText(families: readonly MetricFamily[]): string {
  return families.map((f) => f.lines().join("\n")).join("\n\n");
}
