/** Renderer `transferlab-images`: grids of images (original vs block-shuffled). */
import { Mime } from '../../kernel/protocol/mime';
import { createActivation } from '../common/activation';
import { parseImagesPayload } from '../common/payloads';
import { renderImages } from './render';

export const activate = createActivation({ mime: Mime.images, parse: parseImagesPayload, render: renderImages });
