import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { integerIn, type Kit } from '../kit.js';
import { text, type Column } from '../output/render.js';

type Row = Record<string, unknown>;

const COLUMNS: Column[] = [
  { header: 'POSITION', value: (row) => row['position'] ?? row['id'] },
  { header: 'AT', value: (row) => row['at'] },
  { header: 'EVENT', value: (row) => row['event'] },
  { header: 'SUBJECT', value: (row) => row['subject'] },
  { header: 'ACTOR', value: (row) => row['actor'] },
  { header: 'DETAIL', value: (row) => row['detail'], wide: true },
  { header: 'SIGNED', value: (row) => row['signed'], wide: true },
];

/** A checkpoint file: one JSON object, or a `checkpoints.jsonl` whose last line is the newest. */
export function lastCheckpoint(text: string, path: string): Row {
  const line = text.trim().split('\n').filter(Boolean).at(-1);
  try {
    return JSON.parse(line ?? '') as Row;
  } catch {
    throw new CliError(`${path}: no checkpoint (one JSON object, or JSON lines)`, EXIT.usage, 'usage');
  }
}

/** The verdict for people: intact, or the row that is not and why. */
export function verdictText(verdict: Row): string {
  const broken = verdict['first_broken'] as Row | null;
  const signatures = verdict['signatures'] as Row;
  const checkpoint = verdict['checkpoint'] as Row | null;
  const lines = [
    verdict['ok']
      ? `Intact: ${text(verdict['entries'])} entries`
      : `BROKEN: ${broken ? `row ${text(broken['position'])} (${text(broken['problem'])})` : 'the checkpoint does not hold'}`,
    `Agent signatures: ${text(signatures['verified'])} verified${signatures['unverifiable'] ? `, ${text(signatures['unverifiable'])} unverifiable (stored before results were signed)` : ''}`,
    ...(checkpoint
      ? [
          `Checkpoint at ${text(checkpoint['position'])}: ${checkpoint['ok'] ? 'holds' : `fails (${text(checkpoint['problem'])}; the chain's head is ${text(checkpoint['head'])})`}`,
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerAudit(program: Command, kit: Kit): void {
  const audit = program.command('audit').description('the hash-chained audit log');
  const list = audit
    .command('list')
    .description('entries, newest first')
    .option('--event <name>', 'only this event (e.g. approval.decided)')
    .option('--subject <id>', 'only about this (an invocation, agent, key…)')
    .option('--actor <actor>', 'only by this (key:key_…, agent:agt_…, usr_…, router)')
    .addOption(new Option('--limit <n>', 'how many (1–100)').argParser(integerIn(1, 100)))
    .option('--before <position>', 'the page before this position (the hint under a long list says it)');
  kit.examples(
    list,
    'xeroctl audit list --subject inv_0123456789abcdef01234567',
    'xeroctl audit list --event invocation.succeeded --limit 100 -o json',
  );
  kit.act<{ event?: string; subject?: string; actor?: string; limit?: number; before?: string }>(
    list,
    async (run, options) => {
      const answer = await (
        await run.client()
      ).call<Row>('GET', 'management/audit', {
        query: {
          event: options.event,
          subject: options.subject,
          actor: options.actor,
          limit: options.limit,
          before: options.before,
        },
      });
      run.list({ ...answer, has_more: false }, COLUMNS);
      if (answer['next_cursor'] && run.format === 'table')
        run.note(`More: add --before ${text(answer['next_cursor'])}`);
    },
  );
  const verify = audit
    .command('verify')
    .description('recompute the chain and every agent signature; exit 0 if intact, 1 naming the first broken row')
    .option(
      '--checkpoint <file>',
      'also check a signed checkpoint kept outside the database (checkpoints.jsonl: its last line)',
    );
  kit.examples(verify, 'xeroctl audit verify', 'xeroctl audit verify --checkpoint /var/lib/xerotier/checkpoints.jsonl');
  kit.act<{ checkpoint?: string }>(verify, async (run, options) => {
    const client = await run.client();
    const verdict = options.checkpoint
      ? await client.call<Row>('POST', 'management/audit/verify', {
          body: { checkpoint: lastCheckpoint(kit.deps.readFile(options.checkpoint), options.checkpoint) },
        })
      : await client.call<Row>('GET', 'management/audit/verify');
    if (run.format === 'table' || run.format === 'wide') run.out(verdictText(verdict));
    else run.show(verdict, []);
    if (!verdict['ok']) {
      const broken = verdict['first_broken'] as Row | null;
      throw new CliError(
        broken
          ? `the audit log is broken at row ${text(broken['position'])} (${text(broken['problem'])})`
          : 'the checkpoint does not hold',
        EXIT.error,
        'audit_broken',
      );
    }
  });
}
