import fs from 'node:fs';

/** Replace (or add) one `## title` section of BENCHMARKS.md, keeping the others. */
export function writeBenchmarkSection(file: string, title: string, body: string): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nEvery table compares imgtag with a baseline measured in the same invocation; machines are shared and noisy, so read the ratios.\n';
  const heading = `## ${title}`;
  const sections = text.split(/\n(?=## )/);
  const section = `${heading}\n\n${body}\n`;
  const i = sections.findIndex((s) => s.startsWith(heading));
  if (i >= 0) sections[i] = section;
  else sections.push(section);
  fs.writeFileSync(file, sections.join('\n').replace(/\n{3,}/g, '\n\n'));
}
