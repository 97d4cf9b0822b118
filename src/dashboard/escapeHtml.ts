const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes a value for HTML text and attribute values. Every value the dashboard shows that did
 * not come from its own code (types, parameters, error messages, ids) goes through it.
 * @internal
 */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, char => ENTITIES[char]);
}
