/**
 * Tribune's signaling protocol, shared by the API (which validates every incoming message with the schemas here)
 * and the player (which imports the types). No Node imports: the player bundles this file.
 *
 * Wire format, one JSON object per WebSocket text message:
 *   client → server  request  { "id": 7, "name": "raiseHand", "data": {} }
 *   server → client  reply    { "id": 7, "ok": true, "data": {…} }
 *                             { "id": 7, "ok": false, "error": { "code": "forbidden", "message": "…" } }
 *                             (id is null when the request was too broken to read one)
 *   server → client  event    { "event": "handQueueChanged", "data": {…} }
 *
 * The client connects to `/ws` offering two WebSocket subprotocols: `tribune.v1` and `tribune.token.<participant
 * token>` (`Sec-WebSocket-Protocol`, `authSubprotocols.ts`); the server selects `tribune.v1` and never echoes the
 * token. A token in the URL is refused: URLs end up in access logs.
 */
import { z } from 'zod';

export { authSubprotocols, signalingSubprotocol, tokenSubprotocolPrefix } from './authSubprotocols.js';

/** Largest text message the server reads; larger ones get a `payload_too_large` reply. */
export const maxMessageBytes = 64 * 1024;

export const reactionKinds = ['clap', 'laugh', 'heart', 'hundred', 'fire', 'thinking'] as const;
export type ReactionKind = (typeof reactionKinds)[number];

export type WireRole = 'host' | 'cohost' | 'speaker' | 'listener';
export type WireMute = 'none' | 'self' | 'moderator';
export type WireSpaceState = 'created' | 'live' | 'ended';
export const captionModes = ['off', 'sidecar', 'burned-in', 'both'] as const;
export type WireCaptionMode = (typeof captionModes)[number];

/** A participant as others see them. */
export interface ParticipantInfo {
	id: string;
	displayName: string;
	role: WireRole;
	mute: WireMute;
}

export interface SpaceInfo {
	id: string;
	title: string;
	description: string;
	state: WireSpaceState;
	hostId: string;
	settings: { captionMode: WireCaptionMode; recording: boolean; video: boolean; maxSpeakers: number };
	createdAt: number;
	startedAt: number | null;
	endedAt: number | null;
}

/** A caption cue as clients see it (the transcoder's cue contract, less the space id). */
export interface CaptionCueInfo {
	id: string;
	speakerId?: string;
	speakerName: string;
	text: string;
	final: boolean;
	startMs: number;
	endMs: number;
	source: 'asr' | 'captioner';
}

/**
 * What a producer carries: the microphone, the camera, a shared screen (window or tab), or the shared tab's sound
 * (ingest's `ProducerSource`).
 */
export const mediaSources = ['mic', 'camera', 'screen', 'screenAudio'] as const;
export type MediaSource = (typeof mediaSources)[number];

/** Why a screen share ended (ingest's `ShareEndReason`). */
export type ShareEndReason = 'stopped' | 'stopped_by_moderator' | 'replaced' | 'left' | 'demoted' | 'not_allowed' | 'too_large' | 'too_fast' | 'stage_closed';

/** The space's one screen share. */
export interface ShareInfo {
	participantId: string;
	/** The screen's producer (its `newConsumer` carries `source: 'screen'`). */
	producerId: string;
	/** The shared tab's sound comes with it. */
	audio: boolean;
	/** When it started, epoch ms (the server's clock). */
	startedAt: number;
}

/** A TURN server for a participant's transports, with short-lived credentials. */
export interface IceServerInfo {
	urls: string[];
	username: string;
	credential: string;
}

/** mediasoup parameter objects travel as plain JSON; mediasoup itself validates their contents. */
export type MediaJson = Record<string, unknown>;

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'expected an id');
const empty = z.strictObject({});
const target = z.strictObject({ participantId: id });
/** A bounded JSON object for mediasoup parameters (the message size limit bounds it further). */
const mediaJson = z.record(z.string().max(64), z.unknown()).refine((o) => Object.keys(o).length <= 32, 'too many keys');

/** Every request: its name, the schema of its data, and (as a type) its reply. */
export const requestSchemas = {
	getState: empty,
	/** A fresh token with the current role, before the old one expires (refused once the session is too old). */
	renewToken: empty,
	/** A new token; every older one of yours stops working (connections holding one close), this connection stays. */
	rotateToken: empty,
	/** Host or co-host: every token of someone of lower rank stops working; they are removed (not banned). */
	revokeTokens: target,
	raiseHand: empty,
	lowerHand: empty,
	/** Your place in the hand queue now (it is sent when you raise, not on every change of the queue). */
	handPosition: empty,
	/** Host or co-host: a page of the raised hands, first raised first, after the hand `after` (a participant id). */
	listHands: z.strictObject({ after: id.optional(), limit: z.number().int().min(1).max(50).optional() }),
	approveHand: target,
	denyHand: target,
	leaveStage: empty,
	demote: target,
	setCoHost: z.strictObject({ participantId: id, cohost: z.boolean() }),
	mute: target,
	unmute: target,
	remove: z.strictObject({ participantId: id, ban: z.boolean(), banAddress: z.boolean().optional() }),
	pin: target,
	unpin: target,
	reorderPins: z.strictObject({ participantIds: z.array(id).max(64) }),
	react: z.strictObject({ reaction: z.enum(reactionKinds) }),
	startSpace: empty,
	endSpace: empty,
	/** Host or co-host: how the space shows captions from now on (the broadcast follows within a snapshot). */
	setCaptionMode: z.strictObject({ captionMode: z.enum(captionModes) }),
	getRouterRtpCapabilities: empty,
	createTransport: z.strictObject({ direction: z.enum(['send', 'recv']) }),
	connectTransport: z.strictObject({ transportId: id, dtlsParameters: mediaJson }),
	/**
	 * Publishes a track. `source` (default: `mic` for audio, `camera` for video): `screen` starts the space's one screen
	 * share (needs the share grant: hosts, co-hosts, and speakers unless the host turned it off; a video space);
	 * `screenAudio` adds the shared tab's sound. While someone else shares, a screen is refused (`conflict`) unless
	 * `replace` is true — the player asks its user first — and the sharer ranks no higher than you (a host or co-host
	 * replaces anyone's share, a speaker only a speaker's).
	 */
	produce: z.strictObject({ transportId: id, kind: z.enum(['audio', 'video']), rtpParameters: mediaJson, source: z.enum(mediaSources).optional(), replace: z.boolean().optional() }),
	closeProducer: z.strictObject({ producerId: id }),
	/** Tells the server what this client can receive; it then sends a `newConsumer` event per stage producer. */
	setRtpCapabilities: z.strictObject({ rtpCapabilities: mediaJson }),
	resumeConsumer: z.strictObject({ consumerId: id }),
	/** Ends the screen share: your own (no `participantId`, or yours), or, as host or co-host, anyone's. */
	stopShare: z.strictObject({ participantId: id.optional() }),
	/** Host or co-host: whether speakers may share a screen (they may by default); turning it off ends a speaker's share. */
	setSharePolicy: z.strictObject({ speakersMayShare: z.boolean() }),
} as const;

export type RequestName = keyof typeof requestSchemas;
export const requestNames = Object.keys(requestSchemas) as RequestName[];
export type RequestData<N extends RequestName> = z.output<(typeof requestSchemas)[N]>;

export interface StateData {
	space: SpaceInfo;
	you: ParticipantInfo;
	stage: ParticipantInfo[];
	pinned: string[];
	/** The first raised hands (at most `handPageSize`), for hosts and co-hosts; empty for everyone else. */
	handQueue: ParticipantInfo[];
	/** Raised hands in all, for hosts and co-hosts (0 for everyone else). */
	handCount: number;
	handRaised: boolean;
	/** Your place in the hand queue (1 = next) while your hand is raised. */
	handPosition: number | null;
	/** The space is about to end on its own (told to those on stage), or null. */
	ending: SpaceEndingData | null;
	listenerCount: number;
	activeSpeaker: string | null;
	/** The screen share on stage now (as the node hosting the stage knows it), or null. */
	screenShare: ShareInfo | null;
	/** Speakers may share a screen (hosts and co-hosts always may). */
	speakersMayShare: boolean;
}

export interface TransportData {
	id: string;
	iceParameters: MediaJson;
	iceCandidates: MediaJson[];
	dtlsParameters: MediaJson;
	/** TURN servers with credentials minted for this participant (short-lived); absent: none configured. */
	iceServers?: IceServerInfo[];
}

type Ok = Record<string, never>;

/** Raised hands a page holds at most (`getState` carries the first one, `listHands` the next ones). */
export const handPageSize = 50;

/** One change of the hand queue: a hand raised (at the end of the queue), or one lowered (by anyone, for any reason). */
export interface HandChangeInfo {
	raised: ParticipantInfo | null;
	lowered: string | null;
}

/** Hand changes one `handQueueChanged` carries at most; more in one tick is a `resync`. */
export const maxHandChanges = 20;

/** A page of the hand queue: `next` is the `after` of the following page, null at the end. */
export interface HandPage {
	hands: ParticipantInfo[];
	/** Raised hands in all. */
	length: number;
	next: string | null;
}

/**
 * Why a live space ends on its own: `idle`, no host or co-host has been connected for `SPACE_IDLE_END_S`;
 * `max_duration`, it has been live for `SPACE_MAX_LIVE_S`.
 */
export type SpaceEndReason = 'idle' | 'max_duration';

export interface SpaceEndingData {
	reason: SpaceEndReason;
	/** When it ends, epoch ms (the server's clock). */
	endsAt: number;
	/** Seconds left when this was sent (a device whose clock is off counts from here). */
	inS: number;
}

/** The reply data of each request. */
export interface ReplyData {
	getState: StateData;
	renewToken: { token: string };
	rotateToken: { token: string };
	revokeTokens: Ok;
	raiseHand: Ok;
	lowerHand: Ok;
	handPosition: { raised: boolean; position: number | null };
	listHands: HandPage;
	approveHand: { participant: ParticipantInfo };
	denyHand: Ok;
	leaveStage: { participant: ParticipantInfo };
	demote: { participant: ParticipantInfo };
	setCoHost: { participant: ParticipantInfo };
	mute: { participant: ParticipantInfo };
	unmute: { participant: ParticipantInfo };
	remove: Ok;
	pin: { pinned: string[] };
	unpin: { pinned: string[] };
	reorderPins: { pinned: string[] };
	react: Ok;
	startSpace: { space: SpaceInfo };
	endSpace: { space: SpaceInfo };
	setCaptionMode: { space: SpaceInfo };
	getRouterRtpCapabilities: { rtpCapabilities: MediaJson };
	createTransport: TransportData;
	connectTransport: Ok;
	produce: { producerId: string };
	closeProducer: Ok;
	setRtpCapabilities: Ok;
	resumeConsumer: Ok;
	stopShare: { share: ShareInfo };
	setSharePolicy: { speakersMayShare: boolean };
}

/** Every server event and its data. */
export interface EventData {
	/**
	 * The crowd's news, from every API node serving the space: at most one per tick (100 ms) per connection, only
	 * when something happened. Replaces per-person join, leave and reaction messages, whose fan-out grew with the
	 * square of the audience.
	 */
	tick: TickData;
	roleChanged: { participant: ParticipantInfo; previousRole: WireRole };
	/** To one participant: their new token after a role change. Use it for reconnects. */
	tokenRenewed: { token: string; role: WireRole };
	/**
	 * To hosts and co-hosts, at most once per tick: the changes of the hand queue since the last one, in order, and its
	 * length after them. Never the queue itself: `getState` has its first page and `listHands` the rest. Past
	 * `maxHandChanges` in a tick, `changes` is empty and `resync` true: read the first page again.
	 */
	handQueueChanged: { changes: HandChangeInfo[]; length: number; resync?: true };
	/**
	 * To the hand's owner when it is raised (`position`, 1 = next) or lowered. A place moves up as others leave the
	 * queue without a message each (`handPosition` asks).
	 */
	handChanged: { raised: boolean; position?: number };
	/** To those on stage: the space will end on its own at `endsAt` unless a host or co-host comes back (`idle`). */
	spaceEnding: SpaceEndingData;
	/** To those on stage: the end announced by `spaceEnding` is off (a host or co-host is back). */
	spaceEndingCancelled: Record<string, never>;
	muteChanged: { participantId: string; mute: WireMute };
	pinnedChanged: { participantIds: string[] };
	activeSpeaker: { participantId: string | null };
	/** To those on stage: speaking loudness, in dBov (-127 silent … 0 loudest); empty when everyone is silent. */
	audioLevels: { levels: { participantId: string; volumeDb: number }[] };
	spaceState: { space: SpaceInfo };
	/** The space's settings changed while it runs (today: its caption mode). */
	spaceSettings: { space: SpaceInfo };
	/**
	 * Live captions, batched per tick, oldest first. A partial is replaced by the cue with the same `id` that follows
	 * it; `final` ones stay. Times are wall-clock epoch ms.
	 */
	caption: { cues: CaptionCueInfo[] };
	/** Removed by a host or co-host; the server closes the connection next. */
	removed: { banned: boolean };
	newConsumer: { consumerId: string; producerId: string; participantId: string; kind: 'audio' | 'video'; source: MediaSource; rtpParameters: MediaJson };
	/**
	 * The screen share started, changed (its tab audio), ended (`ended` says whose and why), or the host switched
	 * whether speakers may share. To everyone in the space.
	 */
	screenShare: { share: ShareInfo | null; speakersMayShare: boolean; ended?: { participantId: string; reason: ShareEndReason } };
	consumerClosed: { consumerId: string };
	/** The media server for this space was replaced: recreate transports, producers and consumers. */
	stageReset: Record<string, never>;
}

/** Names listed per tick: the stage always, listeners up to this many (`joinedCount`/`leftCount` count everyone). */
export const maxTickNames = 20;
/** A reaction kind names who reacted only while this few did so in one tick. */
export const maxReactionNames = 5;

export interface ReactionTally {
	reaction: ReactionKind;
	/** Reactions of this kind in the tick. */
	count: number;
	/** Who reacted, when at most `maxReactionNames` did. */
	participantIds?: string[];
}

/** One tick of crowd news; every field is absent when it has nothing to say. */
export interface TickData {
	/** Who connected: everyone on stage, and listeners up to `maxTickNames`. */
	joined?: ParticipantInfo[];
	/** Everyone who connected, named or not. */
	joinedCount?: number;
	/** Who disconnected (same rule as `joined`). */
	left?: string[];
	leftCount?: number;
	/** Listeners in the space over all nodes, when it changed. */
	listenerCount?: number;
	reactions?: ReactionTally[];
}

export type EventName = keyof EventData;

export interface RequestMessage<N extends RequestName = RequestName> {
	id: number;
	name: N;
	data: RequestData<N>;
}

export type ReplyMessage<N extends RequestName = RequestName> =
	| { id: number; ok: true; data: ReplyData[N] }
	| { id: number | null; ok: false; error: { code: string; message: string } };

export interface EventMessage<N extends EventName = EventName> {
	event: N;
	data: EventData[N];
}

/** The envelope of a request, before its data is checked against the request's own schema. */
export const requestEnvelope = z.strictObject({
	id: z.number().int().min(0).max(2 ** 31 - 1),
	name: z.string().max(64),
	data: z.unknown(),
});
