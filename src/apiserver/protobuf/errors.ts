// Typed errors of the protobuf decoder. Every failure names the byte offset in the request body and,
// where known, the Kubernetes field path, so a 400/415 response can say exactly what was wrong.
// Pure: no I/O.

export type ProtobufErrorReason =
  /** The bytes are not valid protobuf (truncated varint, length past end, bad wire type ...). */
  | "Malformed"
  /** The envelope (k8s\0 + runtime.Unknown) is missing or incomplete. */
  | "BadEnvelope"
  /** Valid wire format, but a value cannot be turned into Kubernetes JSON (bad Quantity, huge int64 ...). */
  | "InvalidValue"
  /** The envelope names a kind this decoder has no descriptor for. */
  | "UnsupportedKind"
  /** Nesting deeper than the decoder allows. */
  | "TooDeep";

export class ProtobufDecodeError extends Error {
  override readonly name: string = "ProtobufDecodeError";
  constructor(
    readonly reason: ProtobufErrorReason,
    /** Byte offset in the whole request body where the problem was found. */
    readonly offset: number,
    readonly detail: string,
    /** Kubernetes field path such as `spec.containers[0].ports`, empty at top level. */
    readonly path = "",
  ) {
    super(`protobuf ${reason}${path ? ` at ${path}` : ""} (byte ${offset}): ${detail}`);
  }
}

export class UnsupportedKindError extends ProtobufDecodeError {
  override readonly name = "UnsupportedKindError";
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    offset: number,
  ) {
    super(
      "UnsupportedKind",
      offset,
      `no protobuf decoder for kind ${JSON.stringify(kind)} in apiVersion ${JSON.stringify(apiVersion)}`,
    );
  }
}
