/** Renderer `transferlab-training`: live training curves. */
import { Mime } from '../../kernel/protocol/mime';
import { createActivation } from '../common/activation';
import { parseTrainingPayload } from '../common/payloads';
import { renderTraining } from './render';

export const activate = createActivation({ mime: Mime.training, parse: parseTrainingPayload, render: renderTraining });
