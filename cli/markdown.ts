/**
 * Markdown to HTML for the HTML report: the markdown of notebook cells, through markdown-it
 * (CommonMark, GitHub tables and strikethrough, bare http(s) links) plus what notebooks need on
 * top: heading ids, task-list checkboxes, math (`$…$` inline, `$$…$$` display) typeset with KaTeX
 * as MathML when the report is written (no script, no font, nothing fetched; browsers draw MathML
 * natively) and pipes inside code spans of table cells.
 *
 * Safe by construction: raw HTML is off (`html: false`, so it shows as text), every piece of text
 * is HTML-escaped, and link/image URLs pass {@link safeUrl} (markdown-it's `validateLink`, and again
 * when each link or image is written): links keep only http(s), mailto, relative paths and
 * #anchors; images only inline data (data:image/png|jpeg|gif|webp, or an attachment resolved to
 * one), since the report fetches nothing. An image at an http(s) or relative URL is written as a
 * link to it, its alt text (or the URL) as the link's text; a link or image with any other URL is
 * written as its text; an autolink (`<javascript:…>`) stays as text. KaTeX runs untrusted (`trust:
 * false`: no `\href`, `\url`, `\includegraphics` or `\html…` commands) with a bound on macro
 * expansion, and shows an error in place of TeX it cannot read.
 */
import katex from 'katex';
import MarkdownIt from 'markdown-it';
import type { StateBlock, StateCore, StateInline } from 'markdown-it';

export interface MarkdownOptions {
  /**
   * Maps an image URL before the safety check, e.g. `attachment:plot.png` to a data: URL; return
   * undefined to leave it as is.
   */
  readonly resolveImage?: (url: string) => string | undefined;
  /**
   * Heading ids already given out, shared by the cells of one page so that ids stay unique across
   * them (default: a fresh map per call).
   */
  readonly headingIds?: Map<string, number>;
  /** When given, each heading (level, text, id) is appended to it: a table of contents. */
  readonly headings?: Heading[];
  /**
   * How math is written: `mathml` (default; drawn by the browser, no stylesheet needed) or `html`
   * (KaTeX's HTML, with MathML for screen readers: needs KaTeX's stylesheet and fonts on the page,
   * which the HTML report inlines).
   */
  readonly math?: 'mathml' | 'html';
}

/** A heading of the markdown, as {@link MarkdownOptions.headings} lists them. */
export interface Heading {
  readonly level: number;
  /** The heading's text, without markup. */
  readonly text: string;
  readonly id: string;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const SAFE_IMAGE_DATA = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$/i;

/**
 * The URL if it is safe to put in an `<a href>` (`link`) or an `<img src>` (`image`: inline image
 * data only, nothing that would be fetched), else undefined.
 */
export function safeUrl(url: string, kind: 'link' | 'image'): string | undefined {
  const u = url.trim().replace(/[\u0000-\u001f\u007f]/g, '');
  if (u === '') return undefined;
  if (kind === 'image') return SAFE_IMAGE_DATA.test(u) ? u : undefined;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(u);
  if (scheme === null) return u; // relative path, #anchor, ?query, //host
  const s = scheme[1]!.toLowerCase();
  if (s === 'http' || s === 'https') return u;
  if (s === 'mailto') return u;
  return undefined;
}

/** An image URL the report shows as a link instead (http(s), relative, #anchor), else undefined. */
function imageLinkUrl(url: string): string | undefined {
  const u = safeUrl(url, 'link');
  return u === undefined || /^mailto:/i.test(u) ? undefined : u;
}

/** Converts markdown to an HTML fragment. */
export function markdownToHtml(markdown: string, options: MarkdownOptions = {}): string {
  const src = escapeTablePipesInCode(markdown.replace(/\r\n?/g, '\n').replace(/\t/g, '    '));
  const env: Env = { headingIds: options.headingIds ?? new Map<string, number>(), ...(options.headings ? { headings: options.headings } : {}) };
  return converter(options).render(src, env);
}

/** Renders inline markdown: code, links, images, emphasis, strikethrough, breaks; all text escaped. */
export function renderInline(text: string, options: MarkdownOptions = {}): string {
  return converter(options).renderInline(text, { headingIds: new Map<string, number>() } satisfies Env);
}

// ---- the converter --------------------------------------------------------------------------------

/** Per-render state: heading ids seen so far, whether the open link was dropped. */
interface Env {
  readonly headingIds: Map<string, number>;
  readonly headings?: Heading[];
  droppedLink?: boolean;
}

let plain: MarkdownIt | undefined;

/** A converter for `options` (the one without an image resolver is kept). */
function converter(options: MarkdownOptions): MarkdownIt {
  if (options.resolveImage === undefined && options.math !== 'html') return (plain ??= createConverter(options));
  return createConverter(options);
}

function createConverter(options: MarkdownOptions): MarkdownIt {
  const imageUrl = (url: string): string | undefined => safeUrl(options.resolveImage?.(url) ?? url, 'image');
  const md = new MarkdownIt('default', { html: false, linkify: true, typographer: false, breaks: false });
  // Only our schemes, and URLs as written (markdown-it would percent-encode them).
  md.validateLink = (url) => safeUrl(url, 'link') !== undefined || imageUrl(url) !== undefined;
  md.normalizeLink = (url) => url;
  // Bare links: http(s) only, no `www.` or e-mail guessing.
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
  for (const schema of ['ftp:', 'mailto:', '//']) md.linkify.add(schema, null);

  md.inline.ruler.after('image', 'unsafe_link', unsafeLink);
  md.block.ruler.before('lheading', 'math_block', mathBlock);
  md.inline.ruler.before('escape', 'math_inline', mathInline);
  md.core.ruler.push('heading_ids', headingIds);
  md.core.ruler.push('task_lists', taskLists);
  md.core.ruler.push('compact_tables', compactTables);

  const rules = md.renderer.rules;
  const renderToken = md.renderer.renderToken.bind(md.renderer);
  rules.link_open = (tokens, idx, opts, env: Env) => {
    const token = tokens[idx]!;
    const href = safeUrl(token.attrGet('href') ?? '', 'link');
    env.droppedLink = href === undefined;
    if (href === undefined) return '';
    token.attrSet('href', href);
    token.attrSet('rel', 'noopener noreferrer');
    return renderToken(tokens, idx, opts);
  };
  rules.link_close = (tokens, idx, opts, env: Env) => {
    if (env.droppedLink === true) {
      env.droppedLink = false;
      return '';
    }
    return renderToken(tokens, idx, opts);
  };
  rules.image = (tokens, idx, _opts, env: Env) => {
    const token = tokens[idx]!;
    const alt = md.renderer.renderInlineAsText(token.children ?? [], md.options, env);
    const raw = token.attrGet('src') ?? '';
    const src = imageUrl(raw);
    if (src === undefined) {
      // Not fetched: a remote (or local) image is a link the reader can follow.
      const href = imageLinkUrl(raw);
      return href === undefined ? escapeHtml(alt) : `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(alt === '' ? href : alt)}</a>`;
    }
    const title = token.attrGet('title');
    return `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}"${title ? ` title="${escapeHtml(title)}"` : ''}>`;
  };
  rules.s_open = () => '<del>';
  rules.s_close = () => '</del>';
  // `</ul></li>`: a nested list closes on the item's line.
  for (const type of ['bullet_list_close', 'ordered_list_close'] as const) {
    rules[type] = (tokens, idx, opts) => {
      const html = renderToken(tokens, idx, opts);
      return tokens[idx + 1]?.type === 'list_item_close' ? html.trimEnd() : html;
    };
  }
  rules.task_checkbox = (tokens, idx) => `<input type="checkbox" disabled${tokens[idx]!.meta === true ? ' checked' : ''}> `;
  const output = options.math ?? 'mathml';
  rules.math_block = (tokens, idx) => `<div class="math">${typeset(tokens[idx]!.content, true, output)}</div>\n`;
  rules.math_inline = (tokens, idx) => typeset(tokens[idx]!.content, false, output);
  return md;
}

/**
 * `[text](url)` and `![alt](url)` whose URL failed `validateLink` (markdown-it's own rules then
 * leave the source as text): written as the link's text, or the image's alt text.
 */
function unsafeLink(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const max = state.posMax;
  const image = src.charCodeAt(state.pos) === 0x21; /* ! */
  const open = image ? state.pos + 1 : state.pos;
  if (src.charCodeAt(open) !== 0x5b /* [ */) return false;
  const labelEnd = state.md.helpers.parseLinkLabel(state, open, !image);
  if (labelEnd < 0 || src.charCodeAt(labelEnd + 1) !== 0x28 /* ( */) return false;
  const skipSpace = (p: number): number => {
    while (p < max && (src.charCodeAt(p) === 0x20 || src.charCodeAt(p) === 0x0a)) p++;
    return p;
  };
  let pos = skipSpace(labelEnd + 2);
  const destination = state.md.helpers.parseLinkDestination(src, pos, max);
  if (!destination.ok) return false;
  pos = skipSpace(destination.pos);
  if (pos < max && pos !== destination.pos) {
    const title = state.md.helpers.parseLinkTitle(src, pos, max);
    if (title.ok) pos = skipSpace(title.pos);
  }
  if (src.charCodeAt(pos) !== 0x29 /* ) */) return false;
  if (!silent) {
    if (image) {
      const text = state.push('text', '', 0);
      text.content = src.slice(open + 1, labelEnd).replace(/[*_`~]/g, '');
    } else {
      const oldPos = state.pos;
      const oldMax = state.posMax;
      state.pos = open + 1;
      state.posMax = labelEnd;
      state.md.inline.tokenize(state);
      state.pos = oldPos;
      state.posMax = oldMax;
    }
  }
  state.pos = pos + 1;
  return true;
}

/**
 * TeX typeset by KaTeX: as MathML (`mathml`, the TeX kept in an annotation; drawn by the browser
 * with no script or font), or as KaTeX's HTML with MathML beside it (`html`; needs KaTeX's
 * stylesheet). Untrusted: no command that links, loads or writes HTML; macro expansion bounded;
 * what KaTeX cannot parse is shown as the TeX, escaped, in an error span.
 *
 * @example
 * typeset('\\sum_i x_i', true); // '<span class="katex"><math … display="block">…'
 */
export function typeset(tex: string, display: boolean, output: 'mathml' | 'html' = 'mathml'): string {
  try {
    return katex.renderToString(tex, { displayMode: display, output: output === 'html' ? 'htmlAndMathml' : 'mathml', throwOnError: false, trust: false, strict: 'ignore', maxExpand: 1000, maxSize: 50 });
  } catch (e) {
    // throwOnError: false covers parse errors; anything else (e.g. too many expansions) lands here.
    return `<span class="katex-error" title="${escapeHtml(e instanceof Error ? e.message : String(e))}">${escapeHtml(display ? `$$${tex}$$` : `$${tex}$`)}</span>`;
  }
}

/**
 * `$…$` inline math, as pandoc reads it: the opening `$` not followed by a space, the closing one
 * not preceded by a space nor followed by a digit (so `$5 and $10` stays text); `\$` is a dollar.
 */
function mathInline(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  if (src.charCodeAt(start) !== 0x24 /* $ */ || src.charCodeAt(start + 1) === 0x24) return false;
  const first = src.charAt(start + 1);
  if (first === '' || /\s/.test(first)) return false;
  let end = start + 1;
  for (;;) {
    end = src.indexOf('$', end);
    if (end < 0 || end >= state.posMax) return false;
    if (src.charCodeAt(end - 1) === 0x5c /* \ */) {
      end++;
      continue;
    }
    if (!/\s/.test(src.charAt(end - 1)) && !/[0-9]/.test(src.charAt(end + 1))) break;
    end++;
  }
  if (!silent) {
    const token = state.push('math_inline', 'math', 0);
    token.content = src.slice(start + 1, end);
    token.markup = '$';
  }
  state.pos = end + 1;
  return true;
}

/** `$$ … $$` display math: typeset as a block (see {@link typeset}). */
function mathBlock(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  const lineText = (line: number): string => state.src.slice(state.bMarks[line]! + state.tShift[line]!, state.eMarks[line]);
  if (state.sCount[startLine]! - state.blkIndent >= 4) return false;
  const first = lineText(startLine).trim();
  if (!first.startsWith('$$')) return false;
  if (silent) return true;
  const body = [first.slice(2)];
  let closed = body[0]!.endsWith('$$');
  let line = startLine + 1;
  while (!closed && line < endLine) {
    const text = state.src.slice(state.bMarks[line], state.eMarks[line]);
    body.push(text);
    closed = text.trimEnd().endsWith('$$');
    line++;
  }
  const token = state.push('math_block', 'div', 0);
  token.block = true;
  token.content = body.join('\n').replace(/\$\$\s*$/, '');
  token.map = [startLine, line];
  state.line = line;
  return true;
}

/** Heading ids from their text, unique within one render (`same`, `same-1`). */
function headingIds(state: StateCore): void {
  const seen = (state.env as Env).headingIds;
  state.tokens.forEach((token, i) => {
    if (token.type !== 'heading_open') return;
    const text = state.tokens[i + 1]?.content ?? '';
    const words = text.replace(/[`*_~[\]()!#\\]/g, '').trim().toLowerCase();
    let slug = words.replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s+/g, '-') || 'section';
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    if (count > 0) slug = `${slug}-${count}`;
    token.attrSet('id', slug);
    const env = state.env as Env;
    if (env.headings) {
      const inline = state.tokens[i + 1]?.children ?? [];
      const plainText = inline.map((t) => (t.type === 'text' || t.type === 'code_inline' ? t.content : t.type === 'math_inline' ? `$${t.content}$` : '')).join('').trim();
      env.headings.push({ level: Number(token.tag.slice(1)), text: plainText, id: slug });
    }
  });
}

/** `- [x] done` in a tight list: a disabled checkbox before the item's text. */
function taskLists(state: StateCore): void {
  const tokens = state.tokens;
  tokens.forEach((token, i) => {
    if (token.type !== 'inline' || tokens[i - 1]?.type !== 'paragraph_open' || tokens[i - 1]?.hidden !== true || tokens[i - 2]?.type !== 'list_item_open') return;
    const first = token.children?.[0];
    const m = first?.type === 'text' ? /^\[([ xX])\] /.exec(first.content) : null;
    if (first === undefined || m === null) return;
    first.content = first.content.slice(4);
    const box = new state.Token('task_checkbox', 'input', 0);
    box.meta = m[1] !== ' ';
    token.children!.unshift(box);
  });
}

/** Table rows on one line each: `<tr><td>…</td><td>…</td></tr>`. */
function compactTables(state: StateCore): void {
  for (const token of state.tokens) {
    if (token.type === 'tr_open' || token.type === 'th_close' || token.type === 'td_close') token.block = false;
  }
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const TABLE_DELIM = /^ {0,3}\|?[ ]*:?-+:?[ ]*(\|[ ]*:?-+:?[ ]*)*\|?[ ]*$/;

/**
 * Escapes the pipes inside code spans of table rows (`| \`a|b\` |`), which GitHub's table syntax
 * would split into cells, so that the cell shows the code whole.
 */
function escapeTablePipesInCode(src: string): string {
  const lines = src.split('\n');
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const f = FENCE.exec(line);
    if (fence !== undefined) {
      if (f !== null && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = undefined;
      continue;
    }
    if (f !== null) {
      fence = f[1]!;
      continue;
    }
    if (!line.includes('|') || i + 1 >= lines.length || !TABLE_DELIM.test(lines[i + 1]!) || !lines[i + 1]!.includes('-')) continue;
    lines[i] = escapePipesInCode(line);
    i += 2;
    while (i < lines.length && lines[i]!.trim() !== '' && lines[i]!.includes('|')) {
      lines[i] = escapePipesInCode(lines[i]!);
      i++;
    }
    i--;
  }
  return lines.join('\n');
}

function escapePipesInCode(row: string): string {
  let inCode = false;
  let out = '';
  for (let k = 0; k < row.length; k++) {
    const c = row[k]!;
    if (c === '\\' && k + 1 < row.length) {
      out += c + row[k + 1]!;
      k++;
      continue;
    }
    if (c === '`') inCode = !inCode;
    out += inCode && c === '|' ? '\\|' : c;
  }
  return out;
}
