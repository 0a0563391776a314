// Public surface of the protobuf request-body decoder used by the API server. Pure: no I/O.
export {
  type DecodedObject,
  type DecodeOptions,
  decodeKubernetesProtobuf,
  isProtobufContentType,
  PROTOBUF_MAGIC,
} from "./decode.js";
export { ProtobufDecodeError, type ProtobufErrorReason, UnsupportedKindError } from "./errors.js";
