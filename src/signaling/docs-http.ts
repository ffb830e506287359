/**
 * The endpoints of a room's Yjs documents (see `docs.ts`): `GET /rooms/{room}/docs/{doc}` answers the
 * whole document (a Yjs v1 update, `application/octet-stream`) to a peer of the room;
 * `POST /rooms/{room}/docs/{doc}` takes one update from a peer (the body, at most the room's message
 * limit) and answers 204 once it is in the room's log.
 */
import type { Hono } from 'hono';
import { badRequest, type Hub, HubError, insufficientScope, readBody, unauthorized } from '../hub/index.ts';
import { isDocName, roomTopic, stateTopic } from '../room-protocol/index.ts';
import type { RoomDocs } from './docs.ts';

export interface DocsRoutes {
  hub: Hub;
  docs: RoomDocs;
  /** The room of a request (400 for a bad name). */
  roomOf(name: string | undefined): string;
  /** The peer a token speaks for in `room`; null for the application's own publishers. */
  peerOf(payload: unknown, room: string): string | null;
  maxUpdateBytes: number;
  /** Takes one room message from the peer's rate limit (429 past it), as its other messages do. */
  charge(room: string, peer: string | null): Promise<void>;
  /** The route, with `:room` and `:doc`. */
  path: string;
}

const docOf = (name: string | undefined): string => {
  if (!isDocName(name)) throw badRequest('document names are 1 to 64 characters among A-Z a-z 0-9 _ . -');
  return name;
};

/** Adds the document endpoints to `app`. */
export function mountDocs(app: Hono, routes: DocsRoutes): void {
  const { hub, docs, roomOf, peerOf } = routes;

  app.get(routes.path, async (c) => {
    const room = roomOf(c.req.param('room'));
    const doc = docOf(c.req.param('doc'));
    const hubUrl = hub.urls.of(c.req.raw);
    const principal = await hub.authorizer.subscriber(c.req.raw, hubUrl);
    if (!principal) throw unauthorized(hubUrl);
    if (!principal.canSubscribe([stateTopic(room)]))
      throw insufficientScope(hubUrl, 'not a peer of this room');
    return new Response((await docs.snapshot(room, doc)) as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    });
  });

  app.post(routes.path, async (c) => {
    const room = roomOf(c.req.param('room'));
    const doc = docOf(c.req.param('doc'));
    const request = c.req.raw;
    const hubUrl = hub.urls.of(request);
    const principal = await hub.authorizer.publisher(request, hubUrl);
    if (!principal.canPublish(roomTopic(room))) throw insufficientScope(hubUrl, 'not a peer of this room');
    const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      throw new HubError(
        'unsupported_media_type',
        'send the Yjs update as Content-Type: application/octet-stream',
      );
    }
    const peer = peerOf(principal.payload, room);
    await routes.charge(room, peer);
    const update = await readBody(request, routes.maxUpdateBytes);
    if (update.length === 0) throw badRequest('the body is empty: send a Yjs update');
    await docs.update(room, doc, update, peer);
    return new Response(null, { status: 204 });
  });
}
