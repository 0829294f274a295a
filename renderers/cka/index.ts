/** Renderer `transferlab-cka`: CKA heatmaps. */
import { Mime } from '../../kernel/protocol/mime';
import { createActivation } from '../common/activation';
import { parseCkaPayload } from '../common/payloads';
import { renderCka } from './render';

export const activate = createActivation({ mime: Mime.cka, parse: parseCkaPayload, render: renderCka });
