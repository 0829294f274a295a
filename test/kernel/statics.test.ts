/**
 * Static figures (kernel/executor/statics.ts): every chart bundle the kernel displays carries
 * image/svg+xml and image/png drawn from its spec; live updates and `display.statics(false)` get
 * none. PNGs are decoded with pngjs and checked for size and content, not just presence.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PNG } from 'pngjs';
import { prepareStatics, setStaticsEnabled, staticAssets, staticsDisabledByEnv, withStatics, renderSvg, STATIC_FIGURES_ENV } from '../../kernel/executor/statics';
import { createDisplay, toBundle, LIVE_SYMBOL, DISPLAY_SYMBOL, type DisplaySink } from '../../kernel/executor/display';
import { ckaSpec, lightTheme } from '../../kernel/protocol/charts';
import { Mime, type CkaPayload } from '../../kernel/protocol/mime';
import { ImagesResult, encodePng } from '../../kernel/analysis/preview';

const root = path.resolve(__dirname, '..', '..');

before(async () => {
  await prepareStatics(staticAssets(root));
});
after(() => setStaticsEnabled(true));

function decodePng(b64: unknown): PNG {
  assert.equal(typeof b64, 'string', 'image/png is base64 text');
  return PNG.sync.read(Buffer.from(b64 as string, 'base64'));
}

/** Distinct opaque colours in a decoded PNG (a blank image has one). */
function colours(png: PNG): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) seen.add((png.data[i]! << 16) | (png.data[i + 1]! << 8) | png.data[i + 2]!);
  return seen.size;
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  assert.ok(m, 'the SVG has a width and a height');
  return { width: Number(m[1]), height: Number(m[2]) };
}

const barSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: 'Accuracy by seed',
  data: { values: [{ seed: 'one', acc: 0.2 }, { seed: 'two', acc: 0.9 }, { seed: 'three', acc: 0.5 }] },
  mark: 'bar',
  encoding: { x: { field: 'seed', type: 'nominal' }, y: { field: 'acc', type: 'quantitative' } },
};

test('a Vega-Lite bundle gets an SVG with its marks and text, and a PNG of the same size that is not blank', () => {
  const { data } = withStatics({ [Mime.vegaLite]: barSpec, [Mime.plain]: 'chart' });
  const svg = data[Mime.svg] as string;
  assert.match(svg, /^<svg[\s>]/);
  assert.match(svg, /Accuracy by seed/);
  for (const label of ['one', 'two', 'three']) assert.match(svg, new RegExp(`>${label}<`));
  assert.ok((svg.match(/<path/g) ?? []).length >= 3, 'bars are drawn as paths');
  const png = decodePng(data[Mime.png]);
  assert.deepEqual({ width: png.width, height: png.height }, svgSize(svg));
  assert.ok(png.width > 100 && png.height > 100, `${png.width}×${png.height}`);
  assert.ok(colours(png) > 10, 'the PNG has bars, text and axes, not one colour');
  // The corners are the light background.
  assert.deepEqual([...png.data.subarray(0, 4)], [255, 255, 255, 255]);
  // The other representations are kept.
  assert.equal(data[Mime.plain], 'chart');
  assert.deepEqual(data[Mime.vegaLite], barSpec);
});

test('text is drawn in the PNG (the bundled font): a title changes the pixels', () => {
  const a = decodePng(withStatics({ [Mime.vegaLite]: { ...barSpec, title: 'AAAA' } }).data[Mime.png]);
  const b = decodePng(withStatics({ [Mime.vegaLite]: { ...barSpec, title: 'WWWW' } }).data[Mime.png]);
  assert.equal(a.width, b.width);
  let differ = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
  assert.ok(differ > 50, `${differ} bytes differ between two titles`);
});

function heatmap(n: number): CkaPayload {
  const names = Array.from({ length: n }, (_, i) => `block${i}.conv`);
  const values = names.map((_, i) => names.map((_, j) => Math.exp(-Math.abs(i - j) / 3)));
  return { rows: names, columns: names, values, kind: 'linear', debiased: false, modelA: 'A', modelB: 'B' };
}

test('a 16×16 CKA heatmap (Vega) gets both statics; the time it adds is measured', (t) => {
  const p = heatmap(16);
  const bundle = () => ({ [Mime.cka]: p, [Mime.vega]: ckaSpec(p, lightTheme).spec, [Mime.plain]: 'cka' });
  // First drawing loads vega and vega-lite; later ones are what each chart costs. The values
  // change every time so that the cache does not answer.
  let t0 = performance.now();
  withStatics(bundle());
  const first = performance.now() - t0;
  const times: number[] = [];
  const cpu: number[] = [];
  let data: Record<string, unknown> = {};
  for (let k = 0; k < 10; k++) {
    const b = bundle();
    ((b[Mime.cka].values as number[][])[0]! as number[])[0] = 0.5 + k / 10;
    const spec = ckaSpec(b[Mime.cka], lightTheme).spec;
    t0 = performance.now();
    const c0 = process.cpuUsage();
    data = withStatics({ ...b, [Mime.vega]: spec }).data;
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  // Wall time depends on how busy the machine is; CPU time (this process) less so. The first
  // few charts after loading vega run before V8 has optimised it: the last five are the steady cost.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  t.diagnostic(
    `16×16 heatmap statics: first ${first.toFixed(0)} ms (loads vega); charts 2-6 median ${median(times.slice(0, 5)).toFixed(0)} ms wall, ${median(cpu.slice(0, 5)).toFixed(0)} ms CPU; ` +
      `charts 7-11 median ${median(times.slice(5)).toFixed(0)} ms wall, ${median(cpu.slice(5)).toFixed(0)} ms CPU`,
  );
  const svg = data[Mime.svg] as string;
  assert.match(svg, /block15\.conv/);
  const png = decodePng(data[Mime.png]);
  assert.deepEqual({ width: png.width, height: png.height }, svgSize(svg));
  assert.ok(colours(png) > 16, 'the heatmap has many colours');
  // Cached: the same spec again costs no drawing and gives the same images.
  t0 = performance.now();
  const again = withStatics({ ...bundle(), [Mime.vega]: JSON.parse(JSON.stringify(data[Mime.vega])) }).data;
  t.diagnostic(`the same heatmap again (cached): ${(performance.now() - t0).toFixed(1)} ms`);
  assert.equal(again[Mime.png], data[Mime.png]);
});

test('an image grid shows its pixels in the PNG', () => {
  // Two 8×8 images: one red, one blue.
  const red = new Float64Array(8 * 8 * 3).map((_, i) => (i % 3 === 0 ? 1 : 0));
  const blue = new Float64Array(8 * 8 * 3).map((_, i) => (i % 3 === 2 ? 1 : 0));
  const grid = new ImagesResult({ title: 'grid', width: 8, height: 8, channels: 3, rows: [{ label: 'x', images: [encodePng(red, 8, 8, 3), encodePng(blue, 8, 8, 3)] }] } as never);
  const { data } = toBundle(grid);
  assert.match(data[Mime.svg] as string, /<image/);
  const png = decodePng(data[Mime.png]);
  let reds = 0;
  let blues = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r > 200 && g < 40 && b < 40) reds++;
    if (b > 200 && g < 40 && r < 40) blues++;
  }
  // Each image is drawn 8× (64 px square): thousands of its pixels.
  assert.ok(reds > 1000 && blues > 1000, `${reds} red and ${blues} blue pixels`);
});

test('a bundle with no chart, or with an image of its own, is left alone', () => {
  const text = { [Mime.plain]: 'x' };
  assert.deepEqual(withStatics(text).data, text);
  const own = { [Mime.vegaLite]: barSpec, [Mime.png]: 'AAAA' };
  assert.deepEqual(withStatics(own).data, own);
});

test('statics off (display.statics(false), or the environment variable): no images', () => {
  const posted: Array<Record<string, unknown>> = [];
  const sink: DisplaySink = { display: (c) => void posted.push(c.data), clear: () => undefined };
  const { display } = createDisplay(() => sink);
  assert.equal(display.statics(), true);
  display.vegaLite(barSpec);
  assert.ok(Mime.png in posted[0]! && Mime.svg in posted[0]!, 'on by default');
  assert.equal(display.statics(false), false);
  display.vegaLite(barSpec);
  assert.ok(!(Mime.png in posted[1]!) && !(Mime.svg in posted[1]!), 'off');
  assert.ok(Mime.vegaLite in posted[1]!);
  assert.equal(display.statics(true), true);
  assert.throws(() => display.statics('no' as never), /display\.statics: enabled must be true or false/);
  for (const v of ['0', 'false', 'OFF', 'no']) assert.equal(staticsDisabledByEnv({ [STATIC_FIGURES_ENV]: v }), true, v);
  for (const v of [undefined, '1', 'on', '']) assert.equal(staticsDisabledByEnv({ [STATIC_FIGURES_ENV]: v }), false, String(v));
});

test('a live update carries no images; the same bundle without the mark does', () => {
  const chart = { [DISPLAY_SYMBOL]: () => ({ [Mime.vegaLite]: barSpec }) };
  assert.ok(!(Mime.png in toBundle({ ...chart, [LIVE_SYMBOL]: true }).data));
  assert.ok(Mime.png in toBundle(chart).data);
});

test('a chart that cannot be drawn keeps its other representations and says why in the metadata', () => {
  const bad = { [Mime.vegaLite]: { mark: 'no-such-mark', data: { values: [] } }, [Mime.plain]: 'p' };
  const { data, metadata } = withStatics(bad);
  assert.deepEqual(data, bad);
  assert.match(String(metadata['transferlab.statics']), /could not be drawn as an image/);
});

test('renderSvg paints a light background behind a transparent chart', () => {
  const { svg } = renderSvg({ ...barSpec, background: 'transparent' }, 'vega-lite');
  assert.match(svg, /fill="#ffffff"|fill="white"/);
});
