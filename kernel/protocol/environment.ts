/**
 * Environment variables a client sets for the kernel process it starts (besides the compute
 * backend's, `TRANSFERLAB_BACKEND` in ./backends.ts). Names only; imports nothing.
 */

/** The client's process id (the Jupyter convention): the kernel exits when that process is gone. */
export const PARENT_PID_ENV = 'JPY_PARENT_PID';

/**
 * `1` when the connection file's folder belongs to the client, so that a kernel outliving its
 * client (killed with SIGKILL) removes it, signing key included.
 */
export const OWNS_CONNECTION_FILE_ENV = 'TRANSFERLAB_OWNS_CONNECTION_FILE';
