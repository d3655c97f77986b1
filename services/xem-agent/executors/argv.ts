const PLACEHOLDER = /^\{\{([a-z_][a-z0-9_]{0,63})\}\}$/;

/**
 * Checks a bundle's argv template: a parameter may only fill a whole element (`{{name}}`), and
 * only parameters the schema declares. Returns a problem, or undefined when it is sound.
 */
export function checkArgvTemplate(argv: readonly string[], declared: readonly string[]): string | undefined {
  for (const element of argv) {
    const match = PLACEHOLDER.exec(element);
    if (match) {
      if (!declared.includes(match[1]!))
        return `argv uses {{${match[1]}}}, which the parameters schema does not declare`;
    } else if (element.includes('{{')) {
      return `argv element "${element.slice(0, 40)}" mixes text and a placeholder; parameters fill whole elements only`;
    }
  }
  return undefined;
}

/**
 * The argv to execute: placeholders replaced by the argument's text as one element each (never
 * through a shell, so `; rm -rf /` is just an odd database name). An absent optional argument
 * drops its element.
 */
export function renderArgv(argv: readonly string[], args: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const element of argv) {
    const match = PLACEHOLDER.exec(element);
    if (!match) {
      out.push(element);
      continue;
    }
    const value = args[match[1]!];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new TypeError(`argument ${match[1]} must be a string, number or boolean to fill argv`);
    }
    out.push(String(value));
  }
  return out;
}
