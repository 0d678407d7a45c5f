/**
 * permessage-deflate (RFC 7692), the one extension wsnc speaks: negotiation
 * in `deflate/params.ts`, the compressor and decompressor that plug into the
 * protocol as an extension in `deflate/codec.ts`.
 *
 * @module
 */

export {
  acceptAnswer,
  type CompressionOptions,
  type DeflateParams,
  negotiateOffer,
  offerHeader,
  resolveCompressionOptions,
} from "./deflate/params.ts";
export {
  agreedDeflate,
  clientDeflate,
  compressionSupported,
  loadCompression,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
} from "./deflate/codec.ts";
