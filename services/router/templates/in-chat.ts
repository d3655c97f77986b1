import type { Queryable } from '../store/db.js';
import type { ChatRecord } from '../store/chats.js';
import { findTemplateVersion, type TemplateVersion } from '../store/templates.js';
import { BUILTIN_LABEL } from '../loop/builtins.js';
import { isMcpTool } from '../loop/servers.js';

type Body = { tools?: Record<string, unknown>[]; instructions?: string | null };

/** The template version a chat was opened from (pinned: later edits do not change it). */
export async function pinnedTemplate(db: Queryable, chat: ChatRecord): Promise<TemplateVersion | undefined> {
  return chat.template_id && chat.template_version
    ? findTemplateVersion(db, chat.template_id, chat.template_version)
    : undefined;
}

/**
 * A chat turn's tools and instructions. In a chat the router's own tools come with the
 * workspace's (artifacts, memories, questions belong to a conversation). A chat opened from a
 * template offers its workspace by itself (to those who may run tools), and the template's
 * version narrows what is offered to its `allowed_tools`, adds its approval policy (stricter
 * only) and puts its system prompt before the request's instructions.
 */
export function chatTurnBody<T extends Body>(
  body: T,
  chat: ChatRecord,
  template: TemplateVersion | undefined,
  mayInvoke: boolean,
): T {
  let tools = body.tools ?? [];
  if (template && mayInvoke && !tools.some(isMcpTool))
    tools = [...tools, { type: 'mcp', server_label: chat.workspace_id }];
  if (
    tools.some((tool) => isMcpTool(tool) && tool['server_label'] !== BUILTIN_LABEL) &&
    !tools.some((tool) => isMcpTool(tool) && tool['server_label'] === BUILTIN_LABEL)
  )
    tools = [...tools, { type: 'mcp', server_label: BUILTIN_LABEL }];
  if (!template) return tools === body.tools || tools.length === 0 ? body : { ...body, tools };
  const allowed = template.allowed_tools;
  const narrowed = tools.map((tool) => {
    if (!isMcpTool(tool)) return tool;
    return {
      ...tool,
      ...(allowed.length > 0 ? { allowed_tools: narrowTo(tool['allowed_tools'], allowed) } : {}),
      ...(template.approval_policy !== 'standard' ? { x_approval_policy: template.approval_policy } : {}),
    };
  });
  const instructions = body.instructions ? `${template.system_prompt}\n\n${body.instructions}` : template.system_prompt;
  return { ...body, tools: narrowed, instructions };
}

/** The client's allowed_tools within the template's (never wider). */
function narrowTo(asked: unknown, allowed: readonly string[]): string[] {
  const names = Array.isArray(asked)
    ? asked
    : asked && typeof asked === 'object' && Array.isArray((asked as { tool_names?: unknown }).tool_names)
      ? (asked as { tool_names: unknown[] }).tool_names
      : undefined;
  return names ? allowed.filter((name) => names.includes(name)) : [...allowed];
}
