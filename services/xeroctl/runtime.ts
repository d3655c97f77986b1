import type { Command } from 'commander';
import { CliError, EXIT } from './exit-codes.js';
import { createRouterClient, type RouterClient } from './http/router-client.js';
import { render, renderFields, type Column, type Format } from './output/render.js';
import { paint, type Style, type Terminal } from './output/terminal.js';
import {
  configPath,
  readConfigFile,
  writeConfigFile,
  type ConfigFile,
  type StoredSession,
} from './settings/config-file.js';
import { resolveConnection, type Connection } from './settings/connection.js';

/** Everything from outside a run: the process's environment, I/O, network and clock, passed in. */
export interface CliDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly terminal: Terminal;
  readonly fetch: typeof fetch;
  readonly now: () => Date;
  readonly readFile: (path: string) => string;
  readonly version: string;
  /** Aborted on Ctrl-C: waits and streams stop, and the run ends 130. */
  readonly interrupted: AbortSignal;
}

export interface GlobalOptions {
  readonly context?: string;
  readonly url?: string;
  readonly project?: string;
  readonly output: Format;
  readonly config?: string;
  readonly color: boolean;
}

/** Sessions are refreshed when they have less than this left, so a long `--wait` never lapses. */
const REFRESH_BEFORE_MS = 10 * 60_000;

/** One command's run: its options, the config file, a client for the selected context, and printing. */
export class Run {
  readonly format: Format;
  private clientMade?: Promise<RouterClient>;

  constructor(
    readonly deps: CliDeps,
    readonly globals: GlobalOptions,
  ) {
    this.format = globals.output;
  }

  static of(deps: CliDeps, command: Command): Run {
    return new Run(deps, command.optsWithGlobals() as GlobalOptions);
  }

  get configPath(): string {
    return configPath(this.globals.config, this.deps.env);
  }
  readConfig(): ConfigFile {
    return readConfigFile(this.configPath);
  }
  writeConfig(config: ConfigFile): void {
    writeConfigFile(this.configPath, config);
  }

  connection(): Connection {
    return resolveConnection(this.readConfig(), this.globals, this.deps.env, this.deps.readFile);
  }

  /**
   * A client of the selected context as it is, nothing refreshed: for signing in (`anonymous`,
   * no credentials sent) and out, which must work when the stored session has lapsed.
   */
  plainClient(options: { anonymous?: boolean } = {}): RouterClient {
    const { key: _key, session: _session, ...bare } = this.connection();
    return createRouterClient(
      options.anonymous ? { ...bare, keySource: 'none' } : this.connection(),
      this.deps.fetch,
      this.deps.interrupted,
    );
  }

  /** The client of the selected context, its session refreshed first when it is about to lapse. */
  client(): Promise<RouterClient> {
    this.clientMade ??= this.makeClient();
    return this.clientMade;
  }

  private async makeClient(): Promise<RouterClient> {
    const connection = this.connection();
    const client = createRouterClient(connection, this.deps.fetch, this.deps.interrupted);
    const session = connection.session;
    if (!session || Date.parse(session.expires_at) - this.deps.now().getTime() > REFRESH_BEFORE_MS) return client;
    const refreshed = await client
      .call<{ expires_at: string; refresh_until: string }>('POST', 'auth/sessions/current/refresh')
      .catch((error: unknown) => {
        if (!(error instanceof CliError) || error.exitCode !== EXIT.auth) throw error;
        throw new CliError(
          `the session of context "${connection.context}" has lapsed or was ended: sign in again (xeroctl login)`,
          EXIT.auth,
          error.code,
        );
      });
    this.storeSession(connection.context!, {
      ...session,
      expires_at: refreshed.expires_at,
      refresh_until: refreshed.refresh_until,
    });
    return client;
  }

  storeSession(contextName: string, session: StoredSession | undefined): void {
    const config = this.readConfig();
    const context = config.contexts[contextName];
    if (!context) return;
    const { credentials: _old, ...rest } = context;
    const contexts = { ...config.contexts, [contextName]: session ? { ...rest, credentials: { session } } : rest };
    this.writeConfig({ ...config, contexts });
  }

  paint(style: Style, text: string): string {
    return paint(this.deps.terminal.color, style, text);
  }
  out(text: string): void {
    this.deps.terminal.out(text);
  }
  /** Notes for people (progress, hints) go to stderr, so stdout stays the answer. */
  note(text: string): void {
    this.deps.terminal.err(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A list answer (`{object: "list", data, has_more, next_cursor}`) in the chosen format. */
  list(
    answer: { data?: unknown[]; has_more?: boolean; next_cursor?: string | null },
    columns: readonly Column[],
  ): void {
    const rows = (answer.data ?? []) as Record<string, unknown>[];
    this.out(render(answer, rows, columns, this.format, (text) => this.paint('bold', text)));
    if (answer.has_more && (this.format === 'table' || this.format === 'wide'))
      this.note(`More: add --after ${answer.next_cursor}`);
  }

  /** A change done: a sentence for people, the router's answer for machines. */
  said(answer: Record<string, unknown>, sentence: string): void {
    if (this.format === 'table' || this.format === 'wide') this.note(sentence);
    else this.show(answer, []);
  }

  /** One object: its fields for people, or the router's answer whole. */
  show(answer: Record<string, unknown>, fields: readonly Column[]): void {
    if (this.format === 'table' || this.format === 'wide')
      this.out(renderFields(answer, fields, (text) => this.paint('bold', text)));
    else this.out(render(answer, [answer], fields, this.format));
  }
}
