import type { ModelSpec } from './spec.js';

/** One label per line; "synset" lines are "n01440764 tench, Tinca tinca" and keep the first name. */
export function parseLabels(text: string, format: NonNullable<ModelSpec['labels']>['format']): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (format === 'lines') return lines;
  return lines.map((line) => {
    const m = /^\S+\s+([^,]+)/.exec(line);
    return m ? m[1]!.trim() : line.trim();
  });
}
