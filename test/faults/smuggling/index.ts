import { chunked } from "./chunked.ts";
import { contentLength } from "./content-length.ts";
import { forwarding } from "./forwarding.ts";
import { headerSyntax } from "./header-syntax.ts";
import { hostTarget } from "./host-target.ts";
import { limits } from "./limits.ts";
import { lineEndings } from "./line-endings.ts";
import { response } from "./response.ts";
import { teCl } from "./te-cl.ts";
import { transferEncoding } from "./transfer-encoding.ts";
import type { RequestVector, ResponseVector } from "./types.ts";

/** Request-side families, by file. */
export const REQUEST_FAMILIES: Record<string, RequestVector[]> = {
  "te-cl": teCl,
  "content-length": contentLength,
  "transfer-encoding": transferEncoding,
  "line-endings": lineEndings,
  chunked,
  "header-syntax": headerSyntax,
  "host-target": hostTarget,
  limits,
  forwarding,
};

/** Response-side vectors (the origin stub sends the bad bytes). */
export const RESPONSE_FAMILY: ResponseVector[] = response;
