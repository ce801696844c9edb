// node:_http_common's HTTPParser (the C++ llhttp binding node:http runs on), as node/h1.ts uses it.
// Node ships no types for it; the shape is Node's lib/_http_common.js and src/node_http_parser.cc.
declare module "node:_http_common" {
  /** Method names by llhttp's method index (kOnHeadersComplete's `method`). */
  export const methods: string[];
  export class HTTPParser {
    static readonly REQUEST: number;
    static readonly RESPONSE: number;
    static readonly kOnMessageBegin: number;
    static readonly kOnHeaders: number;
    static readonly kOnHeadersComplete: number;
    static readonly kOnBody: number;
    static readonly kOnMessageComplete: number;
    static readonly kOnExecute: number;
    initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
    /** Reads straight from a stream handle in C++ (no JS 'data' events). */
    consume(handle: object): void;
    /** Gives the stream handle back to JS reads (an upgrade's tunnel). */
    unconsume(): void;
    /** Parses bytes handed over from JS: the count parsed, or the error (callbacks run meanwhile). */
    execute(data: Buffer): number | Error;
    /** The buffer being parsed (an error's raw packet; an upgrade's trailing bytes). */
    getCurrentBuffer(): Buffer;
    /** Async hooks' destroy (a parser kept for reuse). */
    free(): void;
    /** Deletes the C++ parser (the garbage collector does not). */
    close(): void;
    /** Out of node:http's connections list (a no-op without one). */
    remove(): void;
    /** The input ended (EOF): completes a body delimited by the close, or returns an error. */
    finish(): Error | undefined;
    /** a callback, or null: llhttp calls only functions (an own non-function is found at once, a missing index is looked up the prototype chain) */
    [callback: number]: ((...args: never[]) => unknown) | null;
  }
}
