import type { TemplateRecord, TemplateVersion } from '../store/templates.js';

export function templateView(template: TemplateRecord, version: TemplateVersion) {
  return {
    object: 'chat.template' as const,
    id: template.id,
    scope: template.scope,
    workspace_id: template.workspace_id,
    name: template.name,
    latest_version: template.latest_version,
    promoted_from: template.promoted_from,
    created_at: template.created_at.toISOString(),
    updated_at: template.updated_at.toISOString(),
    version: versionView(version),
  };
}

export function versionView(version: TemplateVersion) {
  return {
    object: 'chat.template.version' as const,
    template_id: version.template_id,
    version: version.version,
    description: version.description,
    system_prompt: version.system_prompt,
    allowed_tools: version.allowed_tools,
    approval_policy: version.approval_policy,
    applicable_workspace_types: version.applicable_workspace_types,
    tags: version.tags,
    created_by: version.created_by,
    created_at: version.created_at.toISOString(),
  };
}
