/**
 * `--server URL [--token-file FILE]`, as `transferlab run` and `transferlab sweep` take it: the
 * Jupyter Server client, its token from the file's first line, else `JUPYTER_TOKEN`, else a
 * `?token=` in the URL. A bad URL or an unreadable token file is a usage error.
 */
import { JupyterServer, JupyterServerError, tokenFromEnvironment } from '../client/jupyterServer';
import { UsageError } from './errors';

/**
 * The server of `--server URL` with its token.
 * @throws UsageError naming `--server` or `--token-file`.
 * @example
 * const server = serverOption('https://hub.example.org/user/ada/', values['token-file']);
 */
export function serverOption(url: string, tokenFile: string | undefined): JupyterServer {
  let token: string | undefined;
  try {
    token = tokenFromEnvironment(tokenFile !== undefined ? { tokenFile } : {});
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  try {
    return new JupyterServer({ url, ...(token !== undefined ? { token } : {}) });
  } catch (e) {
    if (e instanceof JupyterServerError) throw new UsageError(`--server: ${e.message}`);
    throw e;
  }
}
