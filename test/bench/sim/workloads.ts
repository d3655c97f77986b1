import { BLOCK_TOKENS, type SimRequest } from './worker.js';

/** A seeded generator (mulberry32): the same seed, the same workload. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chained block hashes (as vLLM's: each covers everything before it), seeded by tenant. */
export function chain(tenant: string, contents: readonly number[]): number[] {
  let previous = hashString(tenant);
  return contents.map((content) => (previous = mix(previous, content)));
}

function hashString(text: string): number {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 16777619);
  return hash >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be59b, 0xc2b2ae35);
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f);
  // 52 bits: two 26-bit halves, so collisions stay negligible at millions of blocks.
  const high = (h >>> 6) & 0x3ffffff;
  const low = (Math.imul(h ^ b, 0x165667b1) >>> 6) & 0x3ffffff;
  return high * 0x4000000 + low;
}

const blocks = (tokens: number) => Math.max(1, Math.round(tokens / BLOCK_TOKENS));
/** Content ids of a text: `kind` names it (group prompt, user question…), one 32-bit id per block. */
const text = (kind: number, tokens: number) =>
  Array.from(
    { length: blocks(tokens) },
    (_, index) => (Math.imul(kind, 2654435761) ^ Math.imul(index + 1, 40503)) >>> 0,
  );

function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

export interface Workload {
  readonly name: string;
  readonly workers: number;
  readonly capacityBlocks: number;
  readonly requests: SimRequest[];
}

/** W1 (llm-d B2B): 150 groups × 6,000-token shared context, 5 users each, 1,200-token questions. */
export function w1(seed: number): Workload {
  const random = rng(seed);
  const requests: SimRequest[] = [];
  let time = 0;
  for (let id = 0; id < 2_400; id += 1) {
    time += exponential(random, 1_000 / 16);
    const group = Math.floor(random() * 150);
    const user = Math.floor(random() * 5);
    const contents = [...text(1_000 + group, 6_000), ...text(1_000_000 + group * 10 + user + id * 1_000, 1_200)];
    requests.push({ id, arrival: time, blocks: chain('tenant', contents), outputTokens: 150, tenant: 'tenant' });
  }
  return { name: 'w1', workers: 8, capacityBlocks: 19_208, requests };
}

/** W2 (SGLang generated-shared-prefix): 64 groups × 2,048-token system prompt, Zipf(1.0) popularity, 20 req/s. */
export function w2(seed: number): Workload {
  const random = rng(seed);
  const weights = Array.from({ length: 64 }, (_, rank) => 1 / (rank + 1));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const pick = () => {
    let target = random() * total;
    for (const [group, weight] of weights.entries()) if ((target -= weight) <= 0) return group;
    return 63;
  };
  const requests: SimRequest[] = [];
  let time = 0;
  for (let id = 0; id < 3_000; id += 1) {
    time += exponential(random, 1_000 / 20);
    const group = pick();
    const contents = [...text(2_000 + group, 2_048), ...text(3_000_000 + id, 128)];
    requests.push({ id, arrival: time, blocks: chain('tenant', contents), outputTokens: 256, tenant: 'tenant' });
  }
  return { name: 'w2', workers: 4, capacityBlocks: 3_000, requests };
}

/** W3 (multi-round QA): 160 users × 6 rounds, shared 1,000-token system prompt, 2,000-token histories growing each round. */
export function w3(seed: number): Workload {
  const random = rng(seed);
  const requests: SimRequest[] = [];
  let id = 0;
  for (let user = 0; user < 160; user += 1) {
    let time = random() * 20_000;
    const history = [...text(4_000, 1_000), ...text(5_000 + user, 2_000)];
    for (let round = 0; round < 6; round += 1) {
      const question = text(6_000_000 + user * 10 + round, 50);
      const prompt = [...history, ...question];
      requests.push({
        id: id++,
        arrival: time,
        blocks: chain('tenant', prompt),
        outputTokens: 100,
        tenant: 'tenant',
        cacheKey: `conversation-${user}`,
      });
      history.push(...question, ...text(7_000_000 + user * 10 + round, 100));
      time += 2_000 + exponential(random, 4_000);
    }
  }
  requests.sort((a, b) => a.arrival - b.arrival);
  return {
    name: 'w3',
    workers: 4,
    capacityBlocks: 6_000,
    requests: requests.map((request, index) => ({ ...request, id: index })),
  };
}

/** W5 (adversarial): four tenants share one system prompt under different salts, one takes half the traffic, bursty arrivals. */
export function w5(seed: number): Workload {
  const random = rng(seed);
  const requests: SimRequest[] = [];
  let time = 0;
  for (let id = 0; id < 3_000; id += 1) {
    // Bursts: most gaps short, some long (a coefficient of variation well above 1).
    time += random() < 0.8 ? exponential(random, 8) : exponential(random, 150);
    const tenant = random() < 0.5 ? 'hot' : `tenant-${Math.floor(random() * 3)}`;
    const contents = [
      ...text(8_000, 2_048),
      ...text(9_000 + Math.floor(random() * 64), 512),
      ...text(9_000_000 + id, 256),
    ];
    requests.push({ id, arrival: time, blocks: chain(tenant, contents), outputTokens: 128, tenant });
  }
  return { name: 'w5', workers: 4, capacityBlocks: 2_500, requests };
}
