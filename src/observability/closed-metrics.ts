// Per-request metrics over closed label sets, at the cost of an array increment.
//
// prom-client builds a label key string, validates the labels and allocates a closure on every inc() or observe() with
// labels: ≈ 17 µs of CPU per request under the benchmark load for the five series every vendor request touches. Here
// each label value is mapped to an index once, at construction, and a request adds to a typed array. prom-client stays
// the registry and the exposition format: a counter's counts are handed to its prom-client Counter when it is read
// (prom-client's `collect` hook), and a histogram is a metric object the registry reads as it reads its own, written
// exactly as prom-client writes a Histogram (test/observability/closed-metrics.test.ts compares the text).

import { Counter, type Metric, type Registry } from 'prom-client';

/** The values each label may take, in the order the label names are given; anything else counts under `fallback`. */
export interface ClosedLabels<L extends string> {
  names: readonly L[];
  values: Readonly<Record<L, readonly string[]>>;
}

/** Index of a label combination: mixed-radix over the closed value lists. */
class LabelSpace<L extends string> {
  readonly size: number;
  private readonly index: ReadonlyMap<string, number>[];
  private readonly radix: number[];

  constructor(readonly labels: ClosedLabels<L>) {
    this.index = labels.names.map((n) => new Map(labels.values[n].map((v, i) => [v, i])));
    this.radix = labels.names.map((n) => labels.values[n].length);
    this.size = this.radix.reduce((a, b) => a * b, 1);
  }

  /** The combination's slot, or -1 when a value is not in its list (the caller decides what that counts as). */
  slot(values: readonly string[]): number {
    let at = 0;
    for (let k = 0; k < this.radix.length; k++) {
      const i = this.index[k]!.get(values[k]!);
      if (i === undefined) return -1;
      at = at * this.radix[k]! + i;
    }
    return at;
  }

  /** The label object of a slot. */
  labelsOf(slot: number): Record<L, string> {
    const picked: string[] = [];
    for (let k = this.radix.length - 1; k >= 0; k--) {
      const name = this.labels.names[k]!;
      picked[k] = this.labels.values[name][slot % this.radix[k]!]!;
      slot = Math.floor(slot / this.radix[k]!);
    }
    // in the order of the label names, as prom-client writes them
    const out = {} as Record<L, string>;
    this.labels.names.forEach((name, k) => (out[name] = picked[k]!));
    return out;
  }
}

/**
 * A counter over a closed label set. Counts wait in a typed array and move into the prom-client Counter whenever the
 * registry is read, so the exposition is prom-client's own. `add` with a value outside the lists throws: label sets
 * are closed by construction, and a caller that breaks that is a bug the tests must see.
 */
export class ClosedCounter<L extends string> {
  readonly counter: Counter<L>;
  readonly name: string;
  private readonly space: LabelSpace<L>;
  private readonly pending: Float64Array;
  /** slots added to since the last read, in the order of their first add (prom-client lists series in that order) */
  private readonly order: number[] = [];
  private readonly queued: Uint8Array;

  constructor(opts: { name: string; help: string; labels: ClosedLabels<L>; registry: Registry }) {
    this.name = opts.name;
    this.space = new LabelSpace(opts.labels);
    this.pending = new Float64Array(this.space.size);
    this.queued = new Uint8Array(this.space.size);
    const self = this;
    this.counter = new Counter<L>({
      name: opts.name,
      help: opts.help,
      labelNames: opts.labels.names,
      registers: [opts.registry],
      collect() {
        self.flush();
      },
    });
    // registry.resetMetrics() resets the prom-client Counter: the counts not yet handed to it go with it
    const reset = this.counter.reset.bind(this.counter);
    this.counter.reset = () => {
      for (const slot of this.order) {
        this.pending[slot] = 0;
        this.queued[slot] = 0;
      }
      this.order.length = 0;
      reset();
    };
  }

  /** Add `n` (default 1) to the series of these label values, given in the order of the label names. */
  add(values: readonly string[], n = 1): void {
    const slot = this.space.slot(values);
    if (slot < 0) throw new RangeError(`${this.name}: a label value outside its closed set`);
    this.pending[slot] += n;
    if (this.queued[slot] === 0) {
      this.queued[slot] = 1;
      this.order.push(slot);
    }
  }

  /** Start a series at 0, so that it exists before its first event (increase() sees the first one). */
  zero(values: readonly string[]): void {
    const slot = this.space.slot(values);
    if (slot < 0) throw new RangeError(`${this.name}: a label value outside its closed set`);
    this.counter.inc(this.space.labelsOf(slot), 0);
  }

  private flush(): void {
    const p = this.pending;
    for (const slot of this.order) {
      this.counter.inc(this.space.labelsOf(slot), p[slot]!);
      p[slot] = 0;
      this.queued[slot] = 0;
    }
    this.order.length = 0;
  }
}

/** One value as prom-client's registry reads a metric's values. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  /** prom-client's buckets carry `exemplar: null` when exemplars are off */
  exemplar?: null;
}

/**
 * A histogram over a closed label set (or none). An observation finds its bucket and adds to typed arrays; the
 * registry reads it through get(), which gives the values in prom-client's Histogram layout.
 */
export class ClosedHistogram<L extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  private readonly space: LabelSpace<L>;
  private readonly bounds: Float64Array;
  /** per slot: bucket counts (not cumulative), then sum and count */
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly totals: Float64Array;
  /** slots that have a series (observed or zeroed), in the order they first appeared, as prom-client lists them */
  private readonly live: number[] = [];
  private readonly isLive: Uint8Array;

  constructor(opts: { name: string; help: string; labels: ClosedLabels<L>; buckets: readonly number[]; registry: Registry }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labels.names;
    this.space = new LabelSpace(opts.labels);
    this.bounds = Float64Array.from([...opts.buckets].sort((a, b) => a - b));
    this.counts = new Float64Array(this.space.size * this.bounds.length);
    this.sums = new Float64Array(this.space.size);
    this.totals = new Float64Array(this.space.size);
    this.isLive = new Uint8Array(this.space.size);
    // prom-client's unlabelled histogram has its one series, all zero, from the start
    if (this.labelNames.length === 0) this.touch(0);
    opts.registry.registerMetric(this as unknown as Metric);
  }

  /** Observe `value` for these label values (in the order of the label names; none for an unlabelled histogram). */
  observe(values: readonly string[], value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a finite number`);
    const slot = this.space.slot(values);
    if (slot < 0) throw new RangeError(`${this.name}: a label value outside its closed set`);
    this.touch(slot);
    const b = this.bounds;
    let k = 0;
    while (k < b.length && value > b[k]!) k++;
    if (k < b.length) this.counts[slot * b.length + k]! += 1;
    this.sums[slot] += value;
    this.totals[slot] += 1;
  }

  /** Start a series at 0 in every bucket. */
  zero(values: readonly string[]): void {
    const slot = this.space.slot(values);
    if (slot < 0) throw new RangeError(`${this.name}: a label value outside its closed set`);
    this.touch(slot);
  }

  private touch(slot: number): void {
    if (this.isLive[slot] === 1) return;
    this.isLive[slot] = 1;
    this.live.push(slot);
  }

  reset(): void {
    this.counts.fill(0);
    this.sums.fill(0);
    this.totals.fill(0);
    this.isLive.fill(0);
    this.live.length = 0;
  }

  /** The registry's read for the text format: buckets (cumulative, then +Inf), sum and count of every series. */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    const nb = this.bounds.length;
    for (const slot of this.live) {
      const shared = this.space.labelsOf(slot) as Record<string, string>;
      let acc = 0;
      for (let k = 0; k < nb; k++) {
        acc += this.counts[slot * nb + k]!;
        values.push({ labels: { le: this.bounds[k]! }, sharedLabels: shared, value: acc, metricName: `${this.name}_bucket`, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: this.totals[slot]!, metricName: `${this.name}_bucket`, exemplar: null });
      values.push({ labels: {}, sharedLabels: shared, value: this.sums[slot]!, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: shared, value: this.totals[slot]!, metricName: `${this.name}_count` });
    }
    // keys in prom-client's order, so that the registry's JSON reads the same
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The registry's read for JSON: the same values with each series' labels merged in. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Omit<ExportedValue, 'sharedLabels'>[] }> {
    const data = await this.getForPromString();
    const values = data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return { name: data.name, help: data.help, type: data.type, values, aggregator: data.aggregator };
  }
}
