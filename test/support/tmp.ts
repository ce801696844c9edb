// Temporary folders for tests, removed after the last test of the file that made them. The
// afterAll below is registered while that test file is collected (each file evaluates its own copy
// of this module), so a folder made in any test or hook of the file is gone when the file ends.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh folder under the system's temp dir named `<prefix>XXXXXX`, removed after the file's last test. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
