/**
 * Bounds a map used as a cache whose insertion order is its age (oldest first). Past `max` entries
 * it drops the oldest eighth at once: dropping one entry per insertion would make each insertion walk
 * over every entry deleted since V8 last compacted the map — a few µs per insertion on a map of a
 * few thousand, paid on every token verified once the token cache is full.
 */
export function dropOldest<K, V>(map: Map<K, V>, max: number): void {
  if (map.size <= max) return;
  let drop = map.size - max + (max >> 3);
  for (const key of map.keys()) {
    map.delete(key);
    if (--drop <= 0) return;
  }
}
