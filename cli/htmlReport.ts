/**
 * A notebook as one standalone HTML file, for people without VS Code: markdown rendered, code with
 * its outputs, and TransferLab charts drawn in the page by the same render code as the VS Code
 * renderers (the report bundle, dist/renderers/report.js, inlined). Images are inline data URLs;
 * nothing is fetched, so the file opens offline. Without JavaScript each chart shows its text or
 * PNG fallback.
 *
 * Nothing from the notebook runs or fetches: the page carries a Content-Security-Policy
 * ({@link reportCsp}) that lets only its own script run (by hash), refuses every connection, frame,
 * form and remote image, font or stylesheet; HTML outputs sit in sandboxed srcdoc iframes without
 * scripts, which inherit that policy; charts are drawn with a loader that loads nothing.
 */
import { createHash } from 'node:crypto';
import { stripVTControlCharacters } from 'node:util';
import { Mime, TRANSFERLAB_MIME_TYPES } from '../kernel/protocol/mime';
import { isJsonMime, JsonNumber, type JsonValue, type TsnbCell, type TsnbMimeBundle, type TsnbNotebook, type TsnbOutput } from '../kernel/protocol/tsnb';
import { escapeHtml, markdownToHtml, type Heading } from './markdown';

export interface HtmlReportOptions {
  /** The page title; default: the first heading of the notebook. */
  readonly title?: string;
  /** Where the notebook came from, shown under the title. */
  readonly source?: string;
  /** The report bundle's JavaScript (ES module) that draws the charts. */
  readonly script: string;
  /** Show code cells' source (default true); false: only their outputs (`--no-code`). */
  readonly code?: boolean;
  /** The run that produced the outputs (`transferlab run --html`): shown at the top. */
  readonly run?: RunRecord;
  /**
   * KaTeX's stylesheet with its fonts inlined (dist/katex.css): carried by a report that has math,
   * which is then drawn as KaTeX draws it in VS Code; without it, math is MathML in the browser's
   * own math font.
   */
  readonly mathCss?: string;
}

/** The run that produced a notebook's outputs, as `transferlab run` knows it. */
export interface RunRecord {
  /** When the run started (ISO 8601, UTC). */
  readonly date: string;
  /** Seconds from the kernel's start to the last cell's end. */
  readonly seconds: number;
  /** The compute backend, as the kernel reported it (e.g. `wasm · 2 threads`). */
  readonly backend?: string;
  /** Parameters set on the command line (`--param name=value`), by name. */
  readonly parameters?: { readonly [name: string]: JsonValue };
  /** Code cells run and to run (fewer run when one failed). */
  readonly executed?: number;
  readonly total?: number;
}

/** A duration for people: `42.1 s`, `3 min 12 s`, `1 h 4 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The run record as the lines at the top of the report (HTML, escaped). */
function runLines(r: RunRecord): string[] {
  const date = Number.isNaN(Date.parse(r.date)) ? r.date : new Date(r.date).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  const cells = r.executed !== undefined && r.total !== undefined ? `, ${r.executed} of ${r.total} code cells` : '';
  const lines = [`<dt>Run</dt><dd>${escapeHtml(date)}</dd>`, `<dt>Duration</dt><dd>${escapeHtml(formatDuration(r.seconds) + cells)}</dd>`];
  if (r.backend !== undefined) lines.push(`<dt>Backend</dt><dd>${escapeHtml(r.backend)}</dd>`);
  const params = Object.entries(r.parameters ?? {});
  lines.push(
    `<dt>Parameters</dt><dd>${params.length === 0 ? 'as in the notebook' : params.map(([k, v]) => `<code>${escapeHtml(k)} = ${escapeHtml(JSON.stringify(v))}</code>`).join(', ')}</dd>`,
  );
  return lines;
}

/** Id of the findings summary's output and of the table of contents in the report. */
export const FINDINGS_ID = 'tl-findings';
export const CONTENTS_ID = 'tl-contents';

/**
 * Whether an output is a findings summary (`tl.Findings`, the flagship's table of claims and
 * verdicts): its JSON has a title and rows with a claim and a verdict each.
 */
export function findingsOf(bundle: TsnbMimeBundle): { title: string; holds: number; fails: number; unresolved: number } | undefined {
  const data = bundle[Mime.json];
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { title, rows } = data as Record<string, JsonValue>;
  if (typeof title !== 'string' || !Array.isArray(rows) || rows.length === 0) return undefined;
  const verdicts = rows.map((r) => (typeof r === 'object' && r !== null && !Array.isArray(r) && !(r instanceof JsonNumber) && typeof r['claim'] === 'string' ? r['verdict'] : undefined));
  if (!verdicts.every((v) => v === 'holds' || v === 'fails' || v === 'unresolved')) return undefined;
  const count = (v: string) => verdicts.filter((x) => x === v).length;
  return { title, holds: count('holds'), fails: count('fails'), unresolved: count('unresolved') };
}

/** MIME types drawn by the report script (placeholders with a JSON payload). */
export const CHART_MIME_TYPES: readonly string[] = [...TRANSFERLAB_MIME_TYPES, Mime.vegaLite];

const IMAGE_MIME_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** The richest representation the report can show, in order of preference. */
const PREFERENCE = [...CHART_MIME_TYPES, Mime.svg, ...IMAGE_MIME_TYPES, Mime.html, Mime.markdown, Mime.json, Mime.plain];

/**
 * Makes JavaScript safe to inline in a `<script>` element: `<` of `</script`, `<script` and `<!--`
 * becomes `\x3C`, which means the same inside strings, templates, regular expressions and comments
 * (the only places those sequences can occur in a module).
 */
export function inlineScript(js: string): string {
  return js.replace(/<(?=\/script|script|!--)/gi, '\\x3C');
}

/** JSON for a `<script type="application/json">` element (`<` escaped so it cannot close it). */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function text(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

/** The first markdown heading's text, if any. */
export function notebookTitle(nb: TsnbNotebook): string | undefined {
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'markdown') continue;
    const m = /^ {0,3}#{1,6}[ ]+(.+?)[ #]*$/m.exec(cell.source);
    if (m !== null) return m[1]!.replace(/[*_`]/g, '').trim();
  }
  return undefined;
}

function pick(bundle: TsnbMimeBundle): string | undefined {
  return PREFERENCE.find((m) => m in bundle) ?? Object.keys(bundle).find((m) => m.startsWith('text/'));
}

function fallback(bundle: TsnbMimeBundle): string {
  const png = bundle[Mime.png];
  if (typeof png === 'string') return `<img src="data:image/png;base64,${escapeHtml(png)}" alt="">`;
  return `<pre class="tl-text">${escapeHtml(stripVTControlCharacters(text(bundle[Mime.plain])))}</pre>`;
}

/** One MIME bundle as HTML. */
export function bundleToHtml(bundle: TsnbMimeBundle): string {
  const mime = pick(bundle);
  if (mime === undefined) return '';
  const data = bundle[mime];
  if (CHART_MIME_TYPES.includes(mime)) {
    return `<div class="tl-chart" data-mime="${escapeHtml(mime)}"><script type="application/json">${inlineJson(data)}</script><div class="tl-fallback">${fallback(bundle)}</div></div>`;
  }
  if (mime === Mime.svg) {
    const b64 = Buffer.from(text(data), 'utf8').toString('base64');
    return `<img class="tl-image" src="data:image/svg+xml;base64,${b64}" alt="">`;
  }
  if (IMAGE_MIME_TYPES.includes(mime)) {
    return `<img class="tl-image" src="data:${mime};base64,${escapeHtml(text(data).replace(/\s+/g, ''))}" alt="">`;
  }
  if (mime === Mime.html) {
    // Untrusted HTML in a sandbox: no scripts, no forms, no navigation of the report.
    // The frame follows the page's colour scheme instead of painting a white canvas in dark mode.
    // A srcdoc frame inherits the page's Content-Security-Policy: nothing in it fetches either.
    const doc = `<meta name="color-scheme" content="light dark">${text(data)}`;
    return `<iframe class="tl-html" sandbox="allow-same-origin" srcdoc="${escapeHtml(doc)}"></iframe>`;
  }
  if (mime === Mime.markdown) return `<div class="tl-markdown">${markdownToHtml(text(data))}</div>`;
  if (isJsonMime(mime)) return `<pre class="tl-text">${escapeHtml(JSON.stringify(data, null, 2))}</pre>`;
  return `<pre class="tl-text">${escapeHtml(stripVTControlCharacters(text(data)))}</pre>`;
}

/** What the page collects while cells are written: headings for the contents, the findings summary. */
interface PageState {
  readonly headingIds: Map<string, number>;
  readonly headings: Heading[];
  readonly math: 'mathml' | 'html';
  findings?: ReturnType<typeof findingsOf>;
}

function outputToHtml(o: TsnbOutput, page: PageState): string {
  if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && page.findings === undefined) {
    const findings = findingsOf(o.data);
    if (findings !== undefined) {
      page.findings = findings;
      return `<div class="tl-findings" id="${FINDINGS_ID}">${bundleToHtml(o.data)}</div>`;
    }
  }
  switch (o.output_type) {
    case 'stream':
      return `<pre class="tl-stream tl-${o.name === 'stderr' ? 'stderr' : 'stdout'}">${escapeHtml(stripVTControlCharacters(o.text))}</pre>`;
    case 'error': {
      const body = o.traceback.length > 0 ? o.traceback.join('\n') : `${o.ename}: ${o.evalue}`;
      return `<pre class="tl-error-output">${escapeHtml(stripVTControlCharacters(body))}</pre>`;
    }
    case 'display_data':
    case 'execute_result':
      return bundleToHtml(o.data);
    default: {
      const never: never = o;
      return never;
    }
  }
}

function attachmentUrl(cell: TsnbCell, url: string): string | undefined {
  if (!url.startsWith('attachment:') || cell.cell_type === 'code' || cell.attachments === undefined) return undefined;
  const bundle = cell.attachments[decodeURIComponent(url.slice('attachment:'.length))];
  if (bundle === undefined) return undefined;
  const mime = IMAGE_MIME_TYPES.find((m) => m in bundle);
  return mime === undefined ? undefined : `data:${mime};base64,${text(bundle[mime]).replace(/\s+/g, '')}`;
}

function cellToHtml(cell: TsnbCell, language: string, page: PageState, code: boolean): string {
  switch (cell.cell_type) {
    case 'markdown':
      return `<section class="tl-cell tl-markdown">\n${markdownToHtml(cell.source, { resolveImage: (u) => attachmentUrl(cell, u), headingIds: page.headingIds, headings: page.headings, math: page.math })}</section>`;
    case 'raw':
      return `<section class="tl-cell tl-raw"><pre>${escapeHtml(cell.source)}</pre></section>`;
    case 'code': {
      const prompt = cell.execution_count === null ? '[ ]' : `[${cell.execution_count}]`;
      const outputs = cell.outputs.map((o) => outputToHtml(o, page)).filter((h) => h !== '');
      // Without code, a cell with no output leaves nothing on the page.
      if (!code && outputs.length === 0) return '';
      return [
        `<section class="tl-cell tl-code${code ? '' : ' tl-no-code'}">`,
        `<div class="tl-prompt">${code ? prompt : ''}</div>`,
        '<div class="tl-body">',
        code ? `<pre class="tl-source"><code class="language-${escapeHtml(language)}">${escapeHtml(cell.source)}</code></pre>` : '',
        outputs.length > 0 ? `<div class="tl-outputs">\n${outputs.join('\n')}\n</div>` : '',
        '</div>',
        '</section>',
      ]
        .filter((l) => l !== '')
        .join('\n');
    }
    default: {
      const never: never = cell;
      return never;
    }
  }
}

const CSS = `
:root { color-scheme: light dark;
  --vscode-editor-foreground: #1f2328; --vscode-editor-background: #ffffff; --vscode-descriptionForeground: #636c76;
  --vscode-panel-border: #d1d9e0; --vscode-errorForeground: #b42318; --vscode-font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --vscode-font-size: 13px; --vscode-editor-font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  --tl-code-background: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root {
  --vscode-editor-foreground: #d1d7e0; --vscode-editor-background: #0d1117; --vscode-descriptionForeground: #9198a1;
  --vscode-panel-border: #3d444d; --vscode-errorForeground: #f47067; --tl-code-background: #151b23; } }
body { margin: 0; background: var(--vscode-editor-background); color: var(--vscode-editor-foreground);
  font-family: var(--vscode-font-family); font-size: 15px; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 24px 64px; }
header.tl-header { border-bottom: 1px solid var(--vscode-panel-border); margin-bottom: 16px; }
header.tl-header p { color: var(--vscode-descriptionForeground); margin: 0 0 12px; }
.tl-cell { margin: 12px 0; }
.tl-code { display: grid; grid-template-columns: 56px minmax(0, 1fr); gap: 8px; }
.tl-prompt { font-family: var(--vscode-editor-font-family); color: var(--vscode-descriptionForeground); font-size: 12px; padding-top: 10px; text-align: right; }
pre { font-family: var(--vscode-editor-font-family); font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.tl-source { background: var(--tl-code-background); border: 1px solid var(--vscode-panel-border); border-radius: 6px; padding: 8px 12px; }
.tl-outputs { padding: 8px 4px 0; display: flex; flex-direction: column; gap: 8px; overflow-x: auto; }
.tl-stderr { background: rgba(255, 170, 0, 0.10); }
.tl-error-output { color: var(--vscode-errorForeground); border-left: 3px solid var(--vscode-errorForeground); padding-left: 8px; }
.tl-image { max-width: 100%; align-self: flex-start; }
.tl-html { width: 100%; min-height: 40px; border: 0; background: transparent; }
.tl-chart.tl-drawn > .tl-fallback { display: none; }
.tl-markdown code { font-family: var(--vscode-editor-font-family); background: var(--tl-code-background); padding: 0 4px; border-radius: 4px; font-size: 0.9em; }
.tl-markdown pre { background: var(--tl-code-background); padding: 8px 12px; border-radius: 6px; }
.tl-markdown pre code { background: none; padding: 0; }
.tl-markdown table { border-collapse: collapse; } .tl-markdown th, .tl-markdown td { border: 1px solid var(--vscode-panel-border); padding: 4px 8px; }
.tl-markdown blockquote { margin: 0; padding-left: 12px; border-left: 3px solid var(--vscode-panel-border); color: var(--vscode-descriptionForeground); }
.tl-markdown img { max-width: 100%; }
a { color: #0969da; } @media (prefers-color-scheme: dark) { a { color: #4493f8; } }
.tl-run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; font-size: 14px; }
.tl-run dt { color: var(--vscode-descriptionForeground); } .tl-run dd { margin: 0; }
.tl-summary { margin: 0 0 12px; padding: 8px 12px; border-left: 3px solid #0969da; background: var(--tl-code-background); }
nav.tl-contents { margin: 0 0 16px; font-size: 14px; } nav.tl-contents ol { margin: 4px 0; padding-left: 20px; }
nav.tl-contents li.tl-level-3 { margin-left: 16px; font-size: 13px; }
.tl-no-code { grid-template-columns: minmax(0, 1fr); } .tl-no-code .tl-prompt { display: none; }
.tl-findings { scroll-margin-top: 12px; }
.math { overflow-x: auto; } math[display="block"] { margin: 8px 0; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Serif", "Times New Roman", serif; font-size: 1.1em; }
.katex-error { font-family: var(--vscode-editor-font-family); }
`;

/** The table of contents: headings of levels 1 to 3, linked (none for fewer than two headings). */
function contentsHtml(headings: readonly Heading[]): string {
  const shown = headings.filter((h) => h.level <= 3);
  if (shown.length < 2) return '';
  const top = Math.min(...shown.map((h) => h.level));
  const items = shown.map((h) => `<li class="tl-level-${h.level - top + 1}"><a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a></li>`);
  return `<nav class="tl-contents" id="${CONTENTS_ID}" aria-label="Contents"><strong>Contents</strong><ol>${items.join('')}</ol></nav>`;
}

/**
 * The report's Content-Security-Policy: scripts only those whose text hashes to one of
 * `scriptHashes` (`sha256-…`, see {@link scriptHash}); no connection, frame (its srcdoc frames
 * excepted), form, plugin, worker or `<base>`; images and fonts only from data: and blob: URLs;
 * styles only inline (the page's own and the renderers'; they can load nothing either).
 */
export function reportCsp(scriptHashes: readonly string[]): string {
  return [
    "default-src 'none'",
    `script-src ${scriptHashes.map((h) => `'${h}'`).join(' ')}`,
    "style-src 'unsafe-inline'",
    'img-src data: blob:',
    'font-src data:',
    "connect-src 'none'",
    "frame-src 'none'",
    "child-src 'none'",
    "worker-src 'none'",
    "object-src 'none'",
    "media-src 'none'",
    "manifest-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The CSP source of an inline script's text: `sha256-` and its base64 SHA-256. */
export function scriptHash(scriptText: string): string {
  return `sha256-${createHash('sha256').update(scriptText, 'utf8').digest('base64')}`;
}

/**
 * The notebook as a standalone HTML page (deterministic: the same notebook gives the same bytes).
 * @example
 * const html = notebookToHtml(parseTsnb(text), { script: readFileSync('dist/renderers/report.js', 'utf8') });
 */
export function notebookToHtml(nb: TsnbNotebook, options: HtmlReportOptions): string {
  const fromNotebook = options.title === undefined ? notebookTitle(nb) : undefined;
  const title = options.title ?? fromNotebook ?? 'TransferLab notebook';
  const kernel = nb.metadata.kernel;
  const language = kernel?.language ?? 'typescript';
  const meta = [options.source, kernel?.display_name ?? kernel?.name, nb.metadata.backend !== undefined ? `backend ${nb.metadata.backend}` : undefined]
    .filter((s): s is string => s !== undefined && s !== '')
    .map(escapeHtml)
    .join(' · ');
  const script = `\n${inlineScript(options.script)}\n`;
  // Cells first: they give the headings (contents) and the findings summary for the header.
  const page: PageState = { headingIds: new Map([[FINDINGS_ID, 1], [CONTENTS_ID, 1]]), headings: [], math: options.mathCss !== undefined ? 'html' : 'mathml' };
  const cells = nb.cells.map((c) => cellToHtml(c, language, page, options.code ?? true)).filter((h) => h !== '');
  const run = options.run;
  const f = page.findings;
  const header = [
    // A title taken from the notebook's own first heading is not repeated above it.
    fromNotebook === undefined ? `<h1>${escapeHtml(title)}</h1>` : '',
    meta !== '' ? `<p>${meta}</p>` : '',
    run !== undefined ? `<dl class="tl-run">${runLines(run).join('')}</dl>` : '',
    f !== undefined
      ? `<p class="tl-summary"><a href="#${FINDINGS_ID}">${escapeHtml(f.title)}</a>: ${f.holds} of ${f.holds + f.fails + f.unresolved} claims hold, ${f.fails} fail${f.fails === 1 ? 's' : ''}, ${f.unresolved} not resolved</p>`
      : '',
    contentsHtml(page.headings),
  ].join('');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(reportCsp([scriptHash(script)]))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="TransferLab">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    // KaTeX's stylesheet only where there is math (its fonts are a few hundred kB).
    options.mathCss !== undefined && cells.some((c) => c.includes('class="katex"')) ? `<style>${options.mathCss.replace(/<\/style/gi, '<\\/style')}</style>` : '',
    '</head>',
    '<body>',
    '<main>',
    `<header class="tl-header">${header}</header>`,
    ...cells,
    '</main>',
    `<script type="module">${script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
