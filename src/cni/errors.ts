// CNI protocol errors: the well-known codes of the CNI spec and the error object plugins print on
// stdout (`{cniVersion, code, msg, details}`) before exiting non-zero. Pure: no I/O.

export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimitedConnectivity: 51,
  Other: 999,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

export class CniError extends Error {
  constructor(
    readonly code: CniCodeValue,
    readonly msg: string,
    readonly details = "",
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = "CniError";
  }

  toJSON(cniVersion: string): Record<string, unknown> {
    return { cniVersion, code: this.code, msg: this.msg, details: this.details };
  }
}
