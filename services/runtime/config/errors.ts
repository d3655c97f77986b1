export type ConfigLayer = 'default' | 'file' | 'env' | 'flag';

/** Where a raw value came from, for messages: the layer and the file, variable or flag. */
export interface ConfigSource {
  readonly layer: ConfigLayer;
  readonly where: string;
}

export interface ConfigIssue {
  readonly key: string;
  readonly problem: 'invalid' | 'missing';
  readonly expected: string;
  readonly got?: string;
  readonly source?: ConfigSource;
  /** For missing keys: every way the key could have been set. */
  readonly howToSet?: string;
}

export const ConfigErrorCode = {
  invalidConfigFile: 'invalidConfigFile',
  invalidConfigValue: 'invalidConfigValue',
  missingRequiredConfig: 'missingRequiredConfig',
  invalidConfigFlag: 'invalidConfigFlag',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }
}

/** One error for every problem found, so an operator fixes them in one pass. */
export function configErrorFromIssues(service: string, issues: readonly ConfigIssue[]): ConfigError {
  const invalid = issues.filter((issue) => issue.problem === 'invalid');
  const missing = issues.filter((issue) => issue.problem === 'missing');
  const lines: string[] = [];
  if (invalid.length > 0) {
    lines.push(`invalid ${service} configuration:`);
    for (const issue of invalid) lines.push(`  - ${describeInvalid(issue)}`);
  }
  if (missing.length > 0) {
    lines.push(`missing required ${service} settings: ${missing.map((issue) => issue.key).join(', ')}`);
    for (const issue of missing) lines.push(`  - ${issue.key}: set ${issue.howToSet ?? 'it'}`);
  }
  const code = invalid.length > 0 ? ConfigErrorCode.invalidConfigValue : ConfigErrorCode.missingRequiredConfig;
  return new ConfigError(code, lines.join('\n'), issues);
}

function describeInvalid(issue: ConfigIssue): string {
  const got = issue.got === undefined ? '' : `, got ${issue.got}`;
  const from = issue.source ? ` (from ${describeSource(issue.source)})` : '';
  return `${issue.key}: expected ${issue.expected}${got}${from}`;
}

export function describeSource(source: ConfigSource): string {
  switch (source.layer) {
    case 'file':
      return `file ${source.where}`;
    case 'env':
      return `env ${source.where}`;
    case 'flag':
      return `flag --${source.where}`;
    case 'default':
      return 'built-in default';
  }
}
