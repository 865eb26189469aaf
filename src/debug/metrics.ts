import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SlicedWorkStats } from "../pipeline/sliced-work.js";
import type { XdsObserver } from "../xds/observer.js";
import { LabelHistogram } from "./label-histogram.js";
import type { PushSchedulerStats } from "../xds/push-scheduler.js";

/** A counter kept elsewhere (a scheduler's own count), read when Prometheus scrapes. */
function readCounter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read() ?? 0);
    },
  });
}

/** A gauge read when Prometheus scrapes. */
function readGauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read() ?? 0);
    },
  });
}

interface UnreadPushes {
  pushes: number;
  resources: number;
  removed: number;
}

/** Prometheus metrics under Istio's names where Istio has one, so existing dashboards work. */
export class Metrics {
  readonly registry = new Registry();
  private readonly connected = new Gauge({ name: "pilot_xds", help: "Connected xDS clients.", registers: [this.registry] });
  /**
   * Per type, what was pushed since the counters were last read: added to them when Prometheus
   * reads them, not at every response to every stream (prom-client hashes the labels of each).
   */
  private readonly unread = new Map<string, UnreadPushes>();
  private readonly pushes = new Counter({
    name: "pilot_xds_pushes",
    help: "xDS responses sent, by type.",
    labelNames: ["type"],
    registers: [this.registry],
    collect: this.addUnread("pushes"),
  });
  // A response's size says little about how much of the config it carries: count the resources
  // themselves, so "a delta reconnect re-sends only what changed" can be checked from outside.
  private readonly resourcesSent = new Counter({
    name: "meshpilot_xds_resources_sent",
    help: "Resources carried in xDS responses, by type.",
    labelNames: ["type"],
    registers: [this.registry],
    collect: this.addUnread("resources"),
  });
  private readonly resourcesRemoved = new Counter({
    name: "meshpilot_xds_resources_removed",
    help: "Names reported in delta xDS responses' removed_resources, by type.",
    labelNames: ["type"],
    registers: [this.registry],
    collect: this.addUnread("removed"),
  });
  private readonly rejects = new Counter({
    name: "pilot_total_xds_rejects",
    help: "xDS responses rejected (NACKed) by proxies, by type.",
    labelNames: ["type"],
    registers: [this.registry],
  });
  // Observed for every response to every stream: label-histogram.ts says why not prom-client's.
  private readonly pushTime = new LabelHistogram(
    "pilot_xds_push_time",
    "Seconds from a config change to the response being written, by type.",
    "type",
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10],
    this.registry,
  );
  private readonly configSize = new LabelHistogram("pilot_xds_config_size_bytes", "Size of xDS responses.", "type", [1e3, 1e4, 1e5, 1e6, 1e7], this.registry);
  readonly buildTime = new Histogram({
    name: "meshpilot_build_seconds",
    help: "Seconds to build the model and translate every active view.",
    labelNames: ["path"],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly diagnostics = new Gauge({
    name: "meshpilot_config_diagnostics",
    help: "Current findings about the input, by severity.",
    labelNames: ["severity"],
    registers: [this.registry],
  });
  readonly rejectedConfigs = new Gauge({
    name: "pilot_total_rejected_configs",
    help: "Input objects currently refused by validation.",
    registers: [this.registry],
  });
  private readonly injectionRequests = new Counter({
    name: "sidecar_injection_requests_total",
    help: "Pods the injection webhook was asked about.",
    registers: [this.registry],
  });
  private readonly injectionSuccess = new Counter({ name: "sidecar_injection_success_total", help: "Pods given a sidecar.", registers: [this.registry] });
  private readonly injectionSkip = new Counter({
    name: "sidecar_injection_skip_total",
    help: "Pods admitted without a sidecar (opted out, hostNetwork, already injected).",
    registers: [this.registry],
  });
  private readonly injectionFailure = new Counter({
    name: "sidecar_injection_failure_total",
    help: "Pods refused because they cannot be injected.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The push scheduler's counters (push-scheduler.ts): how writes to many streams are spread over
   * turns of the event loop and held at the cap of unanswered bytes. Read at each scrape.
   */
  watchPushes(stats: () => PushSchedulerStats): void {
    const r = this.registry;
    readCounter(r, "meshpilot_xds_push_turns_total", "Turns of the event loop in which the push scheduler served streams.", () => stats().rounds);
    readCounter(
      r,
      "meshpilot_xds_push_flushes_total",
      "Streams served by the push scheduler (a response built and written, or nothing owed).",
      () => stats().flushes,
    );
    readGauge(r, "meshpilot_xds_push_longest_turn_seconds", "The longest turn of the push scheduler since start.", () => stats().longestRoundMs / 1000);
    readGauge(r, "meshpilot_xds_push_queue_streams", "Streams waiting for a turn of the push scheduler.", () => stats().waiting);
    readGauge(r, "meshpilot_xds_push_inflight_bytes", "Bytes sent and not yet answered by proxies, counted against the push cap.", () => stats().bytesInFlight);
    readCounter(r, "meshpilot_xds_push_deferred_total", "Times streams waited because the unanswered bytes were at the push cap.", () => stats().heldAtCap);
    readCounter(
      r,
      "meshpilot_xds_push_abandoned_total",
      "Responses that stopped counting against the push cap because they went unanswered too long (slow proxies).",
      () => stats().abandoned,
    );
  }

  /** The work of building views across turns (ControlPlane's sliceMs); absent stats read as 0. */
  watchBuilds(stats: () => (SlicedWorkStats & { readonly waitingViews: number }) | undefined): void {
    const r = this.registry;
    readGauge(r, "meshpilot_view_builds_waiting", "Views proxies wait for, queued to be built across turns.", () => stats()?.waitingViews);
    readCounter(r, "meshpilot_view_build_turns_total", "Turns of the event loop spent building views.", () => stats()?.turns);
    readCounter(r, "meshpilot_view_build_steps_total", "Steps of view builds (a translation, or one resource encoded).", () => stats()?.steps);
    readGauge(r, "meshpilot_view_build_longest_turn_seconds", "The longest turn spent building views since start.", () => (stats()?.longestTurnMs ?? 0) / 1000);
  }

  /** A counter's collect: add what was pushed since it was last read (every type pushed has its series, 0 included). */
  private addUnread(field: keyof UnreadPushes): (this: Counter<"type">) => void {
    const unread = this.unread;
    return function (this: Counter<"type">): void {
      for (const [type, u] of unread) {
        this.inc({ type }, u[field]);
        u[field] = 0;
      }
    };
  }

  /** One answered injection request (istiod's sidecar_injection_* counters). */
  injection(result: "injected" | "skipped" | "refused"): void {
    this.injectionRequests.inc();
    (result === "injected" ? this.injectionSuccess : result === "skipped" ? this.injectionSkip : this.injectionFailure).inc();
  }

  observer(): XdsObserver {
    return {
      onConnect: () => this.connected.inc(),
      onDisconnect: () => this.connected.dec(),
      onPush: (type, _proxy, bytes, count, seconds, removed) => {
        let u = this.unread.get(type);
        if (!u) {
          u = { pushes: 0, resources: 0, removed: 0 };
          this.unread.set(type, u);
        }
        u.pushes++;
        u.resources += count;
        u.removed += removed;
        this.pushTime.observe(type, seconds);
        this.configSize.observe(type, bytes);
      },
      onNack: (type) => this.rejects.inc({ type }),
    };
  }
}
