/** Renderer `transferlab-interpolation`: loss/accuracy along the line between two solutions. */
import { Mime } from '../../kernel/protocol/mime';
import { createActivation } from '../common/activation';
import { parseInterpolationPayload } from '../common/payloads';
import { renderInterpolation } from './render';

export const activate = createActivation({ mime: Mime.interpolation, parse: parseInterpolationPayload, render: renderInterpolation });
