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
