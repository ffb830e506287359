/**
 * Composite cursors: the event ids of a stream merged from several shards. One position per shard
 * (how far the subscriber has read that shard), then the id of the update itself, so that a client can
 * still tell which update an event is:
 *
 *     ~{p0}.{p1}.….{pN-1}~{update id}
 *
 * Each `p` is the shard position plus one, in base 36 (`0`: nothing read from that shard yet). A
 * stranger sends these back as `Last-Event-ID`: {@link parseCursor} takes only what this module could
 * have written for the current shard count, within a fixed size, and never throws.
 */
import { MAX_SHARDS } from './topology.ts';

/** Longest position component: a safe integer in base 36 (`2gosa7pa2gv`). */
const MAX_COMPONENT = 11;
/** Longest vector part of a cursor (`~`, components and dots). */
export const MAX_VECTOR_CHARS = 1 + MAX_SHARDS * (MAX_COMPONENT + 1);
const COMPONENT = /^[0-9a-z]{1,11}$/;

/** Positions per shard; -1 for a shard nothing was read from. */
export type Vector = number[];

/** The composite id of an update with id `id`, read up to `vector`. */
export function composeCursor(vector: readonly number[], id = ''): string {
  let text = '~';
  for (let i = 0; i < vector.length; i++) {
    if (i > 0) text += '.';
    text += (vector[i]! + 1).toString(36);
  }
  return `${text}~${id}`;
}

/** True when `cursor` has the shape of a composite cursor (it may still be invalid). */
export const isComposite = (cursor: string): boolean => cursor.startsWith('~');

/**
 * The vector of a composite cursor for `shards` shards, or undefined when it is not one, was written
 * for another shard count, or is malformed or too long.
 */
export function parseCursor(cursor: string, shards: number): Vector | undefined {
  if (!cursor.startsWith('~')) return undefined;
  const end = cursor.indexOf('~', 1);
  if (end === -1 || end > MAX_VECTOR_CHARS) return undefined;
  const parts = cursor.slice(1, end).split('.');
  if (parts.length !== shards) return undefined;
  const vector: Vector = [];
  for (const part of parts) {
    if (!COMPONENT.test(part)) return undefined;
    const n = Number.parseInt(part, 36);
    if (!Number.isSafeInteger(n)) return undefined;
    vector.push(n - 1);
  }
  return vector;
}

/** The update id a composite cursor carries (what a client compares with a publish answer). */
export function updateIdOf(cursor: string): string {
  if (!cursor.startsWith('~')) return cursor;
  const end = cursor.indexOf('~', 1);
  return end === -1 ? cursor : cursor.slice(end + 1);
}

/** Component-wise maximum, in place; returns `into`. */
export function advance(into: Vector, other: readonly number[]): Vector {
  for (let i = 0; i < into.length; i++) if (other[i]! > into[i]!) into[i] = other[i]!;
  return into;
}
