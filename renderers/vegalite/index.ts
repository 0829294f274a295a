/** Renderer `transferlab-vegalite`: plain vega-lite v5 specs, so no other extension is needed. */
import { Mime } from '../../kernel/protocol/mime';
import { createActivation } from '../common/activation';
import { parseVegaLiteSpec } from '../common/payloads';
import { renderVegaLite } from './render';

export const activate = createActivation({ mime: Mime.vegaLite, parse: parseVegaLiteSpec, render: renderVegaLite });
