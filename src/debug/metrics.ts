import type * as PromClient from "prom-client";
import { lazyModule } from "../lazy-module.js";
import type { SlicedWorkStats } from "../pipeline/sliced-work.js";
import type { XdsObserver } from "../xds/observer.js";
import type { PushSchedulerStats } from "../xds/push-scheduler.js";
import { CounterValue, expositionText, GaugeValue, HistogramValue, ReadValue, type MetricFamily } from "./metric-values.js";

/** Loaded at the first scrape, for the process's default metrics (CPU, memory, GC, event loop). */
const promClient = lazyModule<typeof PromClient>("prom-client");

/** Prometheus metrics under Istio's names where Istio has one, so existing dashboards work. */
export class Metrics {
  private readonly families: MetricFamily[] = [];
  private defaults: PromClient.Registry | undefined;
  private readonly connected = this.add(new GaugeValue("pilot_xds", "Connected xDS clients."));
  private readonly pushes = this.add(new CounterValue("pilot_xds_pushes", "xDS responses sent, by type.", ["type"]));
  // A response's size says little about how much of the config it carries: count the resources
  // themselves, so "a delta reconnect re-sends only what changed" can be checked from outside.
  private readonly resourcesSent = this.add(new CounterValue("meshpilot_xds_resources_sent", "Resources carried in xDS responses, by type.", ["type"]));
  private readonly resourcesRemoved = this.add(
    new CounterValue("meshpilot_xds_resources_removed", "Names reported in delta xDS responses' removed_resources, by type.", ["type"]),
  );
  private readonly rejects = this.add(new CounterValue("pilot_total_xds_rejects", "xDS responses rejected (NACKed) by proxies, by type.", ["type"]));
  private readonly pushTime = this.add(
    new HistogramValue(
      "pilot_xds_push_time",
      "Seconds from a config change to the response being written, by type.",
      ["type"],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10],
    ),
  );
  private readonly configSize = this.add(new HistogramValue("pilot_xds_config_size_bytes", "Size of xDS responses.", ["type"], [1e3, 1e4, 1e5, 1e6, 1e7]));
  readonly buildTime = this.add(
    new HistogramValue("meshpilot_build_seconds", "Seconds to build the model and translate every active view.", ["path"], [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5]),
  );
  readonly diagnostics = this.add(new GaugeValue("meshpilot_config_diagnostics", "Current findings about the input, by severity.", ["severity"]));
  readonly rejectedConfigs = this.add(new GaugeValue("pilot_total_rejected_configs", "Input objects currently refused by validation."));
  private readonly injectionRequests = this.add(new CounterValue("sidecar_injection_requests_total", "Pods the injection webhook was asked about."));
  private readonly injectionSuccess = this.add(new CounterValue("sidecar_injection_success_total", "Pods given a sidecar."));
  private readonly injectionSkip = this.add(
    new CounterValue("sidecar_injection_skip_total", "Pods admitted without a sidecar (opted out, hostNetwork, already injected)."),
  );
  private readonly injectionFailure = this.add(new CounterValue("sidecar_injection_failure_total", "Pods refused because they cannot be injected."));

  private add<T extends MetricFamily>(family: T): T {
    this.families.push(family);
    return family;
  }

  /**
   * The exposition text (Prometheus' text format) and its content type. The default metrics start
   * with the first scrape: the GC and event loop figures cover the time since.
   */
  async exposition(): Promise<{ readonly text: string; readonly contentType: string }> {
    const prom = promClient();
    if (!this.defaults) {
      this.defaults = new prom.Registry();
      prom.collectDefaultMetrics({ register: this.defaults });
    }
    return { text: `${expositionText(this.families)}\n\n${await this.defaults.metrics()}`, contentType: prom.Registry.PROMETHEUS_CONTENT_TYPE };
  }

  /**
   * The push scheduler's counters (push-scheduler.ts): how writes to many streams are spread over
   * turns of the event loop and held at the cap of unanswered bytes. Read at each scrape.
   */
  watchPushes(stats: () => PushSchedulerStats): void {
    const counter = (name: string, help: string, read: () => number | undefined): unknown => this.add(new ReadValue(name, help, "counter", read));
    const gauge = (name: string, help: string, read: () => number | undefined): unknown => this.add(new ReadValue(name, help, "gauge", read));
    counter("meshpilot_xds_push_turns_total", "Turns of the event loop in which the push scheduler served streams.", () => stats().rounds);
    counter("meshpilot_xds_push_flushes_total", "Streams served by the push scheduler (a response built and written, or nothing owed).", () => stats().flushes);
    gauge("meshpilot_xds_push_longest_turn_seconds", "The longest turn of the push scheduler since start.", () => stats().longestRoundMs / 1000);
    gauge("meshpilot_xds_push_queue_streams", "Streams waiting for a turn of the push scheduler.", () => stats().waiting);
    gauge("meshpilot_xds_push_inflight_bytes", "Bytes sent and not yet answered by proxies, counted against the push cap.", () => stats().bytesInFlight);
    counter("meshpilot_xds_push_deferred_total", "Times streams waited because the unanswered bytes were at the push cap.", () => stats().heldAtCap);
    counter(
      "meshpilot_xds_push_abandoned_total",
      "Responses that stopped counting against the push cap because they went unanswered too long (slow proxies).",
      () => stats().abandoned,
    );
  }

  /** The work of building views across turns (ControlPlane's sliceMs); absent stats read as 0. */
  watchBuilds(stats: () => (SlicedWorkStats & { readonly waitingViews: number }) | undefined): void {
    this.add(new ReadValue("meshpilot_view_builds_waiting", "Views proxies wait for, queued to be built across turns.", "gauge", () => stats()?.waitingViews));
    this.add(new ReadValue("meshpilot_view_build_turns_total", "Turns of the event loop spent building views.", "counter", () => stats()?.turns));
    this.add(
      new ReadValue("meshpilot_view_build_steps_total", "Steps of view builds (a translation, or one resource encoded).", "counter", () => stats()?.steps),
    );
    this.add(
      new ReadValue(
        "meshpilot_view_build_longest_turn_seconds",
        "The longest turn spent building views since start.",
        "gauge",
        () => (stats()?.longestTurnMs ?? 0) / 1000,
      ),
    );
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
        this.pushes.inc({ type });
        this.resourcesSent.inc({ type }, count);
        this.resourcesRemoved.inc({ type }, removed);
        this.pushTime.observe({ type }, seconds);
        this.configSize.observe({ type }, bytes);
      },
      onNack: (type) => this.rejects.inc({ type }),
    };
  }
}
