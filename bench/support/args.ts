// Command-line options of the benchmarks (`--name value`), shared so every bench reads them the
// same way and refuses a bad value with the option and the value named instead of running with NaN.

/** The value after `--name`, or undefined when the option is absent. */
export function textArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined) {
    console.error(`--${name}: a value is required`);
    process.exit(2);
  }
  return v;
}

/** The number after `--name`, or `def` when the option is absent (required when there is none). */
export function arg(name: string, def?: number): number {
  const v = textArg(name);
  if (v === undefined) {
    if (def !== undefined) return def;
    console.error(`--${name} is required (a number)`);
    process.exit(2);
  }
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) {
    console.error(`--${name}: expected a number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}
