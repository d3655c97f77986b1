import { describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { synthesize } from '../../stacks/offline/synth.js';

/**
 * The manifests each kubernetes stack file produces, kept as reviewed snapshots: a change to
 * what gets deployed shows in the diff of test/stacks/__snapshots__/.
 */
describe.each(['dev-us-east-1', 'pr-template'])('synth of %s', (stack) => {
  it('matches the reviewed manifests, each a well-formed object with its secrets redacted', async () => {
    vi.resetModules();
    const { manifests } = await synthesize(stack, '../index.js');
    await expect(manifests).toMatchFileSnapshot(`__snapshots__/${stack}.manifests.yaml`);
    const objects = parseAllDocuments(manifests).map((document) => document.toJS() as { apiVersion: string; kind: string; metadata: { name: string }; stringData?: unknown });
    for (const object of objects) {
      expect(object.apiVersion, object.kind).toMatch(/^([a-z0-9.-]+\/)?v\d+(beta\d+)?$/);
      expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (object.kind === 'Secret') expect(object.stringData).toBe('[secret]');
    }
    expect(manifests.match(/\[secret\]/g)?.length).toBe(objects.filter((object) => object.kind === 'Secret').length);
  }, 60_000);
});
