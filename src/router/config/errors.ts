// Typed error for the egress router's environment variables. It names the variable, the line
// (1-based, counting blank and comment lines so the number matches the ConfigMap text) and the
// offending value, so the CLI can print it as one line. Pure: no I/O.

export class RouterConfigError extends Error {
  constructor(
    /** Environment variable, e.g. "EGRESS_DESTINATION". */
    readonly variable: string,
    /** 1-based line number inside the variable's value; undefined for single-value variables. */
    readonly line: number | undefined,
    /** The offending value exactly as written (a field, or the whole line). */
    readonly value: string,
    /** What is wrong, without the location (e.g. "port must be 1-65535"). */
    readonly detail: string,
    /** The whole line, when `value` is only one field of it. */
    readonly lineText?: string,
  ) {
    const where = line === undefined ? variable : `${variable} line ${line}`;
    const context = lineText !== undefined && lineText !== value ? ` in ${JSON.stringify(lineText)}` : "";
    super(`${where}: ${detail}: ${JSON.stringify(value)}${context}`);
    this.name = "RouterConfigError";
  }
}
