/**
 * The rooms protocol as the hub uses it. The module lives with the client (`src/client/room-protocol.ts`)
 * because the browser bundle needs it too and may depend on nothing outside `src/client/`.
 */
export * from '../client/room-protocol.ts';
