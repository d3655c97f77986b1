import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { chatOf } from '../../conversations/chats.js';
import { writeMockup } from '../../knowledge/mockups.js';
import { artifactView, mockupView, versionView } from '../../knowledge/views.js';
import { artifactsOfChat, findArtifact, findVersion, versionsOf } from '../../store/artifacts.js';
import { findMockup, manifestOf, mockupsOfChat } from '../../store/mockups.js';
import type { Pool } from '../../store/pool.js';
import { projectOf } from '../auth.js';
import { ApiError } from '../errors.js';
import { ProjectParams, strict } from '../schemas.js';

const ChatId = Type.String({ pattern: '^chat_[0-9a-f]{24}$' });
const ChatParams = Type.Object({ project_id: ProjectParams.properties.project_id, chat_id: ChatId }, strict);
const ArtifactParams = Type.Object(
  { ...ChatParams.properties, artifact_id: Type.String({ pattern: '^cart_[0-9a-f]{24}$' }) },
  strict,
);
const VersionParams = Type.Object(
  { ...ArtifactParams.properties, version: Type.String({ pattern: '^[1-9][0-9]{0,8}$' }) },
  strict,
);
const RawQuery = Type.Object({ version: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$' })) }, strict);
const Identifier = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const MockupParams = Type.Object({ ...ChatParams.properties, identifier: Identifier }, strict);
const MockupBody = Type.Object(
  {
    identifier: Identifier,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    entry: Type.Optional(Type.String({ maxLength: 800 })),
    files: Type.Array(
      Type.Object(
        { path: Type.String({ minLength: 1, maxLength: 800 }), content: Type.String({ maxLength: 1_048_576 }) },
        strict,
      ),
      { minItems: 1, maxItems: 64 },
    ),
  },
  strict,
);

/**
 * What a chat made: its artifacts (list, a version, the raw download) and its mockup bundles
 * (list, manifest with the preview path, and `x_create_mockup`: a whole bundle at once — the
 * direct API's, never offered to the model, which builds bundles a file at a time). Mounted
 * under `/:project_id/v1/chats` with its hooks (readers of the project's chats).
 */
export function chatContentRoutes(app: FastifyInstance, pool: Pool): void {
  const chatIn = (request: { params: { chat_id: string } } & Parameters<typeof projectOf>[0]) =>
    chatOf(pool, projectOf(request).id, request.params.chat_id);

  app.get<{ Params: Static<typeof ChatParams> }>(
    '/:chat_id/artifacts',
    { schema: { params: ChatParams } },
    async (request) => {
      const chat = await chatIn(request);
      return {
        object: 'list',
        data: (await artifactsOfChat(pool, chat.id, 500)).map((artifact) => artifactView(artifact)),
        has_more: false,
      };
    },
  );

  const artifactIn = async (request: { params: Static<typeof ArtifactParams> } & Parameters<typeof projectOf>[0]) => {
    const chat = await chatIn(request);
    const artifact = await findArtifact(pool, projectOf(request).id, request.params.artifact_id);
    if (!artifact || artifact.chat_id !== chat.id) throw new ApiError('artifact_not_found', undefined, 'artifact_id');
    return artifact;
  };

  app.get<{ Params: Static<typeof ArtifactParams> }>(
    '/:chat_id/artifacts/:artifact_id',
    { schema: { params: ArtifactParams } },
    async (request) => {
      const artifact = await artifactIn(request);
      return artifactView(artifact, await versionsOf(pool, artifact.id));
    },
  );

  app.get<{ Params: Static<typeof VersionParams> }>(
    '/:chat_id/artifacts/:artifact_id/versions/:version',
    { schema: { params: VersionParams } },
    async (request) => {
      const artifact = await artifactIn(request);
      const version = await findVersion(pool, artifact.id, Number(request.params.version));
      if (!version) throw new ApiError('artifact_version_not_found', undefined, 'version');
      return versionView(version);
    },
  );

  app.get<{ Params: Static<typeof ArtifactParams>; Querystring: Static<typeof RawQuery> }>(
    '/:chat_id/artifacts/:artifact_id/raw',
    { schema: { params: ArtifactParams, querystring: RawQuery } },
    async (request, reply) => {
      const artifact = await artifactIn(request);
      const version = await findVersion(
        pool,
        artifact.id,
        request.query.version ? Number(request.query.version) : undefined,
      );
      if (!version) throw new ApiError('artifact_version_not_found', undefined, 'version');
      // A download, never a page of this origin: an HTML artifact must not run here.
      return reply
        .header('content-type', artifact.content_type)
        .header('content-disposition', `attachment; filename="${artifact.id}-v${version.version}"`)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('x-artifact-version', String(version.version))
        .send(version.content);
    },
  );

  app.get<{ Params: Static<typeof ChatParams> }>(
    '/:chat_id/mockups',
    { schema: { params: ChatParams } },
    async (request) => {
      const chat = await chatIn(request);
      return {
        object: 'list',
        data: (await mockupsOfChat(pool, chat.id)).map((mockup) => mockupView(mockup)),
        has_more: false,
      };
    },
  );

  app.get<{ Params: Static<typeof MockupParams> }>(
    '/:chat_id/mockups/:identifier',
    { schema: { params: MockupParams } },
    async (request) => {
      const chat = await chatIn(request);
      const mockup = await findMockup(pool, {
        projectId: chat.project_id,
        chatId: chat.id,
        identifier: request.params.identifier,
      });
      if (!mockup) throw new ApiError('mockup_not_found', undefined, 'identifier');
      return mockupView(mockup, await manifestOf(pool, mockup.id));
    },
  );

  app.post<{ Params: Static<typeof ChatParams>; Body: Static<typeof MockupBody> }>(
    '/:chat_id/mockups',
    { schema: { params: ChatParams, body: MockupBody } },
    async (request, reply) => {
      const chat = await chatIn(request);
      if (chat.owner_id !== request.principal!.principalId) throw new ApiError('chat_not_owned');
      const { identifier, title, entry, files } = request.body;
      const mockup = await writeMockup(
        pool,
        { projectId: chat.project_id, chatId: chat.id, identifier },
        { files, ...(title ? { title } : {}), ...(entry ? { entry } : {}), mustBeNew: true },
        request.principal!,
      );
      return reply.status(201).send(mockupView(mockup, await manifestOf(pool, mockup.id)));
    },
  );
}
