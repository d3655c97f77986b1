import type { FrameBody } from '../../protocol/frame-bodies.js';
import { verifyFrame } from '../../protocol/signing.js';
import type { Frame } from '../../protocol/frame.js';
import { chainAt } from '../store/audit-checkpoints.js';
import { verifyAuditChain } from '../store/audit-log.js';
import { signedEntries, type SignedEntry } from '../store/audit-signatures.js';
import type { Queryable } from '../store/db.js';
import { checkpointSignedBy, type Checkpoint } from './checkpoint.js';

export type ChainProblem = 'hash_mismatch' | 'chain_break' | 'position_gap' | 'signature_invalid' | 'signature_missing';
export type CheckpointProblem = 'checkpoint_invalid' | 'truncated' | 'rechained';

export interface AuditVerdict {
  readonly ok: boolean;
  readonly entries: number;
  /** The first row that fails, and how. */
  readonly first_broken: { readonly position: number; readonly problem: ChainProblem } | null;
  readonly signatures: { readonly verified: number; readonly unverifiable: number };
  /** Against a checkpoint the caller kept: does the chain still hold what it signed? */
  readonly checkpoint: {
    readonly position: number;
    readonly ok: boolean;
    readonly problem: CheckpointProblem | null;
    readonly head: number;
  } | null;
}

const BATCH = 1_000;

/**
 * Everything `audit verify` checks: the hash chain (in the database), every agent signature
 * against the agent's registered key and the stored result it covers, and optionally a
 * checkpoint kept outside the database, which reveals rows deleted from the tail or a chain
 * recomputed after a forgery — what the chain alone cannot show.
 */
export async function verifyAudit(
  db: Queryable,
  options: { readonly checkpoint?: Checkpoint; readonly auditKeyHex: string },
): Promise<AuditVerdict> {
  const chain = await verifyAuditChain(db);
  const signatures = await verifySignatures(db);
  const broken = [
    chain.ok ? undefined : { position: Number(chain.first_broken.position), problem: chain.first_broken.problem },
    signatures.firstBroken,
  ]
    .filter((item): item is { position: number; problem: ChainProblem } => item !== undefined)
    .sort((a, b) => a.position - b.position)[0];
  const checkpoint = options.checkpoint ? await againstCheckpoint(db, options.checkpoint, options.auditKeyHex) : null;
  return {
    ok: broken === undefined && (checkpoint?.ok ?? true),
    entries: chain.entries,
    first_broken: broken ?? null,
    signatures: { verified: signatures.verified, unverifiable: signatures.unverifiable },
    checkpoint,
  };
}

async function verifySignatures(
  db: Queryable,
): Promise<{ verified: number; unverifiable: number; firstBroken?: { position: number; problem: ChainProblem } }> {
  let after = '0';
  let verified = 0;
  let unverifiable = 0;
  for (;;) {
    const batch = await signedEntries(db, after, BATCH);
    for (const entry of batch) {
      const verdict = checkEntry(entry);
      if (verdict === 'verified') verified += 1;
      else if (verdict === 'unverifiable') unverifiable += 1;
      else return { verified, unverifiable, firstBroken: { position: Number(entry.position), problem: verdict } };
    }
    if (batch.length < BATCH) return { verified, unverifiable };
    after = batch[batch.length - 1]!.position;
  }
}

/** One signed entry: the frame the agent signed is rebuilt from the stored result and checked. */
function checkEntry(entry: SignedEntry): 'verified' | 'unverifiable' | 'signature_invalid' | 'signature_missing' {
  if (entry.signature === null) return 'signature_missing';
  const result = entry.result;
  if (!result) return 'signature_invalid';
  // Results stored before what the signature covers was kept cannot be checked (counted, not failed).
  if (result.frame_v === null || result.frame_ts === null) return 'unverifiable';
  if (entry.actor !== `agent:${result.agent_id}` || !entry.signing_public_key) return 'signature_invalid';
  const frame: Frame<'exec.result'> = {
    v: result.frame_v as 1,
    type: 'exec.result',
    id: result.frame_id,
    ts: Number(result.frame_ts),
    body: resultBody(result),
    sig: Buffer.from(entry.signature, 'base64'),
  };
  return verifyFrame(frame, entry.signing_public_key) ? 'verified' : 'signature_invalid';
}

/** The result body exactly as the agent sent it: optional members present only when they were. */
function resultBody(result: NonNullable<SignedEntry['result']>): FrameBody<'exec.result'> {
  return {
    invocation_id: result.invocation_id,
    attempt: result.attempt,
    status: result.status as FrameBody<'exec.result'>['status'],
    exit_code: result.exit_code,
    output: result.output,
    output_truncated: result.output_truncated,
    duration_ms: result.duration_ms,
    ...(result.output_chunks > 0 ? { output_chunks: result.output_chunks } : {}),
    ...(result.error ? { error: result.error } : {}),
  };
}

async function againstCheckpoint(
  db: Queryable,
  checkpoint: Checkpoint,
  auditKeyHex: string,
): Promise<NonNullable<AuditVerdict['checkpoint']>> {
  const at = await chainAt(db, Number(checkpoint.position));
  const verdict = (problem: CheckpointProblem | null) => ({
    position: Number(checkpoint.position),
    ok: problem === null,
    problem,
    head: at.head,
  });
  if (!checkpointSignedBy(checkpoint, auditKeyHex)) return verdict('checkpoint_invalid');
  if (at.hash === null) return verdict(at.head < checkpoint.position ? 'truncated' : 'rechained');
  return verdict(at.hash === checkpoint.hash ? null : 'rechained');
}
