/** Where a command writes, and whether a person is watching (colour, spinners, prompts). */
export interface Terminal {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** stdout is a terminal: tables may be coloured and live status lines drawn on stderr. */
  readonly interactive: boolean;
  /** A person can answer a question: stdin and stderr are terminals (a piped stdout does not matter). */
  readonly canPrompt: boolean;
  readonly color: boolean;
  /** A line typed by the person (REPL, prompts); undefined at end of input. */
  readonly readLine: (prompt: string) => Promise<string | undefined>;
  /** A secret typed without echo (passwords). */
  readonly readSecret: (prompt: string) => Promise<string | undefined>;
}

/** No person and no output: for reading the command tree (the reference), and a base for tests. */
export const SILENT_TERMINAL: Terminal = Object.freeze({
  out: () => undefined,
  err: () => undefined,
  interactive: false,
  canPrompt: false,
  color: false,
  readLine: async () => undefined,
  readSecret: async () => undefined,
});

/** NO_COLOR (any value) and `--no-color` turn colour off; CLICOLOR_FORCE or FORCE_COLOR turn it on. */
export function colorWanted(env: NodeJS.ProcessEnv, isTTY: boolean, flag: boolean): boolean {
  if (!flag || env['NO_COLOR'] !== undefined) return false;
  if (env['CLICOLOR_FORCE'] === '1' || (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0')) return true;
  return isTTY && env['TERM'] !== 'dumb';
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;
export type Style = keyof typeof CODES;

export const paint = (enabled: boolean, style: Style, text: string) =>
  enabled ? `\u001b[${CODES[style][0]}m${text}\u001b[${CODES[style][1]}m` : text;

/** Risk as a word people notice. */
export function riskStyle(risk: unknown): Style {
  return risk === 'irreversible' ? 'red' : risk === 'destructive' ? 'yellow' : risk === 'write' ? 'cyan' : 'green';
}
