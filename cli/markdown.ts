/**
 * A small, safe markdown-to-HTML converter for the HTML report: the markdown of notebook cells
 * (CommonMark's common blocks and inlines, GitHub tables, strikethrough and bare links).
 *
 * Safe by construction: every piece of text is HTML-escaped, raw HTML in the markdown is shown as
 * text, and link/image URLs are kept only for http(s), mailto, relative paths, #anchors and inline
 * images (data:image/png|jpeg|gif|webp): `javascript:` and friends become plain text.
 */

export interface MarkdownOptions {
  /**
   * Maps an image URL before the safety check, e.g. `attachment:plot.png` to a data: URL; return
   * undefined to leave it as is.
   */
  readonly resolveImage?: (url: string) => string | undefined;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const SAFE_IMAGE_DATA = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$/i;

/** The URL if it is safe to put in href/src, else undefined. */
export function safeUrl(url: string, kind: 'link' | 'image'): string | undefined {
  const u = url.trim().replace(/[\u0000-\u001f\u007f]/g, '');
  if (u === '') return undefined;
  if (kind === 'image' && SAFE_IMAGE_DATA.test(u)) return u;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(u);
  if (scheme === null) return u; // relative path, #anchor, ?query, //host
  const s = scheme[1]!.toLowerCase();
  if (s === 'http' || s === 'https') return u;
  if (s === 'mailto' && kind === 'link') return u;
  return undefined;
}

/** Converts markdown to an HTML fragment. */
export function markdownToHtml(markdown: string, options: MarkdownOptions = {}): string {
  const ids = new Map<string, number>();
  return new Blocks(options, ids).render(markdown.replace(/\r\n?/g, '\n').replace(/\t/g, '    '));
}

// ---- blocks ---------------------------------------------------------------------------------------

const FENCE = /^ {0,3}(`{3,}|~{3,})[ ]*([^\s`]*)[^`]*$/;
const ATX = /^ {0,3}(#{1,6})(?:[ ]+(.*?))?(?:[ ]+#+)?[ ]*$/;
const HR = /^ {0,3}([-*_])(?:[ ]*\1){2,}[ ]*$/;
const QUOTE = /^ {0,3}> ?/;
const BULLET = /^( {0,3})([-+*])( +)(.*)$/;
const ORDERED = /^( {0,3})(\d{1,9})([.)])( +)(.*)$/;
const TABLE_DELIM = /^ {0,3}\|?[ ]*:?-+:?[ ]*(\|[ ]*:?-+:?[ ]*)*\|?[ ]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ ]*$/;

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells: string[] = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cur += c;
    } else if (c === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  cells.push(cur.trim());
  return cells;
}

class Blocks {
  constructor(
    readonly options: MarkdownOptions,
    readonly ids: Map<string, number>,
  ) {}

  inline(text: string): string {
    return renderInline(text, this.options);
  }

  /** Starts a block that interrupts a paragraph. */
  interrupts(line: string): boolean {
    return (
      FENCE.test(line) ||
      ATX.test(line) ||
      HR.test(line) ||
      QUOTE.test(line) ||
      (BULLET.test(line) && !isBlank(BULLET.exec(line)![4]!)) ||
      /^ {0,3}1[.)] +\S/.test(line)
    );
  }

  render(src: string): string {
    const lines = src.split('\n');
    const out: string[] = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i]!;
      if (isBlank(line)) {
        i++;
        continue;
      }
      let m: RegExpExecArray | null;
      if ((m = FENCE.exec(line)) !== null) {
        const fence = m[1]!;
        const lang = m[2] ?? '';
        const indent = indentOf(line);
        const body: string[] = [];
        i++;
        while (i < lines.length) {
          const l = lines[i]!;
          const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ ]*$`);
          if (close.test(l)) {
            i++;
            break;
          }
          body.push(l.slice(Math.min(indent, indentOf(l))));
          i++;
        }
        const cls = lang !== '' ? ` class="language-${escapeHtml(lang)}"` : '';
        out.push(`<pre><code${cls}>${escapeHtml(body.join('\n'))}${body.length > 0 ? '\n' : ''}</code></pre>`);
        continue;
      }
      if ((m = ATX.exec(line)) !== null) {
        out.push(this.heading(m[1]!.length, m[2] ?? ''));
        i++;
        continue;
      }
      if (HR.test(line)) {
        out.push('<hr>');
        i++;
        continue;
      }
      if (QUOTE.test(line)) {
        const body: string[] = [];
        while (i < lines.length && !isBlank(lines[i]!)) {
          body.push(lines[i]!.replace(QUOTE, ''));
          i++;
        }
        out.push(`<blockquote>\n${this.render(body.join('\n'))}</blockquote>`);
        continue;
      }
      if (BULLET.test(line) || ORDERED.test(line)) {
        i = this.list(lines, i, out);
        continue;
      }
      if (line.includes('|') && i + 1 < lines.length && TABLE_DELIM.test(lines[i + 1]!) && lines[i + 1]!.includes('-')) {
        const header = splitRow(line);
        const aligns = splitRow(lines[i + 1]!).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : ''));
        if (aligns.length === header.length) {
          i += 2;
          const rows: string[][] = [];
          while (i < lines.length && !isBlank(lines[i]!) && lines[i]!.includes('|')) {
            rows.push(splitRow(lines[i]!));
            i++;
          }
          const cell = (tag: string, text: string | undefined, k: number): string =>
            `<${tag}${aligns[k] ? ` style="text-align:${aligns[k]}"` : ''}>${this.inline(text ?? '')}</${tag}>`;
          out.push(
            `<table>\n<thead>\n<tr>${header.map((h, k) => cell('th', h, k)).join('')}</tr>\n</thead>\n<tbody>\n${rows
              .map((r) => `<tr>${header.map((_, k) => cell('td', r[k], k)).join('')}</tr>`)
              .join('\n')}\n</tbody>\n</table>`,
          );
          continue;
        }
      }
      if (indentOf(line) >= 4) {
        const body: string[] = [];
        while (i < lines.length && (indentOf(lines[i]!) >= 4 || isBlank(lines[i]!))) {
          body.push(lines[i]!.slice(4));
          i++;
        }
        while (body.length > 0 && isBlank(body[body.length - 1]!)) body.pop();
        out.push(`<pre><code>${escapeHtml(body.join('\n'))}\n</code></pre>`);
        continue;
      }
      if (/^ {0,3}\$\$/.test(line)) {
        const body: string[] = [line.trim().slice(2)];
        let closed = body[0]!.endsWith('$$') && body[0]!.length >= 2;
        i++;
        while (!closed && i < lines.length) {
          body.push(lines[i]!);
          closed = lines[i]!.trimEnd().endsWith('$$');
          i++;
        }
        const tex = body.join('\n').replace(/\$\$\s*$/, '');
        out.push(`<div class="math">$$${escapeHtml(tex)}$$</div>`);
        continue;
      }
      // paragraph (or setext heading)
      const para: string[] = [line];
      i++;
      let heading = 0;
      while (i < lines.length && !isBlank(lines[i]!)) {
        const l = lines[i]!;
        const st = SETEXT.exec(l);
        if (st !== null) {
          heading = st[1]![0] === '=' ? 1 : 2;
          i++;
          break;
        }
        if (this.interrupts(l)) break;
        para.push(l);
        i++;
      }
      const text = para.map((l) => l.trimStart()).join('\n');
      out.push(heading > 0 ? this.heading(heading, text) : `<p>${this.inline(text.trimEnd())}</p>`);
    }
    return out.map((b) => `${b}\n`).join('');
  }

  heading(level: number, text: string): string {
    const plain = text.replace(/[`*_~[\]()!#\\]/g, '').trim().toLowerCase();
    let slug = plain.replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s+/g, '-') || 'section';
    const seen = this.ids.get(slug) ?? 0;
    this.ids.set(slug, seen + 1);
    if (seen > 0) slug = `${slug}-${seen}`;
    return `<h${level} id="${escapeHtml(slug)}">${this.inline(text.trim())}</h${level}>`;
  }

  /** Parses a list starting at lines[start]; returns the index after it. */
  list(lines: string[], start: number, out: string[]): number {
    const first = lines[start]!;
    const ordered = !BULLET.test(first);
    const marker = ordered ? ORDERED.exec(first)![3]! : BULLET.exec(first)![2]!;
    const startNumber = ordered ? Number(ORDERED.exec(first)![2]) : 1;
    const items: string[][] = [];
    let loose = false;
    let i = start;
    while (i < lines.length) {
      const line = lines[i]!;
      const m = ordered ? ORDERED.exec(line) : BULLET.exec(line);
      if (m === null || (ordered ? m[3] : m[2]) !== marker) break;
      const contentIndent = ordered ? m[1]!.length + m[2]!.length + 1 + Math.min(m[4]!.length, 4) : m[1]!.length + 1 + Math.min(m[3]!.length, 4);
      const body: string[] = [ordered ? m[5]! : m[4]!];
      i++;
      let sawBlank = false;
      while (i < lines.length) {
        const l = lines[i]!;
        if (isBlank(l)) {
          sawBlank = true;
          body.push('');
          i++;
          continue;
        }
        if (indentOf(l) >= contentIndent) {
          if (sawBlank) loose = true;
          body.push(l.slice(contentIndent));
          sawBlank = false;
          i++;
          continue;
        }
        if (!sawBlank && !this.interrupts(l) && !BULLET.test(l) && !ORDERED.test(l)) {
          body.push(l.trimStart()); // lazy continuation of the item's paragraph
          i++;
          continue;
        }
        break;
      }
      while (body.length > 0 && isBlank(body[body.length - 1]!)) body.pop();
      items.push(body);
      if (sawBlank && i < lines.length) {
        const next = ordered ? ORDERED.exec(lines[i]!) : BULLET.exec(lines[i]!);
        if (next !== null) loose = true;
      }
    }
    const tag = ordered ? 'ol' : 'ul';
    const startAttr = ordered && startNumber !== 1 ? ` start="${startNumber}"` : '';
    const rendered = items.map((body) => {
      let html = this.render(body.join('\n')).trimEnd();
      if (!loose) html = html.replace(/^<p>([\s\S]*?)<\/p>/, '$1');
      const task = /^\[([ xX])\] /.exec(html);
      if (task !== null) html = `<input type="checkbox" disabled${task[1] !== ' ' ? ' checked' : ''}> ${html.slice(4)}`;
      return `<li>${html}</li>`;
    });
    out.push(`<${tag}${startAttr}>\n${rendered.join('\n')}\n</${tag}>`);
    return i;
  }
}

// ---- inlines --------------------------------------------------------------------------------------

const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

/** Renders inline markdown: code, links, images, emphasis, strikethrough, breaks; all text escaped. */
export function renderInline(text: string, options: MarkdownOptions = {}): string {
  const slots: string[] = [];
  const hold = (html: string): string => `\u0000${slots.push(html) - 1}\u0000`;
  let s = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && PUNCT.test(text[i + 1]!)) {
      s += hold(escapeHtml(text[i + 1]!));
      i += 2;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      s += hold('<br>\n');
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (text[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      let close = text.indexOf(ticks, i + n);
      while (close >= 0 && text[close + n] === '`') close = text.indexOf(ticks, close + n + 1);
      if (close >= 0) {
        let code = text.slice(i + n, close).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
        s += hold(`<code>${escapeHtml(code)}</code>`);
        i = close + n;
        continue;
      }
      s += ticks;
      i += n;
      continue;
    }
    if (c === '<') {
      const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(i));
      if (auto !== null) {
        const url = safeUrl(auto[1]!, 'link');
        s += hold(url !== undefined ? `<a href="${escapeHtml(url)}" rel="noopener noreferrer">${escapeHtml(auto[1]!)}</a>` : escapeHtml(auto[0]));
        i += auto[0].length;
        continue;
      }
    }
    if (c === '[' || (c === '!' && text[i + 1] === '[')) {
      const link = parseLink(text, c === '!' ? i + 1 : i);
      if (link !== undefined) {
        if (c === '!') {
          const resolved = options.resolveImage?.(link.url) ?? link.url;
          const src = safeUrl(resolved, 'image');
          const title = link.title !== undefined ? ` title="${escapeHtml(link.title)}"` : '';
          s += hold(src !== undefined ? `<img src="${escapeHtml(src)}" alt="${escapeHtml(plainText(link.text))}"${title}>` : escapeHtml(plainText(link.text)));
        } else {
          const href = safeUrl(link.url, 'link');
          const title = link.title !== undefined ? ` title="${escapeHtml(link.title)}"` : '';
          const inner = renderInline(link.text, options);
          s += hold(href !== undefined ? `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer">${inner}</a>` : inner);
        }
        i = link.end;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && /^https?:\/\//i.test(text.slice(i, i + 8)) && (i === 0 || /[\s(*_~]/.test(text[i - 1]!))) {
      const m = /^https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'*_~]/i.exec(text.slice(i));
      if (m !== null) {
        s += hold(`<a href="${escapeHtml(m[0])}" rel="noopener noreferrer">${escapeHtml(m[0])}</a>`);
        i += m[0].length;
        continue;
      }
    }
    s += c;
    i++;
  }
  let html = escapeHtml(s);
  html = html.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  html = html.replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>');
  html = html.replace(/\*(?=[^\s*])([\s\S]*?[^\s*])\*/g, '<em>$1</em>');
  html = html.replace(/(^|[^\w])_(?=[^\s_])([\s\S]*?[^\s_])_(?!\w)/g, '$1<em>$2</em>');
  html = html.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  html = html.replace(/ {2,}\n/g, '<br>\n');
  return html.replace(/\u0000(\d+)\u0000/g, (_, k: string) => slots[Number(k)]!);
}

/** `[text](url "title")` starting at `start` (the `[`). */
function parseLink(text: string, start: number): { text: string; url: string; title?: string; end: number } | undefined {
  let depth = 0;
  let k = start;
  for (; k < text.length; k++) {
    const ch = text[k]!;
    if (ch === '\\') {
      k++;
      continue;
    }
    if (ch === '[') depth++;
    else if (ch === ']') {
      depth--;
      if (depth === 0) break;
    }
  }
  if (depth !== 0 || text[k + 1] !== '(') return undefined;
  const rest = text.slice(k + 2);
  const m = /^[ \n]*(?:<([^<>\n]*)>|((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*))(?:[ \n]+("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)))?[ \n]*\)/.exec(rest);
  if (m === null) return undefined;
  const url = (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1');
  const title = m[3] !== undefined ? m[3].slice(1, -1).replace(/\\(.)/g, '$1') : undefined;
  return { text: text.slice(start + 1, k), url, ...(title !== undefined ? { title } : {}), end: k + 2 + m[0].length };
}

function plainText(md: string): string {
  return md.replace(/[*_`~]/g, '');
}
