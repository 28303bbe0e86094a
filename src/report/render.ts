import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One part of a report: a heading, a line of text, a table and/or a chart. */
export interface Section {
  heading: string;
  text?: string;
  table?: { headers: string[]; rows: (string | number)[][] };
  /** A Vega-Lite spec, rendered to inline SVG (the HTML needs no script and no network). */
  chart?: TopLevelSpec;
}

/** Numbers as people read them: integers as they are, small fractions to 3 significant digits, never as 9.81e-7. */
const cell = (v: string | number) => {
  if (typeof v !== 'number') return v;
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 0.1) return v.toFixed(2);
  return v.toFixed(Math.min(20, 2 - Math.floor(Math.log10(Math.abs(v))))).replace(/0+$/, '');
};

/** Dollars: cents when it is at least a dollar, else four decimals. */
export const usd = (v: number) => `$${v < 1 ? v.toFixed(4) : v.toFixed(2)}`;

export function markdown(title: string, sections: Section[]): string {
  const out = [`# ${title}`, ''];
  for (const s of sections) {
    out.push(`## ${s.heading}`, '');
    if (s.text) out.push(s.text, '');
    if (s.table) {
      out.push(`| ${s.table.headers.join(' | ')} |`, `| ${s.table.headers.map(() => '---').join(' | ')} |`);
      for (const r of s.table.rows) out.push(`| ${r.map((v) => cell(v).replace(/\|/g, '\\|')).join(' | ')} |`);
      out.push('');
    }
  }
  return out.join('\n');
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export async function svgChart(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export async function html(title: string, sections: Section[]): Promise<string> {
  const parts: string[] = [];
  for (const s of sections) {
    parts.push(`<section><h2>${escape(s.heading)}</h2>`);
    if (s.text) parts.push(`<p>${escape(s.text)}</p>`);
    if (s.chart) parts.push(`<figure class="chart">${await svgChart(s.chart)}</figure>`);
    if (s.table) {
      parts.push('<table><thead><tr>', ...s.table.headers.map((h) => `<th>${escape(h)}</th>`), '</tr></thead><tbody>');
      for (const r of s.table.rows) parts.push('<tr>', ...r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${escape(cell(v))}</td>`), '</tr>');
      parts.push('</tbody></table>');
    }
    parts.push('</section>');
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}td.num{text-align:right}</style>
</head><body><h1>${escape(title)}</h1>
${parts.join('\n')}
</body></html>
`;
}
