/**
 * UTF-8 `TextEncoder` / `TextDecoder` for runtimes without them (WeChat mini-programs on
 * real devices, uni-app mp-weixin).
 *
 * wasm-bindgen's glue constructs both at module top level, with options such as
 * `{ ignoreBOM: true, fatal: true }`. Common polyfills throw on `fatal`, which breaks the
 * glue at import time; this one accepts and ignores the options, because every string the
 * wasm core produces is valid UTF-8 (Rust `String`). Invalid input decodes to U+FFFD.
 * The native implementations are used when the runtime has them.
 */

/** Options accepted (and ignored) by the decoder. */
export interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

/** Result of `encodeInto`. */
export interface EncodeIntoResult {
  read: number;
  written: number;
}

function encodeUtf8(str: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

function decodeUtf8(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] as number;
    let cp = 0xfffd;
    let len = 1;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b < 0xe0 && i + 1 < n && ((bytes[i + 1] as number) & 0xc0) === 0x80) {
      cp = ((b & 31) << 6) | ((bytes[i + 1] as number) & 63);
      len = 2;
    } else if (b >= 0xe0 && b < 0xf0 && i + 2 < n && ((bytes[i + 1] as number) & 0xc0) === 0x80 && ((bytes[i + 2] as number) & 0xc0) === 0x80) {
      cp = ((b & 15) << 12) | (((bytes[i + 1] as number) & 63) << 6) | ((bytes[i + 2] as number) & 63);
      len = 3;
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    } else if (
      b >= 0xf0 && b < 0xf5 && i + 3 < n &&
      ((bytes[i + 1] as number) & 0xc0) === 0x80 && ((bytes[i + 2] as number) & 0xc0) === 0x80 && ((bytes[i + 3] as number) & 0xc0) === 0x80
    ) {
      cp = ((b & 7) << 18) | (((bytes[i + 1] as number) & 63) << 12) | (((bytes[i + 2] as number) & 63) << 6) | ((bytes[i + 3] as number) & 63);
      len = 4;
      if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      out += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
    } else {
      out += String.fromCharCode(cp);
    }
    i += len;
  }
  return out;
}

/** UTF-8 encoder with `encode` and `encodeInto`. */
export class ShimTextEncoder {
  readonly encoding = 'utf-8';
  encode(input = ''): Uint8Array {
    return encodeUtf8(String(input));
  }
  encodeInto(input: string, dest: Uint8Array): EncodeIntoResult {
    const bytes = encodeUtf8(input);
    if (bytes.length > dest.length) {
      // The glue always reserves 3 bytes per UTF-16 unit, so this does not happen there.
      throw new RangeError('encodeInto: destination too small');
    }
    dest.set(bytes);
    return { read: input.length, written: bytes.length };
  }
}

/** UTF-8 decoder that accepts (and ignores) `fatal` / `ignoreBOM`. */
export class ShimTextDecoder {
  readonly encoding = 'utf-8';
  constructor(label = 'utf-8', _options?: TextDecoderOptions) {
    const l = String(label).toLowerCase();
    if (l !== 'utf-8' && l !== 'utf8') throw new RangeError(`TextDecoder shim supports utf-8 only, got ${label}`);
  }
  decode(input?: ArrayBufferView | ArrayBuffer): string {
    if (input === undefined) return '';
    const bytes = input instanceof Uint8Array
      ? input
      : ArrayBuffer.isView(input)
        ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
        : new Uint8Array(input);
    return decodeUtf8(bytes);
  }
}

type EncoderCtor = new () => { encode(s?: string): Uint8Array };
type DecoderCtor = new (label?: string, o?: TextDecoderOptions) => { decode(b?: ArrayBufferView | ArrayBuffer): string };

const g: { TextEncoder?: EncoderCtor; TextDecoder?: DecoderCtor } =
  typeof globalThis !== 'undefined' ? (globalThis as never) : {};

/** The runtime's encoder when it has one, else the shim. */
export const TextEncoder: EncoderCtor = typeof g.TextEncoder === 'function' ? g.TextEncoder : ShimTextEncoder;
/** The runtime's decoder when it has one, else the shim. */
export const TextDecoder: DecoderCtor = typeof g.TextDecoder === 'function' ? g.TextDecoder : ShimTextDecoder;
