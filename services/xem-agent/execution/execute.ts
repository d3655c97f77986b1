import { resolve } from 'node:path';
import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import { createRedactor } from '../../runtime/redact.js';
import { createStreamScrubber } from '../../runtime/redact-stream.js';
import type { LoadedTool } from '../bundles/loader.js';
import { renderArgv } from '../executors/argv.js';
import { processStartTicks, runCommand } from '../executors/command.js';
import { resolveCredentials } from '../executors/credentials.js';
import { headersFromCredentials, runHttp } from '../executors/http.js';
import { callMcpTool } from '../executors/mcp.js';
import { deepThink, type RouterCallback } from '../executors/router-callback.js';
import type { DispatchKey, Outbox } from '../outbox.js';
import type { Dispatch } from './dispatch-check.js';

export type Result = FrameBody<'exec.result'>;
export type Stopping = 'cancelled' | 'interrupted';

export const MAX_OUTPUT = 256 * 1024;
/** A command's output is kept up to this much, sent in MAX_OUTPUT chunks (at most 16). */
const MAX_CAPTURE = 16 * MAX_OUTPUT;
const MAX_PROGRESS = 1024 * 1024;

/** What running one call needs from the engine. */
export interface ExecuteContext {
  readonly credentialsDir: string;
  readonly baseEnv: Record<string, string>;
  readonly outbox: Outbox;
  readonly routerCallback?: RouterCallback;
  /** Live progress for this call (not durable). */
  readonly send: <T extends FrameType>(type: T, body: FrameBody<T>) => void;
  /** Why the call is being stopped, if it is (cancel or shutdown), read when it ends. */
  readonly stopping: () => Stopping | undefined;
}

/**
 * Runs one checked call with the executor its tool names (MCP, router callback, HTTP or a
 * command), credentials from the workspace's folder, and everything it prints scrubbed of them.
 */
export async function execute(
  context: ExecuteContext,
  dispatch: Dispatch,
  tool: LoadedTool,
  signal: AbortSignal,
): Promise<Result> {
  const credentials = tool.spec.credentials_ref
    ? resolveCredentials(context.credentialsDir, dispatch.workspace_id, tool.spec.credentials_ref)
    : { env: {}, secrets: [] };
  const redactor = createRedactor(credentials.secrets);
  const timeoutMs = Math.min(dispatch.timeout_ms, tool.spec.timeout_ms);
  const started = Date.now();
  const done = { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt };
  const ended = (called: { cancelled: boolean; timedOut: boolean }, ok: boolean) =>
    settled(called, ok, context.stopping());
  if (tool.mcp) {
    const called = await callMcpTool(
      tool,
      dispatch.args,
      { ...context.baseEnv, ...credentials.env },
      timeoutMs,
      signal,
    );
    return {
      ...done,
      status: ended(called, !called.isError),
      exit_code: null,
      ...capped(redactor.text(called.output)),
      duration_ms: Date.now() - started,
    };
  }
  if (tool.callback) {
    const called = await deepThink(context.routerCallback!, dispatch.args, timeoutMs, signal);
    const output = createRedactor([context.routerCallback!.token]).text(called.output);
    return {
      ...done,
      status: ended(called, called.ok),
      exit_code: null,
      ...capped(output),
      duration_ms: Date.now() - started,
    };
  }
  if (tool.spec.http) {
    const called = await runHttp(
      tool.spec.http,
      dispatch.args,
      headersFromCredentials(credentials.env),
      timeoutMs,
      signal,
    );
    const error = called.error
      ? { error: { code: called.error.code, message: redactor.text(called.error.message).slice(0, 1024) } }
      : {};
    return {
      ...done,
      status: ended(called, called.status !== null && called.status >= 200 && called.status < 300),
      exit_code: null,
      output: redactor.text(called.output),
      output_truncated: called.truncated,
      duration_ms: Date.now() - started,
      ...error,
    };
  }
  const command = tool.spec.command!;
  const live = liveOutput(context, done, redactor);
  const outcome = await runCommand({
    argv: renderArgv(command.argv, dispatch.args),
    cwd: resolve(tool.bundleDir, command.cwd ?? '.'),
    env: { ...context.baseEnv, ...command.env, ...credentials.env },
    timeoutMs,
    signal,
    onOutput: live.onOutput,
    maxOutputBytes: MAX_CAPTURE,
    onStart: (pid) => context.outbox.started(dispatch, pid, processStartTicks(pid)),
  });
  live.end();
  return {
    ...done,
    status: ended(outcome, outcome.exitCode === 0),
    exit_code: outcome.exitCode,
    output: redactor.text(outcome.output),
    output_truncated: outcome.truncated,
    duration_ms: outcome.durationMs,
  };
}

/** Progress frames as a command prints: scrubbed per stream across chunk boundaries, capped per call. */
function liveOutput(context: ExecuteContext, done: DispatchKey, redactor: ReturnType<typeof createRedactor>) {
  const progress = { seq: 0, bytes: 0 };
  const scrubbers = { stdout: createStreamScrubber(redactor), stderr: createStreamScrubber(redactor) };
  const emit = (stream: 'stdout' | 'stderr', data: string) =>
    data && context.send('exec.progress', { ...done, seq: progress.seq++, stream, data: data.slice(0, 256 * 1024) });
  return {
    onOutput: (stream: 'stdout' | 'stderr', text: string) => {
      if (progress.bytes > MAX_PROGRESS) return;
      progress.bytes += text.length;
      if (progress.bytes <= MAX_PROGRESS) emit(stream, scrubbers[stream].push(text));
      else
        context.send('exec.progress', {
          ...done,
          seq: progress.seq++,
          stream: 'status',
          data: `live output stops after ${MAX_PROGRESS} bytes; the result carries the captured output`,
        });
    },
    end: () => {
      for (const stream of ['stdout', 'stderr'] as const) emit(stream, scrubbers[stream].end());
    },
  };
}

/** How a call ended, whatever ran it: stopped by us, out of time, or its own verdict. */
function settled(
  ended: { cancelled: boolean; timedOut: boolean },
  ok: boolean,
  stopping: Stopping | undefined,
): Result['status'] {
  if (ended.cancelled) return stopping ?? 'cancelled';
  if (ended.timedOut) return 'timed_out';
  return ok ? 'succeeded' : 'failed';
}

function capped(output: string): Pick<Result, 'output' | 'output_truncated'> {
  return { output: output.slice(0, MAX_OUTPUT), output_truncated: output.length > MAX_OUTPUT };
}
