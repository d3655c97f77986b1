import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

export type Figures = Record<string, number>;

/** Writes test/bench/results/<name>.json in the shape ARCHITECTURE §11 fixes, and prints it. */
export function writeResult(bench: string, figures: Figures): string {
  const result = {
    bench,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    figures,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${bench}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${bench}: ${JSON.stringify(figures)}\n  -> ${path}\n`);
  return path;
}

/** Percentile of sorted samples (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
