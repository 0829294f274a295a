/**
 * Error classes of the transfer-analysis API. One class per failure a user can meet; each says
 * what causes it and who is expected to handle it. Messages name the function, the argument and
 * the offending shapes or values, e.g. `tl.blockShuffle: blockSize 5 does not divide H = 28`.
 */

/** Base class of every error thrown by `tl`. Catch this to handle any TransferLab failure. */
export class TransferLabError extends Error {
  override name = 'TransferLabError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A public function was called with an argument of the wrong type, range or shape. Caused by the
 * caller; the message names the function, the argument and what was expected. Not retried.
 */
export class InvalidArgumentError extends TransferLabError {
  override name = 'InvalidArgumentError';
  constructor(
    /** The public function, e.g. `tl.blockShuffle`. */
    readonly fn: string,
    /** The argument (or option) at fault, e.g. `blockSize` or `options.seed`. */
    readonly argument: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${fn}: ${argument} ${detail}`, options);
  }
}

/**
 * Two inputs that must agree in shape do not (images vs labels, weights vs model, data vs model
 * input). A special case of {@link InvalidArgumentError}; the message gives both shapes.
 */
export class ShapeMismatchError extends InvalidArgumentError {
  override name = 'ShapeMismatchError';
}

/**
 * A backend that was asked for (argument or `TRANSFERLAB_BACKEND`) cannot start: the package is
 * not installed, no GPU adapter was found, the WebAssembly binary failed to load... There is no
 * silent fallback; the message says why and what to install. Handled by the user (pick another
 * backend or install what is missing); the kernel reports it when it initialises the backend.
 */
export class BackendUnavailableError extends TransferLabError {
  override name = 'BackendUnavailableError';
  constructor(
    readonly backend: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`backend '${backend}' cannot start: ${reason}`, options);
  }
}

/**
 * Base of the errors about one file or folder: the function, the path and the fault, as
 * `fn: path: detail`. Catch its subclasses; it is never thrown itself.
 */
export abstract class FileFaultError extends TransferLabError {
  constructor(
    readonly fn: string,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${fn}: ${path}: ${detail}`, options);
  }
}

/**
 * A data set could not be read: a missing path, a file that is not IDX/PNG/JPEG, images of
 * differing sizes, a folder without class sub-folders. The message names the path and the fault.
 */
export class DatasetError extends FileFaultError {
  override name = 'DatasetError';
}

/**
 * A saved model or checkpoint could not be written or read back: a missing manifest, a weights
 * file of the wrong length, an unknown architecture, a format version from the future.
 */
export class CheckpointError extends FileFaultError {
  override name = 'CheckpointError';
}

/**
 * Training diverged (the loss became NaN or infinite). Usually a learning rate that is too high.
 * The message gives the run, epoch and step.
 */
export class TrainingDivergedError extends TransferLabError {
  override name = 'TrainingDivergedError';
}

/**
 * A tensor file from another framework (NumPy `.npy`/`.npz`, `safetensors`) could not be read or
 * written: a missing file, a bad magic string, a malformed or oversized header, data shorter or
 * longer than the header says, offsets outside the file, a dtype TensorFlow.js cannot hold, an
 * integer too large for int32. The message names the file (and the array inside an archive) and
 * what was wrong. Handled by the user (fix or re-export the file).
 */
export class TensorFileError extends FileFaultError {
  override name = 'TensorFileError';
}
