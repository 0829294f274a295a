/**
 * A Jupyter Server reached over its REST API and kernel websockets (Jupyter Server, Notebook,
 * JupyterHub's single-user servers, Enterprise Gateway), through `@jupyterlab/services`. Starts
 * TransferLab kernels there as {@link RemoteKernelClient}s, which implement the same
 * {@link KernelConnection} interface as local kernels, so the extension and `transferlab run` do
 * not care where the kernel is.
 *
 * The token travels only in the `Authorization: token …` header, of REST calls and of the
 * websocket handshake: never in a URL, so a URL in a log, an error or a notebook cannot leak it.
 * Every message this module builds goes through {@link JupyterServer.redact} as well.
 */
import { readFileSync } from 'node:fs';
import { KernelAPI, KernelSpecAPI, ServerConnection, SessionAPI } from '@jupyterlab/services';
import WebSocket from 'ws';
import { RemoteKernelClient, type RemoteKernelOptions } from './remoteKernel';

export { RemoteKernelClient };

/** What went wrong talking to a Jupyter Server, one kind per thing the user does about it. */
export const JupyterServerErrorKind = {
  /** The URL is not an http(s) URL. */
  badUrl: 'bad-url',
  /** Nothing answered (connection refused, no such host, timeout). */
  unreachable: 'unreachable',
  /** The server refused the token (401, or 403 on a read). */
  unauthorized: 'unauthorized',
  /** The token was accepted but the action is not allowed (403). */
  forbidden: 'forbidden',
  /** The server wants an XSRF cookie: it did not take the token as authentication for a write. */
  xsrf: 'xsrf',
  /** The server has no `transferlab` kernelspec. */
  noKernelspec: 'no-kernelspec',
  /** No Jupyter API at this URL (a wrong base path), or the kernel is not there. */
  notFound: 'not-found',
  /** The server failed (5xx; JupyterHub's 503/424 when the user's server is not running). */
  serverError: 'server-error',
} as const;
export type JupyterServerErrorKind = (typeof JupyterServerErrorKind)[keyof typeof JupyterServerErrorKind];

/**
 * A Jupyter Server could not be used: the URL, the network, the token, the kernelspec. Raised by
 * {@link JupyterServer} methods; its message says what happened and what to do, and never holds
 * the token. Handled by the extension's "Connect to Jupyter Server" command (a message per kind),
 * `transferlab run --server` (printed, exit status 1) and `transferlab sweep` (a server that keeps
 * failing is retired).
 */
export class JupyterServerError extends Error {
  override readonly name = 'JupyterServerError';
  constructor(
    readonly kind: JupyterServerErrorKind,
    /** The server's URL (no token). */
    readonly url: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface JupyterServerOptions {
  /**
   * The server's URL with its base path, e.g. `http://lab-box:8888/` or JupyterHub's
   * `https://hub.example.org/user/ada/`. A `?token=…` in it is taken out and used as the token.
   */
  readonly url: string;
  /** The server's token; '' or undefined for a server without one (or the URL's). */
  readonly token?: string;
  /** Milliseconds a REST call may take (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Diagnostics (token-free). */
  readonly onLog?: (text: string) => void;
}

export interface StartKernelOptions extends Pick<RemoteKernelOptions, 'linkTimeoutMs' | 'onLog'> {
  /** The kernelspec (default `transferlab`). */
  readonly name?: string;
  /**
   * The notebook's path relative to the server's root: the kernel then starts in its folder, as a
   * session for it (POST /api/sessions). Without it the kernel starts in the server's root.
   */
  readonly path?: string;
  /** Milliseconds to wait for the kernel's kernel_info_reply (default 60 000). */
  readonly startTimeoutMs?: number;
}

/** The default kernelspec name of TransferLab (`transferlab kernel install`). */
export const KERNELSPEC_NAME = 'transferlab';

/**
 * The token for `--server`: the first line of `tokenFile` when given, else `JUPYTER_TOKEN`, else
 * undefined. (A token on the command line itself would show in `ps` and shell history.)
 * @example
 * const token = tokenFromEnvironment({ tokenFile: values['token-file'] });
 */
export function tokenFromEnvironment(options: { readonly tokenFile?: string | undefined; readonly env?: NodeJS.ProcessEnv } = {}): string | undefined {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (e) {
      throw new Error(`--token-file ${options.tokenFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const token = text.split(/\r?\n/)[0]!.trim();
    if (token === '') throw new Error(`--token-file ${options.tokenFile}: the file is empty`);
    return token;
  }
  const env = options.env ?? process.env;
  const t = env['JUPYTER_TOKEN'];
  return t !== undefined && t !== '' ? t : undefined;
}

/**
 * The URL in its one spelling (scheme, host, port, base path ending in '/'), and the token it
 * carried as `?token=`, if any.
 * @throws JupyterServerError (`bad-url`) for anything but an http(s) URL.
 */
export function normaliseServerUrl(raw: string): { url: string; token: string | undefined } {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new JupyterServerError(JupyterServerErrorKind.badUrl, redactUrl(raw), `"${redactUrl(raw)}" is not a URL: expected e.g. http://127.0.0.1:8888/ or https://hub.example.org/user/NAME/`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new JupyterServerError(JupyterServerErrorKind.badUrl, redactUrl(raw), `${redactUrl(raw)} is not an http(s) URL: a Jupyter Server is reached over http:// or https://`);
  }
  const token = u.searchParams.get('token') ?? undefined;
  let pathname = u.pathname;
  // A pasted link to the UI (…/lab, …/tree, …/lab/tree/x.ipynb) names the server by what precedes
  // it; but on JupyterHub `/user/lab/` is the server of a user called "lab".
  pathname = pathname.replace(/(^|\/)(?<!\/user\/)(lab|tree|notebooks|doc|edit|voila)(\/.*)?$/, (_m, lead: string) => `${lead}/`).replace(/\/\/$/, '/');
  if (!pathname.endsWith('/')) pathname += '/';
  const url = `${u.protocol}//${u.host}${pathname}`;
  return { url, token: token === '' ? undefined : token };
}

/** A URL with any `token=` query value and user:password removed (for messages). */
function redactUrl(raw: string): string {
  return raw.replace(/([?&]token=)[^&#\s]*/gi, '$1…').replace(/^(\w+:\/\/)[^@/\s]+@/, '$1');
}

/**
 * `@jupyterlab/services` writes a few diagnostics with console.debug/log/warn ("Starting
 * WebSocket: …", "Connection lost, reconnecting in …"). In a command-line tool that is noise on
 * stdout: {@link routeServicesNotesToLogs} sends them to the live clients' logs instead, and
 * passes everything else through unchanged.
 */
const SERVICES_NOTES = [/^Starting WebSocket: /, /^Connection lost, reconnecting in /, /^Kernel: \w+ \(/, /^Server selected unknown kernel wire protocol/];
const serviceLogSinks = new Set<(text: string) => void>();
let consoleFiltered = false;
/**
 * Sends `@jupyterlab/services`' console notes to the live remote kernels' logs instead of the
 * console. For a command-line process, whose console is its output; a shared process (VS Code's
 * extension host) leaves its console alone. Safe to call more than once.
 */
export function routeServicesNotesToLogs(): void {
  if (consoleFiltered) return;
  consoleFiltered = true;
  for (const level of ['debug', 'log', 'warn'] as const) {
    const original = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      const first = args[0];
      // services' ResponseError.create logs the JSON error of a non-JSON body (an HTML 404 page).
      const servicesNote = (typeof first === 'string' && SERVICES_NOTES.some((re) => re.test(first))) || (level === 'debug' && first instanceof SyntaxError);
      if (servicesNote) {
        const text = args.map(String).join(' ');
        for (const sink of serviceLogSinks) sink(text);
        return;
      }
      original(...args);
    };
  }
}

/** @internal Used by {@link RemoteKernelClient} to receive the services' notes while it lives. */
export function addServicesLogSink(sink: (text: string) => void): () => void {
  serviceLogSinks.add(sink);
  return () => serviceLogSinks.delete(sink);
}

/**
 * One Jupyter Server.
 * @example
 * const server = new JupyterServer({ url: 'https://hub.example.org/user/ada/', token: process.env.JUPYTER_TOKEN });
 * await server.checkKernelspec();
 * const kernel = await server.startKernel({ path: 'analysis/transfer.tsnb' });
 * await kernel.execute('tl.backend()');
 * await kernel.shutdown();
 */
export class JupyterServer {
  /** The normalised URL (base path ending in '/'); never holds the token. */
  readonly url: string;
  private readonly token: string;
  /** @internal The `@jupyterlab/services` settings (token in headers only). */
  readonly settings: ServerConnection.ISettings;

  constructor(private readonly options: JupyterServerOptions) {
    const { url, token } = normaliseServerUrl(options.url);
    this.url = url;
    this.token = options.token !== undefined && options.token !== '' ? options.token : (token ?? '');
    const authToken = this.token;
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    // The websocket handshake carries the token as a header (the `ws` package allows it; browsers
    // do not, which is why services' default appends it to the URL).
    class AuthorizedWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, authToken === '' ? {} : { headers: { Authorization: `token ${authToken}` } });
      }
    }
    // Node's fetch says only "fetch failed", the reason in its `cause`; services keeps the message
    // only, so the reason goes into it here ("fetch failed (ECONNREFUSED 127.0.0.1:8888)").
    const timedFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
      fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }).catch((e: unknown) => {
        const err = e as Error & { cause?: { code?: string; address?: string; port?: number } };
        const c = err.cause as { code?: string; message?: string; address?: string; port?: number } | undefined;
        const where = c?.address !== undefined ? ` ${c.address}${c.port !== undefined ? `:${c.port}` : ''}` : '';
        const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${err.message}${c?.code ? ` (${c.code}${where})` : c?.message ? ` (${c.message})` : ''}`;
        throw new TypeError(why);
      });
    this.settings = ServerConnection.makeSettings({
      baseUrl: url,
      wsUrl: url.replace(/^http/, 'ws'),
      token: this.token,
      appendToken: false,
      init: { cache: 'no-store', credentials: 'omit' } as RequestInit,
      fetch: timedFetch as typeof fetch,
      Request,
      Headers,
      WebSocket: AuthorizedWebSocket as unknown as typeof globalThis.WebSocket,
    });
  }

  /** Whether a token is set (for messages: "no token given"). */
  get hasToken(): boolean {
    return this.token !== '';
  }

  /** `text` with the token (and any `token=` query value) replaced by `…`. */
  redact(text: string): string {
    let t = redactUrl(text);
    if (this.token !== '') t = t.split(this.token).join('…');
    return t;
  }

  private log(text: string): void {
    this.options.onLog?.(this.redact(text));
  }

  /**
   * Calls the REST API; a failure becomes a {@link JupyterServerError} naming the URL, what went
   * wrong and what to do.
   */
  async call<T>(what: string, f: () => Promise<T>, write = false): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw await this.explain(what, e, write);
    }
  }

  private async explain(what: string, e: unknown, write: boolean): Promise<JupyterServerError> {
    if (e instanceof JupyterServerError) return e;
    const response = (e as { response?: Response }).response;
    if (response === undefined) {
      const cause = (e as { cause?: { message?: string; code?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
      const timedOut = /timeout|aborted/i.test(String((e as Error).name) + detail);
      return new JupyterServerError(
        JupyterServerErrorKind.unreachable,
        this.url,
        this.redact(`Could not reach the Jupyter Server at ${this.url} (${what}: ${timedOut ? 'no answer in time' : detail}). Is the server running, and is the URL right, with its base path (JupyterHub: /user/NAME/)?`),
        { cause: e },
      );
    }
    const status = response.status;
    let body = '';
    try {
      body = (e as { message?: string }).message ?? '';
    } catch {
      body = '';
    }
    const said = this.redact(body.split('\n')[0]!.slice(0, 200));
    if (status === 401 || (status === 403 && !write)) {
      return new JupyterServerError(
        JupyterServerErrorKind.unauthorized,
        this.url,
        this.hasToken
          ? `The Jupyter Server at ${this.url} refused the token (${status} on ${what}). Check the token: \`jupyter server list\` on the server shows it; on JupyterHub use a token from the Hub's Token page.`
          : `The Jupyter Server at ${this.url} needs a token (${status} on ${what}). Give it (VS Code: the token box; command line: --token-file FILE or JUPYTER_TOKEN).`,
        { cause: e },
      );
    }
    if (status === 403 && /xsrf/i.test(body)) {
      return new JupyterServerError(
        JupyterServerErrorKind.xsrf,
        this.url,
        `The Jupyter Server at ${this.url} asked for an XSRF cookie on ${what} (403): it did not take ${this.hasToken ? 'the token' : 'a missing token'} as authentication. Check the token${this.hasToken ? '' : ' (none was given)'}; a server that allows only password logins cannot be used from here.`,
        { cause: e },
      );
    }
    if (status === 403) {
      return new JupyterServerError(JupyterServerErrorKind.forbidden, this.url, `The Jupyter Server at ${this.url} does not allow ${what} (403${said ? `: ${said}` : ''}). The token is accepted but lacks the permission.`, { cause: e });
    }
    if (status === 404) {
      return new JupyterServerError(
        JupyterServerErrorKind.notFound,
        this.url,
        `No Jupyter Server API at ${this.url} (404 on ${what}). Check the base path (JupyterHub: /user/NAME/) and that the server is running.`,
        { cause: e },
      );
    }
    const hub = status === 503 || status === 424 ? ' (JupyterHub answers so when the user\'s server is not running: start it from the Hub)' : '';
    return new JupyterServerError(JupyterServerErrorKind.serverError, this.url, `The Jupyter Server at ${this.url} failed on ${what} (${status}${said ? `: ${said}` : ''})${hub}.`, { cause: e });
  }

  /**
   * The server's kernelspec `name` (default `transferlab`): checks the URL, the base path, the
   * token and the kernelspec in one go.
   * @throws JupyterServerError `no-kernelspec` (naming the ones it has), or why the server could not be asked.
   */
  async checkKernelspec(name = KERNELSPEC_NAME): Promise<{ name: string; displayName: string }> {
    // GET {base}api answers without a token: tells a wrong base path from a wrong token.
    await this.call('GET api', async () => {
      const r = await ServerConnection.makeRequest(`${this.url}api`, {}, this.settings);
      if (!r.ok) throw await ServerConnection.ResponseError.create(r);
      return r;
    });
    const specs = await this.call('GET api/kernelspecs', () => KernelSpecAPI.getSpecs(this.settings));
    const spec = specs.kernelspecs[name];
    if (!spec) {
      const have = Object.keys(specs.kernelspecs);
      throw new JupyterServerError(
        JupyterServerErrorKind.noKernelspec,
        this.url,
        `The Jupyter Server at ${this.url} has no "${name}" kernelspec (it has: ${have.length ? have.join(', ') : 'none'}). Install it on the server: \`npx transferlab kernel install --sys-prefix\` in the server's environment (docs/remote.md).`,
      );
    }
    return { name: spec.name, displayName: spec.display_name };
  }

  /**
   * Starts a kernel on the server and connects to it (REST, then the websocket); resolves once it
   * answered kernel_info.
   * @throws JupyterServerError when the server refuses or cannot be reached; KernelStartError when
   *   the kernel never answers.
   */
  async startKernel(options: StartKernelOptions = {}): Promise<RemoteKernelClient> {
    const name = options.name ?? KERNELSPEC_NAME;
    await this.checkKernelspec(name);
    let kernelId: string;
    let sessionId: string | undefined;
    if (options.path !== undefined) {
      const session = await this.call(
        'POST api/sessions',
        () => SessionAPI.startSession({ path: options.path!, name: options.path!.split('/').pop()!, type: 'notebook', kernel: { name } } as never, this.settings),
        true,
      );
      kernelId = session.kernel!.id;
      sessionId = session.id;
    } else {
      kernelId = (await this.call('POST api/kernels', () => KernelAPI.startNew({ name }, this.settings), true)).id;
    }
    this.log(`started kernel ${kernelId} (${name}) on ${this.url}`);
    const client = new RemoteKernelClient(this, { kernelId, name, ...(sessionId !== undefined ? { sessionId } : {}), ...options });
    try {
      await client.connect(options.startTimeoutMs ?? 60_000);
    } catch (e) {
      await client.shutdown().catch(() => undefined);
      throw e;
    }
    return client;
  }

  /** Connects to a kernel already running on the server (by id), keeping its state. */
  async connectKernel(kernelId: string, options: Omit<StartKernelOptions, 'path'> = {}): Promise<RemoteKernelClient> {
    const model = await this.call(`GET api/kernels/${kernelId}`, () => KernelAPI.getKernelModel(kernelId, this.settings));
    if (!model) throw new JupyterServerError(JupyterServerErrorKind.notFound, this.url, `The Jupyter Server at ${this.url} has no kernel ${kernelId} (it was shut down, culled, or the server restarted).`);
    const client = new RemoteKernelClient(this, { kernelId, name: model.name, ...options });
    await client.connect(options.startTimeoutMs ?? 60_000);
    return client;
  }

  /** Whether the kernel still exists on the server: true, false (404), or undefined (server unreachable). */
  async kernelExists(kernelId: string): Promise<boolean | undefined> {
    try {
      return (await KernelAPI.getKernelModel(kernelId, this.settings)) !== undefined;
    } catch (e) {
      if ((e as { response?: Response }).response === undefined) return undefined;
      throw await this.explain(`GET api/kernels/${kernelId}`, e, false);
    }
  }

  /** Shuts a kernel down through REST (DELETE api/kernels/ID), or its session when it has one. */
  async shutdownKernel(kernelId: string, sessionId?: string): Promise<void> {
    if (sessionId !== undefined) {
      await this.call(`DELETE api/sessions/${sessionId}`, () => SessionAPI.shutdownSession(sessionId, this.settings), true);
      return;
    }
    await this.call(`DELETE api/kernels/${kernelId}`, () => KernelAPI.shutdownKernel(kernelId, this.settings), true);
  }
}
