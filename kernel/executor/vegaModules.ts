/**
 * vega and vega-lite for the kernel's static figures (statics.ts), as their own bundle
 * (`dist/vegaModules.js`): loaded on the first chart, so that the worker's own bundle, parsed at
 * every kernel start, stays small.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export { vega, vegaLite };
