/**
 * "Perfect negotiation" for one `RTCPeerConnection` (W3C WebRTC 1.0 §10.7 example, MDN's pattern):
 * either side may (re)negotiate at any time and offer collisions ("glare") resolve themselves. The
 * polite peer rolls its own offer back and answers; the impolite one ignores the colliding offer.
 * Transport-agnostic: give it a `send` and feed what arrives to `handle`. Browser APIs only.
 */
import { report } from './errors.ts';

/** A signaling message between two peers; plain JSON, for any transport (an SSE inbox, a socket…). */
export type SignalMessage =
  | { type: 'description'; description: RTCSessionDescriptionInit }
  | { type: 'candidate'; candidate: RTCIceCandidateInit };

export interface PerfectNegotiationOptions {
  /** This peer's id. With {@link peerId} it decides who is polite, the same way on both sides. */
  selfId: string;
  /** The remote peer's id. */
  peerId: string;
  /** Delivers a message to the remote peer's {@link PerfectNegotiation.handle}, in order. */
  send(message: SignalMessage): void | Promise<void>;
  /** Overrides the politeness derived from the ids (the two sides must disagree). */
  polite?: boolean;
  /** Negotiation faults (a failed `setRemoteDescription`, a malformed message, a failed `send`). Default: reported to the console. */
  onError?(error: unknown): void;
}

/**
 * Whether `selfId` is the polite peer towards `peerId`: the one whose id sorts first (UTF-16 code
 * units). Both sides compute it from the same two ids, so exactly one of them is polite.
 */
export function isPolite(selfId: string, peerId: string): boolean {
  if (selfId === peerId) throw new RangeError('isPolite: the two peer ids must differ');
  return selfId < peerId;
}

/**
 * Runs perfect negotiation on `pc`. It listens to `negotiationneeded` (adding a track or a data
 * channel starts a negotiation by itself), sends ICE candidates as they come, buffers remote
 * candidates until a remote description is set, and restarts ICE when the connection fails.
 *
 * @example
 * const pc = new RTCPeerConnection();
 * const negotiation = new PerfectNegotiation(pc, {
 *   selfId: me, peerId: them,
 *   send: (message) => publish(hub, { topics: inboxOf(them), data: JSON.stringify(message), private: true }, { token }),
 * });
 * inbox.on('message', (m) => negotiation.handle(JSON.parse(m.data)));
 * pc.addTrack(track, stream); // negotiates by itself
 */
export class PerfectNegotiation {
  readonly pc: RTCPeerConnection;
  /** True when this side yields in an offer collision. */
  readonly polite: boolean;
  #makingOffer = false;
  #ignoreOffer = false;
  #settingRemoteAnswer = false;
  #closed = false;
  /** Remote candidates that arrived before any remote description; `stale` = sent for an offer we ignored. */
  #pending: Array<{ candidate: RTCIceCandidateInit; stale: boolean }> = [];
  #queue: Promise<void> = Promise.resolve();
  /** Settles when our ICE agent surfaces a candidate (or finishes gathering) after our last offer. */
  #gathered: Promise<void> = Promise.resolve();
  #onGathered: (() => void) | undefined;
  readonly #options: PerfectNegotiationOptions;
  readonly #listeners: Array<[string, () => void]>;

  constructor(pc: RTCPeerConnection, options: PerfectNegotiationOptions) {
    this.pc = pc;
    this.#options = options;
    this.polite = options.polite ?? isPolite(options.selfId, options.peerId);
    const onCandidate = (event: Event) => {
      const { candidate } = event as RTCPeerConnectionIceEvent;
      this.#onGathered?.();
      // The end-of-candidates null is not sent: ICE connects without it, and old peers reject it.
      if (candidate && !this.#closed) this.#send({ type: 'candidate', candidate: candidate.toJSON() });
    };
    this.#listeners = [
      ['negotiationneeded', () => void this.negotiate()],
      ['icecandidate', onCandidate as () => void],
      [
        'icegatheringstatechange',
        () => {
          if (pc.iceGatheringState === 'complete') this.#onGathered?.();
        },
      ],
      [
        'iceconnectionstatechange',
        () => {
          // restartIce() fires negotiationneeded; both sides may do it at once, which is just glare.
          if (pc.iceConnectionState === 'failed' && !this.#closed) pc.restartIce();
        },
      ],
    ];
    for (const [type, listener] of this.#listeners) pc.addEventListener(type, listener);
  }

  /** True while this side is creating and sending an offer. */
  get makingOffer(): boolean {
    return this.#makingOffer;
  }

  /** True when the last remote offer collided with ours and was ignored (impolite side only). */
  get ignoreOffer(): boolean {
    return this.#ignoreOffer;
  }

  /**
   * Creates and sends an offer now — what `negotiationneeded` triggers. Safe to call at the same time
   * on both sides. Does nothing outside the `stable` state (the pending exchange covers the changes,
   * and `negotiationneeded` fires again if it does not).
   */
  async negotiate(): Promise<void> {
    if (this.#closed || this.pc.signalingState !== 'stable') return;
    try {
      this.#makingOffer = true;
      this.#gathered = new Promise<void>((resolve) => {
        this.#onGathered = () => {
          this.#onGathered = undefined;
          resolve();
        };
      });
      // Without arguments, setLocalDescription() creates the right offer (or answer) itself.
      await this.pc.setLocalDescription();
      const description = this.pc.localDescription;
      if (description && !this.#closed)
        this.#send({ type: 'description', description: description.toJSON() });
    } catch (error) {
      this.#fault(error);
    } finally {
      this.#makingOffer = false;
    }
  }

  /**
   * Processes a message from the remote peer (parsed JSON; anything malformed is reported and
   * dropped). Messages are processed one at a time in arrival order; the promise settles when this
   * one is done and never rejects: faults go to `onError`.
   */
  handle(message: unknown): Promise<void> {
    const signal = parseSignal(message);
    if (!signal) {
      this.#fault(new TypeError('PerfectNegotiation: not a signaling message'));
      return Promise.resolve();
    }
    const done = this.#queue.then(() => this.#process(signal)).catch((error) => this.#fault(error));
    this.#queue = done;
    return done;
  }

  /** Restarts ICE (a new offer with fresh credentials); done automatically when ICE fails. */
  restartIce(): void {
    if (!this.#closed) this.pc.restartIce();
  }

  /** Stops listening to the connection and drops what arrives later. Does not close `pc`. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#onGathered?.();
    for (const [type, listener] of this.#listeners) this.pc.removeEventListener(type, listener);
  }

  async #process(signal: SignalMessage): Promise<void> {
    if (this.#closed) return;
    const pc = this.pc;
    if (signal.type === 'candidate') {
      if (!pc.remoteDescription) {
        this.#pending.push({ candidate: signal.candidate, stale: this.#ignoreOffer });
        return;
      }
      return this.#addCandidate(signal.candidate, this.#ignoreOffer);
    }
    const description = signal.description;
    // An answer we are applying leaves us about to be stable: an offer then is not a collision.
    const readyForOffer = !this.#makingOffer && (pc.signalingState === 'stable' || this.#settingRemoteAnswer);
    const collision = description.type === 'offer' && !readyForOffer;
    this.#ignoreOffer = !this.polite && collision;
    if (this.#ignoreOffer) return;
    this.#settingRemoteAnswer = description.type === 'answer';
    if (collision) {
      // Chromium 156: rolling our offer back before its ICE agent surfaced a first candidate leaves
      // the connection unable to gather ever again (about 1 glare in 100 on loopback; an ICE restart
      // does not recover it). Gathering a first candidate takes milliseconds, so wait for it, bounded.
      await Promise.race([this.#gathered, new Promise((resolve) => setTimeout(resolve, ROLLBACK_GRACE_MS))]);
      if (this.#closed) return;
    }
    try {
      // For the polite side in a collision this rolls our own offer back implicitly.
      await pc.setRemoteDescription(description);
    } finally {
      this.#settingRemoteAnswer = false;
    }
    if (this.#closed) return;
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      const answer = pc.localDescription;
      if (answer && !this.#closed) this.#send({ type: 'description', description: answer.toJSON() });
    }
    const pending = this.#pending;
    this.#pending = [];
    for (const { candidate, stale } of pending) await this.#addCandidate(candidate, stale);
  }

  async #addCandidate(candidate: RTCIceCandidateInit, stale: boolean): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer we ignored do not fit the session we kept: expected, not a fault.
      if (!stale && !this.#closed) this.#fault(error);
    }
  }

  #send(message: SignalMessage): void {
    try {
      void Promise.resolve(this.#options.send(message)).catch((error) => this.#fault(error));
    } catch (error) {
      this.#fault(error);
    }
  }

  #fault(error: unknown): void {
    if (!this.#options.onError) {
      report(error);
      return;
    }
    try {
      this.#options.onError(error);
    } catch (thrown) {
      report(thrown);
    }
  }
}

/** Longest wait for our first candidate before a rollback (see `#process`). */
const ROLLBACK_GRACE_MS = 1000;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
const optional = (value: unknown, type: 'string' | 'number') =>
  value === undefined || value === null || typeof value === type;

/** Validates a message from the network into a {@link SignalMessage}, or undefined. */
export function parseSignal(message: unknown): SignalMessage | undefined {
  if (!isObject(message)) return undefined;
  if (message.type === 'description' && isObject(message.description)) {
    const { type, sdp } = message.description;
    if ((type === 'offer' || type === 'answer') && typeof sdp === 'string') {
      return { type: 'description', description: { type, sdp } };
    }
  }
  if (message.type === 'candidate' && isObject(message.candidate)) {
    const { candidate, sdpMid, sdpMLineIndex, usernameFragment } = message.candidate;
    if (
      typeof candidate === 'string' &&
      optional(sdpMid, 'string') &&
      optional(sdpMLineIndex, 'number') &&
      optional(usernameFragment, 'string')
    ) {
      return {
        type: 'candidate',
        candidate: {
          candidate,
          sdpMid: sdpMid as string | null | undefined,
          sdpMLineIndex: sdpMLineIndex as number | null | undefined,
          usernameFragment: usernameFragment as string | null | undefined,
        },
      };
    }
  }
  return undefined;
}
