import type { IncomingMessage } from 'node:http';
import { EventsError } from '../EventsError';

const MAX_BODY = 1 << 20;

/**
 * The fields of a posted action, sent as a form (`application/x-www-form-urlencoded`) or as a
 * JSON object.
 *
 * A body parser that runs before the dashboard (`express.urlencoded()`, `express.json()`, the
 * parsers Nest installs by default) has already consumed the request stream, which then never
 * emits `end` again: waiting on it would hang the request. So the stream is read only while no
 * one has read it (a parser that skipped the content type may still have set `req.body = {}`,
 * as body-parser 1 does), and otherwise what the parser left in `req.body` is used: an object,
 * a string or a Buffer.
 * @internal
 */
export async function readForm(req: IncomingMessage & { body?: unknown }): Promise<URLSearchParams> {
  const { body } = req;
  let text: string;
  if (!req.readableEnded) {
    text = await readStream(req);
  } else if (typeof body === 'string') {
    text = body;
  } else if (Buffer.isBuffer(body)) {
    text = body.toString('utf8');
  } else if (body !== null && typeof body === 'object') {
    return fieldsOf(body);
  } else {
    // Read by something that left nothing behind: an empty form, refused by the CSRF check.
    text = '';
  }
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(req.headers['content-type'] ?? '')) {
    return new URLSearchParams(text);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw EventsError.invalidOption('request body', 'invalid JSON', 'a form or a JSON object');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw EventsError.invalidOption('request body', typeof parsed, 'a form or a JSON object');
  }
  return fieldsOf(parsed);
}

/** The fields of a parsed body: arrays give one field per item, as repeated form fields do. */
function fieldsOf(body: object): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined) {
        form.append(name, typeof item === 'object' ? JSON.stringify(item) : String(item));
      }
    }
  }
  return form;
}

function readStream(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    const onData = (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) {
        // Discard the rest, as Node does with a body no one reads: the connection stays in
        // step, and the 400 reaches the client instead of a reset.
        req.off('data', onData).resume();
        reject(EventsError.invalidOption('request body', `more than ${MAX_BODY} bytes`, 'at most 1 MiB'));
      }
    };
    req.setEncoding('utf8');
    req.on('data', onData);
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
