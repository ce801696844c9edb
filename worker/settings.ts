import type { Config } from "../core/config/schema.ts";

/** Edge-only settings, from the config's `edge` block. */
export type EdgeSettings = Config["edge"];
