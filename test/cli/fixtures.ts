/** Notebooks for the command-line tests: every output kind TransferLab produces. */
import { PNG } from 'pngjs';
import { Mime } from '../../kernel/protocol/mime';
import { createTsnbNotebook, type TsnbNotebook } from '../../kernel/protocol/tsnb';

export function png(width: number, height: number, shade: number): string {
  const p = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = (x + y) % 2 === 0 ? shade : 255 - shade;
      p.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return PNG.sync.write(p).toString('base64');
}

/** A notebook with markdown, streams, an error, a PNG, sandboxed HTML and the five chart MIME types. */
export function richNotebook(): TsnbNotebook {
  const nb = createTsnbNotebook({ backend: 'wasm' });
  const names = ['conv1', 'conv2', 'fc'];
  const lambdas = [0, 0.5, 1];
  const cka = { rows: names, columns: names, values: [[1, 0.6, 0.2], [0.6, 1, 0.4], [0.2, 0.4, 1]], kind: 'linear', debiased: false, modelA: 'scratch', modelB: 'pretrained', n: 100 };
  nb.cells.push(
    {
      cell_type: 'markdown',
      metadata: {},
      source: '# What is being transferred?\n\nWe compare **pretrained** and *scratch* models ([paper](https://arxiv.org/abs/2008.11687)).\n\n- CKA per module\n- interpolation\n\n![inline](attachment:dot.png)',
      attachments: { 'dot.png': { 'image/png': png(2, 2, 0) } },
    },
    {
      cell_type: 'code',
      metadata: {},
      source: "console.log('training');\nconst r = tl.cka(a, b);",
      execution_count: 1,
      outputs: [
        { output_type: 'stream', name: 'stdout', text: 'training\nepoch 1 <done>\n' },
        { output_type: 'stream', name: 'stderr', text: '\u001b[33mwarning\u001b[0m: slow backend\n' },
        { output_type: 'display_data', metadata: {}, data: { [Mime.cka]: cka, [Mime.plain]: 'CKA 3×3' } },
        {
          output_type: 'display_data',
          metadata: {},
          data: {
            [Mime.interpolation]: { pairs: [{ label: 'P–P', lambdas, loss: [0.3, 0.5, 0.32], accuracy: [0.9, 0.8, 0.9], barrier: 0.19, barrierLambda: 0.5 }] },
            [Mime.plain]: 'barrier 0.19',
          },
        },
        {
          output_type: 'display_data',
          metadata: {},
          data: { [Mime.images]: { width: 4, height: 4, rows: [{ label: 'original', images: [png(4, 4, 10), png(4, 4, 90)] }, { label: 'block 2', images: [png(4, 4, 200), png(4, 4, 250)] }] }, [Mime.plain]: 'images' },
        },
        {
          output_type: 'display_data',
          metadata: {},
          data: { [Mime.training]: { runs: [{ label: 'run', points: [{ epoch: 0, step: 1, loss: 2 }, { epoch: 0, step: 2, loss: 1.5, accuracy: 0.4 }], done: true }] }, [Mime.plain]: 'training' },
        },
        {
          output_type: 'execute_result',
          metadata: {},
          execution_count: 1,
          data: {
            [Mime.vegaLite]: { data: { values: [{ a: 'x', b: 1 }, { a: 'y', b: 2 }] }, mark: 'bar', encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' } } },
            [Mime.plain]: 'chart',
          },
        },
      ],
    },
    {
      cell_type: 'code',
      metadata: {},
      source: 'display.png(img); display.html(h);',
      execution_count: 2,
      outputs: [
        { output_type: 'display_data', metadata: {}, data: { [Mime.png]: png(3, 3, 40), [Mime.plain]: '<image>' } },
        { output_type: 'display_data', metadata: {}, data: { [Mime.html]: '<b id="bold">bold</b><script>parent.document.title = "pwned"</script>', [Mime.plain]: 'html' } },
      ],
    },
    {
      cell_type: 'code',
      metadata: {},
      source: 'undefinedThing()',
      execution_count: 3,
      outputs: [{ output_type: 'error', ename: 'ReferenceError', evalue: 'undefinedThing is not defined', traceback: ['\u001b[31mReferenceError\u001b[0m: undefinedThing is not defined', '    at <cell 3>:1:1'] }],
    },
  );
  return nb;
}
