import { describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { listStacks } from '../../stacks/offline/stack-file.js';
import { synthesize } from '../../stacks/offline/synth.js';

/** Checks an object against the Kubernetes OpenAPI schema of its kind (kubernetes-models). */
async function validateManifest(object: { apiVersion: string; kind: string; stringData?: unknown }): Promise<void> {
  const module = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<
    string,
    new (value: unknown) => { validate(): void }
  >;
  // The redacted stringData is a marker, not the object it stands for.
  const value = object.stringData === '[secret]' ? { ...object, stringData: { redacted: 'x' } } : object;
  expect(() => new module[object.kind]!(value).validate(), `${object.kind} against its schema`).not.toThrow();
}

/**
 * The manifests each stack file produces (every file in config/stacks), kept as reviewed
 * snapshots: a change to what gets deployed shows in the diff of test/stacks/__snapshots__/.
 */
describe.each(listStacks())('synth of %s', (stack) => {
  it('matches the reviewed manifests, each a well-formed object with its secrets redacted', async () => {
    vi.resetModules();
    const { manifests } = await synthesize(stack, '../index.js');
    await expect(manifests).toMatchFileSnapshot(`__snapshots__/${stack}.manifests.yaml`);
    const objects = parseAllDocuments(manifests).map(
      (document) =>
        document.toJS() as { apiVersion: string; kind: string; metadata: { name: string }; stringData?: unknown },
    );
    for (const object of objects) {
      expect(object.apiVersion, object.kind).toMatch(/^([a-z0-9.-]+\/)?v\d+(beta\d+)?$/);
      expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (object.kind === 'Secret') expect(object.stringData).toBe('[secret]');
    }
    expect(manifests.match(/\[secret\]/g)?.length).toBe(objects.filter((object) => object.kind === 'Secret').length);
    for (const object of objects) await validateManifest(object);
  }, 60_000);
});
