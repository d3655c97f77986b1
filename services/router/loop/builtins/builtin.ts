import type { Pool } from '../../store/pool.js';
import type { ActingPrincipal } from '../../store/audit-log.js';
import type { LoopExecDeps } from '../run-tool.js';

/** What a built-in is told of the turn it runs in. */
export interface BuiltinContext {
  readonly pool: Pool;
  readonly exec: LoopExecDeps;
  readonly projectId: string;
  /** The workspaces this turn offers and its home one: a built-in reaches nothing else. */
  readonly workspaceIds: ReadonlySet<string>;
  /** Where what a built-in writes goes: the chat's workspace (else the first offered, else the default) and the chat. */
  readonly home: { readonly workspaceId: string; readonly chatId: string | null };
  readonly requester: ActingPrincipal;
}

export interface BuiltinResult {
  readonly output: string;
  readonly error: string | null;
  /** The turn ends here and waits for the person (x_ask_user), with what to tell them. */
  readonly ask?: { readonly question: string; readonly choices: readonly string[] };
}

/**
 * A tool the router runs itself (never dispatched to an agent). Built-ins touch only the
 * router's own conversational data (artifacts, memories, mockups), never infrastructure, so
 * they need no approval; every write is audited like any other change.
 */
export interface Builtin {
  readonly name: `x_${string}`;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  readonly risk: 'read' | 'write';
  run(context: BuiltinContext, args: Record<string, unknown>): Promise<BuiltinResult>;
}

/** A failed built-in call: what the model is told. */
export const refusal = (error: string): BuiltinResult => ({ output: '', error });

/** An argument as text (the schema already said it is one; anything else reads as the fallback). */
export const text = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);
