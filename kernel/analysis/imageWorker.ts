/**
 * An image-decoding worker thread for the streamed image folder: its own entry, bundled as
 * dist/imageWorker.js (esbuild.mjs) and started by ./imageStream.ts (from source under tsx in
 * tests). Each message is one batch: it reads, decodes and transforms the batch's files
 * (./imageDecode.ts, no TensorFlow.js here) and sends back the batch's pixels, transferring the
 * buffer. A file that fails is reported with its message; the thread stays up for the next job.
 */
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { DecodeError, transformExample } from './imageDecode';
import type { DecodeJob, DecodeReply } from './imageStreamProtocol';

parentPort?.on('message', (job: DecodeJob) => {
  const size = job.transform.size[0] * job.transform.size[1] * job.transform.channels;
  const pixels = new Float32Array(job.files.length * size);
  let reply: DecodeReply;
  try {
    job.files.forEach((file, i) => {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new DecodeError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      transformExample(file, bytes, job.transform, job.seeds[i]!, pixels, i * size, job.expect);
    });
    reply = { id: job.id, pixels };
  } catch (e) {
    reply = { id: job.id, error: { file: e instanceof DecodeError ? e.file : '', message: (e as Error).message } };
  }
  parentPort!.postMessage(reply, reply.pixels ? [reply.pixels.buffer as ArrayBuffer] : []);
});
