/** No arguments at all: most test tools take none. */
export const NO_ARGUMENTS = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * One command tool of a XEM tool bundle, as `bundle.yaml` declares it (docs/xem-agent.md): the
 * shape tests write bundles in, with only what differs from tool to tool spelled out.
 */
export function commandTool(
  name: string,
  // Any string: attacker tests declare risks no bundle should.
  risk: string,
  argv: readonly string[],
  options: { description?: string; timeoutMs?: number; parameters?: object } = {},
) {
  return {
    name,
    description: options.description ?? name,
    risk,
    timeout_ms: options.timeoutMs ?? 30_000,
    parameters: options.parameters ?? NO_ARGUMENTS,
    command: { argv: [...argv] },
  };
}

const labTool = (name: string, risk: string, argv: string[], description: string) =>
  commandTool(name, risk, argv, { description, timeoutMs: 10_000 });

/**
 * The lab's tools the loop's tests offer the model, one of each risk: what they print is what
 * the tests look for, and `big_report` (2,000 numbered lines, about 50 KB) is past the artifact
 * threshold.
 */
export const LAB_TOOLS = {
  disk_usage: labTool('disk_usage', 'read', ['echo', 'disk 42% full'], 'How full the disks are'),
  uptime: labTool('uptime', 'read', ['echo', 'up 3 days'], 'How long the host has run'),
  big_report: labTool(
    'big_report',
    'read',
    ['sh', '-c', 'i=1; while [ $i -le 2000 ]; do echo "line $i of the big report"; i=$((i+1)); done'],
    'A long report',
  ),
  set_flag: labTool('set_flag', 'write', ['echo', 'flag set'], 'Set a feature flag'),
  restart_service: labTool('restart_service', 'destructive', ['echo', 'restarted'], 'Restart a service'),
  wipe_volume: labTool('wipe_volume', 'irreversible', ['echo', 'wiped'], 'Wipe a volume for good'),
};

/** A bundle of some of the lab's tools. */
export function labBundle(...names: (keyof typeof LAB_TOOLS)[]) {
  return () => ({ name: 'labkit', version: '1', domain: 'ops', tools: names.map((name) => LAB_TOOLS[name]) });
}
