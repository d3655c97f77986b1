import type { Builtin } from './builtin.js';

/**
 * A clarifying question: the turn ends here, like at an approval, and the person's next message
 * is the answer the model reads (their words, or one of the choices).
 */
export const askUser: Builtin = {
  name: 'x_ask_user',
  risk: 'read',
  description:
    'Ask the person a clarifying question when you cannot go on without their answer (optionally with choices). The turn ends; their reply comes as the next message.',
  parameters: {
    type: 'object',
    properties: {
      question: { type: 'string', minLength: 1, maxLength: 2000 },
      choices: {
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: 200 },
        maxItems: 10,
        uniqueItems: true,
      },
    },
    required: ['question'],
    additionalProperties: false,
  },
  async run(_context, args) {
    const question = String(args['question']);
    const choices = (args['choices'] as string[] | undefined) ?? [];
    return { output: 'asked the person; their answer is their next message', error: null, ask: { question, choices } };
  },
};
