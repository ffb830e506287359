import type { UpdateInput } from '../brokers/index.ts';
import { badRequest, HubError } from './errors.ts';
import type { FormFields } from './form.ts';
import { utf8Length } from './header-values.ts';
import { checkPublishTopic, hasControlOrFormat } from './topics.ts';

export interface PublishLimits {
  maxTopics: number;
  maxTopicLength: number;
  /** Every id comes back as a subscriber's `Last-Event-ID` header: it must fit in one. */
  maxIdBytes: number;
}

const singleValued = new Set(['data', 'id', 'type', 'retry']);

/**
 * Turns a publish form into an update, applying every field rule of the protocol: one or more
 * `topic`s (first canonical), `data`, `private` (its presence alone marks the update private), `id`,
 * `type`, `retry`. Unknown fields are ignored.
 * @throws {HubError} 400 for an invalid field, 413 for too many or too long topics, or too long an id.
 */
export function parsePublishForm(fields: FormFields, hubUrl: URL, limits: PublishLimits): UpdateInput {
  const topics: string[] = [];
  const seen = new Set<string>();
  let isPrivate = false;
  const single: Record<string, string> = {};
  for (const [name, value] of fields) {
    if (name === 'topic') {
      if (topics.length === limits.maxTopics) {
        throw new HubError('payload_too_large', `too many topics (at most ${limits.maxTopics})`);
      }
      if (value.length > limits.maxTopicLength) {
        throw new HubError('payload_too_large', `topic longer than ${limits.maxTopicLength} characters`);
      }
      checkPublishTopic(value, hubUrl);
      topics.push(value);
    } else if (name === 'private') {
      isPrivate = true;
    } else if (singleValued.has(name)) {
      // A repeated field is ambiguous: refuse it rather than silently drop one of the values.
      if (seen.has(name)) throw badRequest(`field "${name}" given more than once`);
      seen.add(name);
      single[name] = value;
    }
  }
  if (topics.length === 0) throw badRequest('at least one topic is required');
  const update: UpdateInput = { topics, data: single.data ?? '', private: isPrivate };
  const { id, type, retry } = single;
  if (id !== undefined) {
    if (id === '') throw badRequest('id must not be empty');
    if (utf8Length(id) > limits.maxIdBytes) {
      throw new HubError('payload_too_large', `id longer than ${limits.maxIdBytes} bytes of UTF-8`);
    }
    if (id.startsWith('#')) throw badRequest('id must not start with "#" (reserved for hub-generated ids)');
    if (id === 'earliest') throw badRequest('"earliest" is a reserved id');
    if (hasControlOrFormat(id)) throw badRequest('id must not contain control or format characters');
    // HTTP trims the spaces around a header value: such an id could never come back as Last-Event-ID.
    if (id.startsWith(' ') || id.endsWith(' ')) throw badRequest('id must not start or end with a space');
    update.id = id;
  }
  if (type !== undefined && type !== '') {
    if (type === 'mercure') throw badRequest('type "mercure" is reserved for hub events');
    if (hasControlOrFormat(type)) throw badRequest('type must not contain control or format characters');
    update.type = type;
  }
  if (retry !== undefined) {
    if (!/^[0-9]+$/.test(retry)) throw badRequest('retry must be ASCII digits only');
    const ms = Number(retry);
    if (!Number.isSafeInteger(ms)) throw badRequest('retry is too large');
    update.retry = ms;
  }
  return update;
}
