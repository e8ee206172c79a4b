/**
 * What `/status` and `/metrics` say of gaps in the feed and of the journal: gap seconds as a
 * counter, and the journal's state, volume and losses, so a stopped journal shows up on a
 * dashboard as loudly as it does in the log.
 *
 * @module
 */
import type { JournalStatus } from "../journal/writer.ts";
import type { MetricFamily } from "./metrics.ts";
import type { JournalView } from "./status_body.ts";

/** The `/status` `journal` object of a writer's status. */
export function journalView(status: JournalStatus): JournalView {
  return {
    state: status.state,
    file: status.file,
    problem: status.problem,
    records_total: status.records_total,
    bytes_total: status.bytes_total,
    record_bytes_total: status.record_bytes_total,
    writes_total: status.writes_total,
    fsyncs_total: status.fsyncs_total,
    dropped_total: status.dropped_total,
  };
}

function one(
  name: string,
  options: { help: string; type: MetricFamily["type"]; value: number },
): MetricFamily {
  return { name, help: options.help, type: options.type, samples: [{ value: options.value }] };
}

/** The gap and journal metric families; the journal's only when journaling is configured. */
export function journalFamilies(
  gapSeconds: number,
  journal: JournalStatus | null,
): MetricFamily[] {
  const families = [
    one("kitekeeper_feed_gap_seconds_total", {
      help: "Seconds an upstream socket delivered nothing while the market was open.",
      type: "counter",
      value: gapSeconds,
    }),
  ];
  if (journal === null) return families;
  return [
    ...families,
    one("kitekeeper_journal_up", {
      help: "1 while the journal writes, 0 once a problem stopped it (see /status journal).",
      type: "gauge",
      value: journal.state === "writing" ? 1 : 0,
    }),
    one("kitekeeper_journal_records_total", {
      help: "Records handed to the journal (messages, lifecycle changes, gaps).",
      type: "counter",
      value: journal.records_total,
    }),
    one("kitekeeper_journal_bytes_total", {
      help: "Bytes appended to journal files, after compression.",
      type: "counter",
      value: journal.bytes_total,
    }),
    one("kitekeeper_journal_dropped_total", {
      help: "Records not journaled because the journal had stopped.",
      type: "counter",
      value: journal.dropped_total,
    }),
  ];
}
