/**
 * JSDoc as Markdown for hovers, completion details and signature help: `@example` blocks as
 * TypeScript code, `{@link X}` as a link to X's declaration (or as code where it has no file),
 * `{@link https://…}` as a link, `@param`/`@returns`/other tags as an emphasised label. The
 * editor's checker and the kernel's inspect_reply both use it.
 */
import type ts from 'typescript';
import { pathToFileURL } from 'node:url';

/** Where `{@link X}` points: a 1-based line of a file, from the language service's program. */
export type LinkLocator = (fileName: string, start: number) => number | undefined;

const FENCE = '```';

/** Inline code for any text (backticks inside widen the fence). */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const tick = '`'.repeat(longest + 1);
  return longest > 0 ? `${tick} ${text} ${tick}` : `${tick}${text}${tick}`;
}

/** Display parts (with `{@link}` parts) as Markdown. */
export function partsToMarkdown(parts: readonly ts.SymbolDisplayPart[] | undefined, locate?: LinkLocator): string {
  if (!parts) return '';
  let out = '';
  let link: { name?: ts.JSDocLinkDisplayPart | ts.SymbolDisplayPart; text: string } | undefined;
  for (const part of parts) {
    if (part.kind === 'link') {
      if (!link) {
        link = { text: '' };
        continue;
      }
      out += renderLink(link, locate);
      link = undefined;
    } else if (link && part.kind === 'linkName') {
      link.name = part;
    } else if (link && part.kind === 'linkText') {
      link.text += part.text;
    } else {
      out += part.text;
    }
  }
  if (link) out += renderLink(link, locate);
  return out;
}

function renderLink(link: { name?: ts.SymbolDisplayPart; text: string }, locate?: LinkLocator): string {
  const text = link.text.trim();
  if (link.name) {
    const label = code(text || link.name.text);
    const target = (link.name as ts.JSDocLinkDisplayPart).target;
    if (target && locate) {
      const line = locate(target.fileName, target.textSpan.start);
      if (line !== undefined) return `[${label}](${pathToFileURL(target.fileName).href}#L${line})`;
    }
    return label;
  }
  // `{@link https://example.org text}`: TypeScript gives the URL and the text as one linkText.
  const m = /^(\w[\w+.-]*:\/\/\S+)\s*(.*)$/s.exec(text);
  if (m) return `[${m[2] || m[1]}](${m[1]})`;
  return text ? code(text) : '';
}

/** An `@example`'s text as a TypeScript code block (kept as is when it has its own fences). */
function example(text: string): string {
  const caption = /^\s*<caption>(.*?)<\/caption>\s*/s.exec(text);
  const body = caption ? text.slice(caption[0].length) : text;
  const block = body.includes(FENCE) ? body : `${FENCE}typescript\n${body.replace(/^\n+|\s+$/g, '')}\n${FENCE}`;
  return `*@example*${caption ? ` — ${caption[1]}` : ''}\n${block}`;
}

/** One JSDoc tag as a Markdown paragraph. */
export function tagToMarkdown(tag: ts.JSDocTagInfo, locate?: LinkLocator): string {
  // The example's own text (prose after its code block too) may hold links.
  if (tag.name === 'example') return example(partsToMarkdown(tag.text, locate));
  const parts = tag.text ?? [];
  if ((tag.name === 'param' || tag.name === 'template') && parts.length > 0) {
    const nameIndex = parts.findIndex((p) => p.kind === 'parameterName' || p.kind === 'typeParameterName');
    if (nameIndex >= 0) {
      const rest = partsToMarkdown(parts.slice(nameIndex + 1), locate).trim();
      return `*@${tag.name}* ${code(parts[nameIndex]!.text)}${rest ? ` — ${rest}` : ''}`;
    }
  }
  const text = partsToMarkdown(parts, locate).trim();
  return `*@${tag.name}*${text ? ` — ${text}` : ''}`;
}

/** Documentation and tags as Markdown paragraphs. */
export function docsToMarkdown(documentation: readonly ts.SymbolDisplayPart[] | undefined, tags: readonly ts.JSDocTagInfo[] | undefined, locate?: LinkLocator): string {
  const paragraphs = [partsToMarkdown(documentation, locate).trim(), ...(tags ?? []).map((t) => tagToMarkdown(t, locate))];
  return paragraphs.filter(Boolean).join('\n\n');
}

/**
 * A locator from a language service: the 1-based line of a position in a file of its program on
 * disk; undefined for in-memory files (`isVirtual`), which a link cannot open.
 */
export function programLocator(service: ts.LanguageService, isVirtual: (fileName: string) => boolean): LinkLocator {
  return (fileName, start) => {
    if (isVirtual(fileName)) return undefined;
    const sf = service.getProgram()?.getSourceFile(fileName);
    return sf ? sf.getLineAndCharacterOfPosition(start).line + 1 : undefined;
  };
}
