import type { ArtifactRecord, ArtifactVersion } from '../store/artifacts.js';
import type { LearningRecord } from '../store/learnings.js';
import type { MemoryRecord } from '../store/memories.js';
import type { MockupRecord } from '../store/mockups.js';

const iso = (date: Date) => date.toISOString();

export function artifactView(artifact: ArtifactRecord, versions?: readonly Omit<ArtifactVersion, 'content'>[]) {
  return {
    object: 'artifact' as const,
    id: artifact.id,
    name: artifact.name,
    content_type: artifact.content_type,
    workspace_id: artifact.workspace_id,
    chat_id: artifact.chat_id,
    source: artifact.source,
    invocation_id: artifact.invocation_id,
    latest_version: artifact.latest_version,
    created_by: artifact.created_by,
    created_at: iso(artifact.created_at),
    updated_at: iso(artifact.updated_at),
    ...(versions ? { versions: versions.map((version) => versionView(version)) } : {}),
  };
}

export function versionView(version: Omit<ArtifactVersion, 'content'> & { content?: string }) {
  return {
    object: 'artifact.version' as const,
    artifact_id: version.artifact_id,
    version: version.version,
    bytes: version.bytes,
    lines: version.lines,
    sha256: version.sha256,
    created_by: version.created_by,
    created_at: iso(version.created_at),
    ...(version.content !== undefined ? { content: version.content } : {}),
  };
}

export function memoryView(memory: MemoryRecord) {
  return {
    object: 'memory' as const,
    id: memory.id,
    workspace_id: memory.workspace_id,
    content: memory.content,
    tags: memory.tags,
    chat_id: memory.chat_id,
    created_by: memory.created_by,
    created_at: iso(memory.created_at),
  };
}

export function learningView(learning: LearningRecord) {
  return {
    object: 'learning' as const,
    id: learning.id,
    workspace_id: learning.workspace_id,
    content: learning.content,
    score: Math.round(learning.score * 100) / 100,
    source: learning.source,
    source_ref: learning.source_ref,
    created_by: learning.created_by,
    created_at: iso(learning.created_at),
  };
}

/** A mockup bundle; its preview path is a capability (whoever holds it sees the page), so only chat readers get it. */
export function mockupView(
  mockup: MockupRecord,
  files?: readonly { path: string; content_type: string; bytes: number }[],
) {
  return {
    object: 'mockup' as const,
    id: mockup.id,
    identifier: mockup.identifier,
    title: mockup.title,
    chat_id: mockup.chat_id,
    entry: mockup.entry,
    version: mockup.version,
    preview_path: `/mockup-preview/${mockup.id}/${mockup.preview_token}/${mockup.entry}`,
    created_by: mockup.created_by,
    created_at: iso(mockup.created_at),
    updated_at: iso(mockup.updated_at),
    ...(files
      ? { files: files.map(({ path, content_type, bytes }) => ({ path, content_type, bytes: Number(bytes) })) }
      : {}),
  };
}
