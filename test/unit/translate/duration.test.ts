import { describe, expect, it } from "vitest";
import { parseDuration } from "../../../src/api/duration.js";
import { durationWholeSeconds as wholeSeconds, protoDuration as format } from "../../../src/translate/duration.js";

const parsed = (text: string) => {
  const d = parseDuration(text);
  if (!d) throw new Error(`not a duration: ${text}`);
  return d;
};
const protoDuration = (text: string): string => format(parsed(text));
const durationWholeSeconds = (text: string): number => wholeSeconds(parsed(text));

describe("protoDuration: Istio (Go) durations → protobuf JSON durations", () => {
  it.each([
    ["0s", "0s"],
    ["0", "0s"],
    ["10s", "10s"],
    ["1.5s", "1.500s"],
    ["250ms", "0.250s"],
    ["30m", "1800s"],
    ["1h30m", "5400s"],
    ["1us", "0.000001s"],
    ["7ns", "0.000000007s"],
  ])("%s → %s", (input, want) => expect(protoDuration(input)).toBe(want));

  it("whole seconds for integer-second fields, at least 1 for a positive duration", () => {
    expect(durationWholeSeconds("2h")).toBe(7200);
    expect(durationWholeSeconds("300ms")).toBe(1);
    expect(durationWholeSeconds("0s")).toBe(0);
  });
});
