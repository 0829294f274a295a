import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, markdownToHtml, renderInline, safeUrl, typeset } from '../../cli/markdown';

test('blocks: headings, paragraphs, lists, code, quotes, rules, tables', () => {
  const md = [
    '# Title',
    '',
    'Some *text*',
    'on two lines.',
    '',
    'Setext',
    '------',
    '',
    '- one',
    '- two',
    '  - nested',
    '',
    '3. three',
    '4. four',
    '',
    '```ts',
    'const a = 1 < 2;',
    '```',
    '',
    '> quoted **bold**',
    '',
    '***',
    '',
    '| module | CKA |',
    '|:-------|----:|',
    '| conv1  | 0.9 |',
    '| fc     | `a|b` |',
    '',
    '    indented code',
  ].join('\n');
  assert.equal(
    markdownToHtml(md),
    [
      '<h1 id="title">Title</h1>',
      '<p>Some <em>text</em>',
      'on two lines.</p>',
      '<h2 id="setext">Setext</h2>',
      '<ul>',
      '<li>one</li>',
      '<li>two',
      '<ul>',
      '<li>nested</li>',
      '</ul></li>',
      '</ul>',
      '<ol start="3">',
      '<li>three</li>',
      '<li>four</li>',
      '</ol>',
      '<pre><code class="language-ts">const a = 1 &lt; 2;',
      '</code></pre>',
      '<blockquote>',
      '<p>quoted <strong>bold</strong></p>',
      '</blockquote>',
      '<hr>',
      '<table>',
      '<thead>',
      '<tr><th style="text-align:left">module</th><th style="text-align:right">CKA</th></tr>',
      '</thead>',
      '<tbody>',
      '<tr><td style="text-align:left">conv1</td><td style="text-align:right">0.9</td></tr>',
      '<tr><td style="text-align:left">fc</td><td style="text-align:right"><code>a|b</code></td></tr>',
      '</tbody>',
      '</table>',
      '<pre><code>indented code',
      '</code></pre>',
      '',
    ].join('\n'),
  );
});

test('inlines: code, emphasis, links, images, breaks, escapes', () => {
  assert.equal(renderInline('a `x < y` b'), 'a <code>x &lt; y</code> b');
  assert.equal(renderInline('**bold** and __also__, *em* and _em_, ~~gone~~'), '<strong>bold</strong> and <strong>also</strong>, <em>em</em> and <em>em</em>, <del>gone</del>');
  assert.equal(renderInline('snake_case_name and 2 * 3 * 4'), 'snake_case_name and 2 * 3 * 4');
  assert.equal(renderInline('\\*not em\\*'), '*not em*');
  assert.equal(renderInline('[CKA](https://arxiv.org/abs/1905.00414 "paper")'), '<a href="https://arxiv.org/abs/1905.00414" title="paper" rel="noopener noreferrer">CKA</a>');
  assert.equal(renderInline('see https://example.org/x.'), 'see <a href="https://example.org/x" rel="noopener noreferrer">https://example.org/x</a>.');
  assert.equal(renderInline('![plot](data:image/png;base64,AAAA)'), '<img src="data:image/png;base64,AAAA" alt="plot">');
  assert.equal(renderInline('line  \nbreak'), 'line<br>\nbreak');
  assert.equal(renderInline('![a](attachment:a.png)', { resolveImage: (u) => (u === 'attachment:a.png' ? 'data:image/png;base64,QQ==' : undefined) }), '<img src="data:image/png;base64,QQ==" alt="a">');
  assert.equal(markdownToHtml('## Same\n## Same'), '<h2 id="same">Same</h2>\n<h2 id="same-1">Same</h2>\n');
  assert.equal(markdownToHtml('- [x] done\n- [ ] todo'), '<ul>\n<li><input type="checkbox" disabled checked> done</li>\n<li><input type="checkbox" disabled> todo</li>\n</ul>\n');
  assert.match(markdownToHtml('$$\n\\sum_i x_i\n$$'), /^<div class="math"><span class="katex"><math xmlns="http:\/\/www.w3.org\/1998\/Math\/MathML" display="block"><semantics><mrow><munder><mo>∑<\/mo><mi>i<\/mi><\/munder>/);
});

const ALLOWED_TAGS = new Set(['p', 'a', 'img', 'pre', 'code', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'em', 'strong', 'del', 'br', 'ul', 'ol', 'li', 'blockquote', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'div', 'input']);

test('nothing in the markdown becomes markup or script', () => {
  const attacks: [string, RegExp][] = [
    ['<script>alert(1)</script>', /^<p>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/p>\n$/],
    ['<img src=x onerror=alert(1)>', /^<p>&lt;img src=x onerror=alert\(1\)&gt;<\/p>\n$/],
    ['[click](javascript:alert(1))', /^<p>click<\/p>\n$/],
    ['[click](JaVaScRiPt:alert(1))', /^<p>click<\/p>\n$/],
    ['[click](java\tscript:alert(1))', /^<p>\[click\]\(java {4}script:alert\(1\)\)<\/p>\n$/],
    ['![x](data:text/html;base64,PHNjcmlwdD4=)', /^<p>x<\/p>\n$/],
    ['![x](javascript:alert(1))', /^<p>x<\/p>\n$/],
    ['[x](<http://a" onmouseover="alert(1)>)', /^<p><a href="http:\/\/a&quot; onmouseover=&quot;alert\(1\)" rel="noopener noreferrer">x<\/a><\/p>\n$/],
    ['<javascript:alert(1)>', /^<p>&lt;javascript:alert\(1\)&gt;<\/p>\n$/],
    ['```"><script>\nx\n```', /^<pre><code class="language-&quot;&gt;&lt;script&gt;">x\n<\/code><\/pre>\n$/],
    ['# <b>title</b>', /^<h1 id="btitleb">&lt;b&gt;title&lt;\/b&gt;<\/h1>\n$/],
  ];
  for (const [md, expected] of attacks) {
    const html = markdownToHtml(md);
    assert.match(html, expected, `${md} → ${html}`);
    // Every tag is one the converter writes, with no event-handler attribute.
    for (const m of html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
      assert.ok(ALLOWED_TAGS.has(m[1]!.toLowerCase()), `${m[0]} in ${html}`);
      assert.doesNotMatch(m[2]!.replace(/"[^"]*"/g, '""'), /\son\w+\s*=/i, html);
      assert.doesNotMatch(m[2]!, /(href|src)="\s*javascript:/i, html);
    }
  }
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.deepEqual(
    ['https://a', 'mailto:a@b', './x.png', '#sec', 'vbscript:x', 'data:image/png;base64,AA', 'file:///etc/passwd'].map((u) => safeUrl(u, 'link')),
    ['https://a', 'mailto:a@b', './x.png', '#sec', undefined, undefined, undefined],
  );
});

test('URLs allowed only for images never become links, and the reverse', () => {
  // data:image is an image URL, not a link; mailto: a link, not an image source.
  assert.equal(markdownToHtml('[x](data:image/png;base64,AA)'), '<p>x</p>\n');
  assert.equal(markdownToHtml('<data:image/png;base64,AA>'), '<p>data:image/png;base64,AA</p>\n');
  assert.equal(markdownToHtml('![x](mailto:a@b.c)'), '<p>x</p>\n');
  assert.equal(markdownToHtml('![x](attachment:a.png)'), '<p>x</p>\n', 'an attachment nobody resolves');
  // Bare links are http(s) only, without guessing from www. or e-mail addresses.
  assert.equal(markdownToHtml('www.example.org, a@b.org, ftp://x.org'), '<p>www.example.org, a@b.org, ftp://x.org</p>\n');
  assert.equal(markdownToHtml('<ftp://x.org>'), '<p>&lt;ftp://x.org&gt;</p>\n');
});

test('pipes in code spans stay in their table cell, and only in tables', () => {
  const table = markdownToHtml('| type |\n|---|\n| `A | B` |');
  assert.match(table, /<td><code>A \| B<\/code><\/td>/);
  assert.equal(markdownToHtml('`A | B`'), '<p><code>A | B</code></p>\n');
  assert.equal(markdownToHtml('```\n| `a|b` |\n|---|\n```'), '<pre><code>| `a|b` |\n|---|\n</code></pre>\n');
});

test('display math is typeset as MathML (the TeX escaped in its annotation), and a one-line block closes itself', () => {
  const block = markdownToHtml('$$x < y$$\n\nafter');
  assert.match(block, /^<div class="math"><span class="katex"><math [^>]*display="block"><semantics><mrow><mi>x<\/mi><mo>&lt;<\/mo><mi>y<\/mi><\/mrow><annotation encoding="application\/x-tex">x &lt; y<\/annotation><\/semantics><\/math><\/span><\/div>\n<p>after<\/p>\n$/);
  assert.match(markdownToHtml('text\n\n$$\na\n$$'), /^<p>text<\/p>\n<div class="math"><span class="katex"><math [^>]*><semantics><mrow><mi>a<\/mi><\/mrow>/);
});

test('inline math: $…$ typeset where it opens and closes as in pandoc; prices, escaped dollars and code stay text', () => {
  assert.match(renderInline('CKA $k(x, y) = e^{-\\gamma}$ here'), /^CKA <span class="katex"><math xmlns="http:\/\/www.w3.org\/1998\/Math\/MathML"><semantics><mrow><mi>k<\/mi>.*<\/math><\/span> here$/);
  assert.ok(!renderInline('$k$').includes('display="block"'));
  assert.equal(renderInline('costs $5 and $10 today'), 'costs $5 and $10 today');
  assert.equal(renderInline('a $ b $ c'), 'a $ b $ c', 'a space inside the dollars: not math');
  assert.equal(renderInline('\\$x\\$ is money'), '$x$ is money');
  assert.equal(renderInline('`$x$` in code'), '<code>$x$</code> in code');
  assert.match(renderInline('$a_1 * b_2$ and *em*'), /<mi>a<\/mi><mn>1<\/mn>.*<\/span> and <em>em<\/em>$/, 'no emphasis inside math');
  // TeX that does not parse: shown as the TeX, escaped, in an error span.
  assert.match(renderInline('$\\frac{1}{$'), /^<span class="katex-error" title="[^"]*" style="color:#cc0000">\\frac\{1\}\{<\/span>$/);
});

test('math from an untrusted notebook runs no link, HTML or script and expands boundedly', () => {
  const attacks = [
    '$\\href{javascript:alert(1)}{x}$',
    '$\\url{javascript:alert(1)}$',
    '$\\htmlId{x}{y}\\htmlClass{a}{b}\\htmlStyle{color:red}{c}\\htmlData{a=b}{d}$',
    '$\\includegraphics{https://example.org/a.png}$',
    '$</math><script>alert(1)</script>$',
    '$$\n<img src=x onerror=alert(1)>\n$$',
    '$\\def\\a{\\a\\a}\\a$',
  ];
  for (const md of attacks) {
    const html = markdownToHtml(md);
    // the TeX itself is kept, escaped, as text of the annotation (and of an error's title)
    const markup = html.replace(/<annotation[^>]*>[^<]*<\/annotation>/g, '').replace(/title="[^"]*"/g, '');
    assert.doesNotMatch(markup, /<script|<img|<a\s|<iframe|href=|src=|javascript:|https:/i, `${md} → ${html}`);
    for (const m of html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) assert.doesNotMatch(m[2]!.replace(/"[^"]*"/g, '""'), /\son\w+\s*=/i, html);
  }
  assert.deepEqual(
    [typeset('x', false).startsWith('<span class="katex"><math'), typeset('x', true).includes('display="block"')],
    [true, true],
  );
});

test('images are shown only from inline data: a remote or local image is a link to it, never fetched', () => {
  assert.equal(markdownToHtml('![pixel](http://evil.example/p.png)'), '<p><a href="http://evil.example/p.png" rel="noopener noreferrer">pixel</a></p>\n');
  assert.equal(markdownToHtml('![](https://evil.example/p.png "t")'), '<p><a href="https://evil.example/p.png" rel="noopener noreferrer">https://evil.example/p.png</a></p>\n');
  assert.equal(markdownToHtml('![plot](plot.png)'), '<p><a href="plot.png" rel="noopener noreferrer">plot</a></p>\n');
  assert.equal(markdownToHtml('![x](//evil.example/p.png)'), '<p><a href="//evil.example/p.png" rel="noopener noreferrer">x</a></p>\n');
  assert.deepEqual(
    ['http://a/x.png', '//a/x.png', 'x.png', 'data:image/png;base64,AA', 'data:image/svg+xml;base64,AA'].map((u) => safeUrl(u, 'image')),
    [undefined, undefined, undefined, 'data:image/png;base64,AA', undefined],
  );
  const resolved = renderInline('![a](attachment:a.png)', { resolveImage: () => 'http://evil.example/a.png' });
  assert.doesNotMatch(resolved, /<img/);
});
