// A Prometheus histogram by one label, for what is observed once per response to every stream
// (the push time and size of each xDS response): prom-client's Histogram validates and hashes the
// labels of every observation, which at a change pushed to 2000 proxies cost more than building
// most responses. Here an observation is a Map lookup and a few additions; the registry reads it
// as it reads prom-client's own histograms, and the exposition is the same text.
import type { Histogram, Registry } from "prom-client";

interface Series {
  /** Observations per bucket (not cumulative), in the order of the bounds. */
  readonly counts: number[];
  sum: number;
  count: number;
}

interface Value {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
  readonly exemplar?: null;
}

export class LabelHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    /** Upper bounds, ascending. */
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // The registry takes any object that answers get() as prom-client's metrics do.
    registry.registerMetric(this as unknown as Histogram);
  }

  observe(label: string, value: number): void {
    let s = this.series.get(label);
    if (!s) {
      s = { counts: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    // A value on a bound belongs to that bucket (le); above every bound, only to +Inf.
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    if (i < this.bounds.length) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  reset(): void {
    this.series.clear();
  }

  /** What prom-client's Histogram.get() gives: per series cumulative buckets, +Inf, sum, count. */
  get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [label, s] of this.series) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, [this.labelName]: label }, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: "+Inf", [this.labelName]: label }, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
