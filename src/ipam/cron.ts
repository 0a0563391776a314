// Standard five-field cron expressions (minute hour day-of-month month day-of-week) for the
// Whereabouts reconciler schedule (`reconciler_cron_expression`): `*`, lists, ranges, steps, month and
// weekday names, the @daily-style shorthands, and the next-fire computation. Six-field expressions
// (with seconds) are rejected, as MISSION §4 asks. Times are UTC. Pure: no timers, no clock.

export class CronError extends Error {
  constructor(
    readonly expression: string,
    readonly detail: string,
  ) {
    super(`invalid cron expression ${JSON.stringify(expression)}: ${detail}`);
    this.name = "CronError";
  }
}

export interface CronSchedule {
  expression: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday (7 is folded into 0). */
  daysOfWeek: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, a day matches if either matches. */
  domRestricted: boolean;
  dowRestricted: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 7, names: DAYS },
];

const SHORTHANDS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function parseValue(text: string, f: FieldSpec, expr: string): number {
  const lower = text.toLowerCase();
  if (f.names) {
    const i = f.names.indexOf(lower);
    if (i >= 0) return f.name === "month" ? i + 1 : i;
  }
  if (!/^\d+$/.test(text)) throw new CronError(expr, `${f.name}: ${JSON.stringify(text)} is not a number`);
  const v = Number(text);
  if (v < f.min || v > f.max) throw new CronError(expr, `${f.name}: ${v} is outside ${f.min}-${f.max}`);
  return v;
}

function parseField(text: string, f: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    if (part === "") throw new CronError(expr, `${f.name}: empty list element in ${JSON.stringify(text)}`);
    const [rangeText, stepText, extra] = part.split("/");
    if (extra !== undefined) throw new CronError(expr, `${f.name}: ${JSON.stringify(part)} has two steps`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw new CronError(expr, `${f.name}: step ${JSON.stringify(stepText)} must be a positive number`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (rangeText === "*") {
      lo = f.min;
      hi = f.max;
    } else if (rangeText?.includes("-")) {
      const [a, b, c] = rangeText.split("-");
      if (c !== undefined || a === undefined || b === undefined)
        throw new CronError(expr, `${f.name}: ${JSON.stringify(rangeText)} is not a range`);
      lo = parseValue(a, f, expr);
      hi = parseValue(b, f, expr);
      if (lo > hi) throw new CronError(expr, `${f.name}: range ${JSON.stringify(rangeText)} runs backwards`);
    } else {
      lo = parseValue(rangeText ?? "", f, expr);
      // `a/n` means from a to the field's end in steps of n (Vixie and robfig agree).
      hi = stepText !== undefined ? f.max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Parses a five-field expression (or a shorthand such as `@daily`). */
export function parseCron(expression: string): CronSchedule {
  const trimmed = expression.trim();
  const expanded = SHORTHANDS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith("@"))
    throw new CronError(expression, `unknown shorthand ${JSON.stringify(trimmed)}`);
  const fields = expanded.split(/\s+/).filter((s) => s !== "");
  if (fields.length === 6)
    throw new CronError(
      expression,
      "has 6 fields; only the standard 5 fields (minute hour day-of-month month day-of-week) are supported, seconds are not",
    );
  if (fields.length !== 5)
    throw new CronError(
      expression,
      `has ${fields.length} fields; expected 5 (minute hour day-of-month month day-of-week)`,
    );
  const sets = fields.map((t, i) => parseField(t, FIELDS[i]!, expression));
  const dow = new Set([...sets[4]!].map((d) => (d === 7 ? 0 : d)));
  return {
    expression: trimmed,
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: dow,
    domRestricted: !fields[2]!.startsWith("*"),
    dowRestricted: !fields[4]!.startsWith("*"),
  };
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = s.daysOfMonth.has(d.getUTCDate());
  const dow = s.daysOfWeek.has(d.getUTCDay());
  if (s.domRestricted && s.dowRestricted) return dom || dow;
  if (s.domRestricted) return dom;
  if (s.dowRestricted) return dow;
  return true;
}

/** The first minute strictly after `after` at which the schedule fires (UTC), or undefined when it
 *  never fires within 5 years (e.g. `0 0 30 2 *`). */
export function nextFire(s: CronSchedule, after: Date): Date | undefined {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  return undefined;
}

/** Upstream's default schedule: daily at 04:30. */
export const DEFAULT_RECONCILER_CRON = "30 4 * * *";
