// Typed errors shared by validation, the API server and clients. They carry what Kubernetes'
// metav1.Status carries (reason, code, causes with field paths) so every layer can report the
// field and the offending value without string parsing. Pure: no I/O.

/** One problem with one field, like metav1.StatusCause. `field` is a Kubernetes field path such as
 *  `spec.egressIPs[0]`; `value` is the offending value as the user wrote it. */
export interface FieldError {
  field: string;
  /** Kubernetes cause reason: FieldValueInvalid, FieldValueRequired, FieldValueNotSupported,
   *  FieldValueDuplicate, FieldValueTooLong, FieldValueTooMany, FieldValueForbidden, FieldValueTypeInvalid */
  type: FieldErrorType;
  value?: unknown;
  /** Human detail without the field path (e.g. "must be a plain IP address, not a CIDR"). */
  detail: string;
}

export type FieldErrorType =
  | "FieldValueInvalid"
  | "FieldValueRequired"
  | "FieldValueNotSupported"
  | "FieldValueDuplicate"
  | "FieldValueTooLong"
  | "FieldValueTooMany"
  | "FieldValueForbidden"
  | "FieldValueTypeInvalid";

export function fieldError(field: string, type: FieldErrorType, value: unknown, detail: string): FieldError {
  return { field, type, value, detail };
}
export const invalid = (field: string, value: unknown, detail: string): FieldError =>
  fieldError(field, "FieldValueInvalid", value, detail);
export const required = (field: string, detail = "Required value"): FieldError =>
  fieldError(field, "FieldValueRequired", undefined, detail);
export const notSupported = (field: string, value: unknown, supported: readonly string[]): FieldError =>
  fieldError(
    field,
    "FieldValueNotSupported",
    value,
    `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`,
  );
export const tooMany = (field: string, actual: number, max: number): FieldError =>
  fieldError(field, "FieldValueTooMany", actual, `must have at most ${max} items`);
export const duplicate = (field: string, value: unknown): FieldError =>
  fieldError(field, "FieldValueDuplicate", value, "");
export const forbidden = (field: string, detail: string): FieldError =>
  fieldError(field, "FieldValueForbidden", undefined, detail);

/** Renders a FieldError the way the Kubernetes API does:
 *  `spec.egressIPs[0]: Invalid value: "10.0.0.1/24": must be a plain IP address`. */
export function formatFieldError(e: FieldError): string {
  const label: Record<FieldErrorType, string> = {
    FieldValueInvalid: "Invalid value",
    FieldValueRequired: "Required value",
    FieldValueNotSupported: "Unsupported value",
    FieldValueDuplicate: "Duplicate value",
    FieldValueTooLong: "Too long",
    FieldValueTooMany: "Too many",
    FieldValueForbidden: "Forbidden",
    FieldValueTypeInvalid: "Invalid value",
  };
  if (e.type === "FieldValueRequired" || e.type === "FieldValueForbidden") {
    return `${e.field}: ${label[e.type]}${e.detail && e.detail !== "Required value" ? `: ${e.detail}` : ""}`;
  }
  const v = e.value === undefined ? "" : `: ${JSON.stringify(e.value)}`;
  return `${e.field}: ${label[e.type]}${v}${e.detail ? `: ${e.detail}` : ""}`;
}

export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Invalid"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "RequestEntityTooLarge"
  | "UnsupportedMediaType"
  | "Timeout"
  | "TooManyRequests"
  | "InternalError"
  | "Expired";

/** An error that maps to a Kubernetes `Status` response. Thrown by the API server's handlers and by
 *  the store adapter; `toStatus()` renders the wire form. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details: {
      name?: string;
      group?: string;
      kind?: string;
      causes?: { reason?: string; message?: string; field?: string }[];
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  toStatus(): Record<string, unknown> {
    const s: Record<string, unknown> = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (Object.keys(this.details).length > 0) s.details = this.details;
    return s;
  }

  /** 422 Invalid with one cause per field error, message as the real API server words it. */
  static invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
    const msgs = errors.map(formatFieldError);
    const summary = msgs.length === 1 ? msgs[0] : `[${msgs.join(", ")}]`;
    return new ApiError(
      422,
      "Invalid",
      `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${summary}`,
      {
        name,
        group,
        kind,
        causes: errors.map((e, i) => ({
          reason: e.type,
          message: msgs[i]!.slice(e.field.length + 2),
          field: e.field,
        })),
      },
    );
  }
  static badRequest(message: string): ApiError {
    return new ApiError(400, "BadRequest", message);
  }
  static notFound(resource: string, group: string, name: string): ApiError {
    return new ApiError(404, "NotFound", `${resource}${group ? `.${group}` : ""} "${name}" not found`, {
      name,
      group,
      kind: resource,
    });
  }
  static alreadyExists(resource: string, group: string, name: string): ApiError {
    return new ApiError(
      409,
      "AlreadyExists",
      `${resource}${group ? `.${group}` : ""} "${name}" already exists`,
      {
        name,
        group,
        kind: resource,
      },
    );
  }
  static conflict(resource: string, group: string, name: string, detail: string): ApiError {
    return new ApiError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${resource}${group ? `.${group}` : ""} "${name}": ${detail}`,
      { name, group, kind: resource },
    );
  }
  static gone(message: string): ApiError {
    return new ApiError(410, "Expired", message);
  }
  static internal(message: string): ApiError {
    return new ApiError(500, "InternalError", `Internal error occurred: ${message}`);
  }
}
