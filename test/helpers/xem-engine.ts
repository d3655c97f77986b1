import { requestHash } from '../../services/protocol/request-hash.js';
import type { FrameBody } from '../../services/protocol/frame-bodies.js';
import type { LoadedTool } from '../../services/xem-agent/bundles/loader.js';
import {
  createExecutionEngine,
  plainEnvironment,
  type ExecutionEngine,
} from '../../services/xem-agent/execution/engine.js';
import type { RouterCallback } from '../../services/xem-agent/executors/router-callback.js';
import { openOutbox, type Outbox } from '../../services/xem-agent/outbox.js';
import { silentLogger } from './logger.js';
import { waitFor } from './processes.js';

export interface EngineHarness {
  readonly engine: ExecutionEngine;
  readonly outbox: Outbox;
  /** Dispatches a call in the workspace and resolves with the result the outbox receives. */
  run(tool: string, args: Record<string, unknown>, timeoutMs?: number): Promise<FrameBody<'exec.result'>>;
  close(): void;
}

/** The XEM execution engine in this process, with an in-memory outbox and no mesh. */
export function engineHarness(options: {
  tools: () => ReadonlyMap<string, LoadedTool>;
  workspace: string;
  credentialsDir: string;
  routerCallback?: RouterCallback;
}): EngineHarness {
  const outbox = openOutbox(':memory:');
  const engine = createExecutionEngine({
    outbox,
    tools: options.tools,
    workspaces: () => [options.workspace],
    credentialsDir: options.credentialsDir,
    maxConcurrent: 4,
    logger: silentLogger(),
    send: () => undefined,
    deliver: () => undefined,
    baseEnv: plainEnvironment(process.env),
    ...(options.routerCallback ? { routerCallback: options.routerCallback } : {}),
  });
  let counter = 0;
  return {
    engine,
    outbox,
    run(tool, args, timeoutMs = 30_000) {
      const invocationId = `inv_local_${(counter += 1)}`;
      // Dispatched as the router would: at the tool's own risk, with the request's hash.
      const risk = options.tools().get(tool)?.spec.risk ?? 'read';
      const request_hash = requestHash({ tool, args, workspace_id: options.workspace });
      engine.dispatch({
        invocation_id: invocationId,
        attempt: 1,
        tool,
        workspace_id: options.workspace,
        risk,
        args,
        request_hash,
        timeout_ms: timeoutMs,
        not_after: Date.now() + 60_000,
      });
      return waitFor(`${tool} result`, timeoutMs + 10_000, () =>
        outbox
          .pending()
          .filter((frame) => frame.type === 'exec.result')
          .map((frame) => frame.body as FrameBody<'exec.result'>)
          .find((body) => body.invocation_id === invocationId),
      );
    },
    close: () => outbox.close(),
  };
}
